"""Volumes as a user handles them: -v bind mounts, named volumes, :ro, volume create|ls|inspect|rm|prune."""

from __future__ import annotations

import json
import os

from tests.imagekit import docker_archive, layer_tar


def test_bind_mount_writes_reach_the_host(mydocker, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "in").write_text("from host\n")
    out = mydocker("run", "--rm", "-v", f"{host}:/data", "busybox", "sh", "-c", "cat /data/in; echo x > /data/f").out
    assert out == "from host\n"
    assert (host / "f").read_text() == "x\n"


def test_read_only_is_enforced(mydocker, tmp_path):
    host = tmp_path / "ro"
    host.mkdir()
    err = mydocker("run", "--rm", "-v", f"{host}:/data:ro", "busybox", "touch", "/data/f", rc=1).err
    assert "Read-only file system" in err
    assert not (host / "f").exists()


def test_a_relative_container_path_is_a_clear_error(mydocker, tmp_path):
    # (a missing host path is made, as Docker does: tests/e2e/test_docker_semantics.py)
    assert mydocker("run", "--rm", "-v", "rel:ative", "busybox", "true", rc=125).err.count("\n") == 1


def test_named_volume_survives_rm_and_is_reused(mydocker):
    mydocker("run", "--rm", "-v", "vol1:/cache", "busybox", "sh", "-c", "echo kept > /cache/f")
    assert mydocker("volume", "ls", "-q").out == "vol1\n"
    info = json.loads(mydocker("volume", "inspect", "vol1").out)[0]
    assert info["Name"] == "vol1" and info["Driver"] == "local"
    with open(os.path.join(info["Mountpoint"], "f")) as f:
        assert f.read() == "kept\n"
    assert mydocker("run", "--rm", "-v", "vol1:/other", "busybox", "cat", "/other/f").out == "kept\n"


def test_new_volume_is_filled_from_the_image(mydocker):
    out = mydocker("run", "--rm", "-v", "etcvol:/etc", "busybox", "ls", "/etc").out.split()
    assert {"group", "passwd", "shadow"} <= set(out)
    mountpoint = json.loads(mydocker("volume", "inspect", "etcvol").out)[0]["Mountpoint"]
    assert {"group", "passwd", "shadow"} <= set(os.listdir(mountpoint))
    assert oct(os.stat(os.path.join(mountpoint, "shadow")).st_mode & 0o777) == "0o600"
    # an existing volume with content is not filled again
    mydocker("run", "--rm", "-v", "etcvol:/etc", "busybox", "rm", "/etc/group")
    out = mydocker("run", "--rm", "-v", "etcvol:/etc", "busybox", "ls", "/etc").out.split()
    assert "group" not in out and "passwd" in out
    # the volume's root takes the mount point's owner and mode (/root is 0700 in busybox)
    mydocker("run", "--rm", "-v", "rootvol:/root", "busybox", "true")
    mountpoint = json.loads(mydocker("volume", "inspect", "rootvol").out)[0]["Mountpoint"]
    assert oct(os.stat(mountpoint).st_mode & 0o777) == "0o700"


def test_removal_of_a_volume_in_use_is_refused(mydocker):
    mydocker("volume", "create", "busy")
    mydocker("run", "--name", "user", "-v", "busy:/b", "busybox", "true")
    err = mydocker("volume", "rm", "busy", rc=1).err
    assert "in use by container user" in err
    assert mydocker("volume", "ls", "-q").out == "busy\n"


def test_volume_commands(mydocker):
    assert mydocker("volume", "create", "v1").out == "v1\n"
    assert mydocker("volume", "create", "--label", "team=a", "v2").out == "v2\n"
    anon = mydocker("volume", "create").out.strip()
    assert len(anon) == 64
    assert mydocker("volume", "ls").out.splitlines() == ["DRIVER    VOLUME NAME",
                                                        *sorted(f"local     {n}" for n in (anon, "v1", "v2"))]
    assert json.loads(mydocker("volume", "inspect", "v2").out)[0]["Labels"] == {"team": "a"}
    assert mydocker("volume", "prune", "-f").out == f"Deleted Volumes:\n{anon}\n"   # anonymous only
    assert mydocker("volume", "rm", "v1").out == "v1\n"
    mydocker("volume", "rm", "v1", rc=1)
    mydocker("volume", "rm", "-f", "v1")
    mydocker("volume", "prune", "-a", "-f")
    assert mydocker("volume", "ls", "-q").out == ""
    assert mydocker("volume", "create", "bad/name", rc=1).err.count("\n") == 1


def test_anonymous_volume_of_run_rm_is_removed(mydocker):
    mydocker("run", "--rm", "-v", "/scratch", "busybox", "touch", "/scratch/x")
    assert mydocker("volume", "ls", "-q").out == ""


def test_symlinked_destination_resolves_inside_the_rootfs(mydocker, tmp_path):
    # /data in the image is a symlink to /../../../../srv: it must land on the rootfs's /srv, never the host's
    base = _busybox_layer()
    layer = layer_tar([("dir", "srv"), ("symlink", "data", "/../../../../srv"), ("symlink", "abs", "/etc")])
    (tmp_path / "img.tar").write_bytes(docker_archive([base, layer], ["links:1"]))
    mydocker("load", "-i", str(tmp_path / "img.tar"))
    host = tmp_path / "host"
    host.mkdir()
    (host / "f").write_text("mounted")
    out = mydocker("run", "--rm", "-v", f"{host}:/data", "links:1", "cat", "/srv/f").out
    assert out == "mounted"


def _busybox_layer() -> bytes:
    import io
    from mydocker.image.busybox import build_layer, find_host_busybox
    buf = io.BytesIO()
    build_layer(find_host_busybox(), buf)
    return buf.getvalue()


def test_rm_keeps_anonymous_volumes_unless_v(mydocker):
    # Docker: `rm` leaves a container's anonymous volumes; `rm -v` removes them with it.
    mydocker("run", "--name", "keeps", "-v", "/scratch", "busybox", "true")
    mydocker("rm", "keeps")
    assert len(mydocker("volume", "ls", "-q").out.split()) == 1
    mydocker("volume", "prune", "-f")
    mydocker("run", "--name", "drops", "-v", "/scratch", "busybox", "true")
    mydocker("rm", "-v", "drops")
    assert mydocker("volume", "ls", "-q").out.split() == []


def test_read_only_bind_is_read_only_in_every_submount(mydocker, tmp_path):
    """-v src:dst:ro covers the mounts under src too (Docker 25+: the engine asks for "rro")."""
    import subprocess
    host = tmp_path / "tree"
    (host / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "mydocker-test-sub", str(host / "sub")], check=True)
    try:
        out = mydocker("run", "--rm", "-v", f"{host}:/data:ro", "busybox", "sh", "-c",
                       "touch /data/sub/f 2>/dev/null && echo writable || echo read-only").out
    finally:
        subprocess.run(["umount", "-l", str(host / "sub")], check=True)
    assert out == "read-only\n"


def test_host_root_bound_read_only_has_no_writable_path(mydocker):
    """-v /:/host:ro: nothing under /host is writable: core_pattern (host code execution), the cgroup
    files, /dev, other containers' roots. Files are opened for appending and closed without a byte
    written (busybox's `test -w` says yes to root whatever the mount); every mount under /host must
    be "ro" in mountinfo."""
    files = ["/host/proc/sys/kernel/core_pattern", "/host/sys/fs/cgroup/pids/cgroup.procs",
             "/host/etc/hostname"]
    script = ("for p in " + " ".join(files) + "; do test -f $p || echo missing:$p; "
              "test -f $p && (: >> $p) 2>/dev/null && echo writable:$p; done; "
              "awk '$5 ~ \"^/host(/|$)\" && $6 !~ /(^|,)ro(,|$)/ {print \"rw-mount:\" $5}' /proc/self/mountinfo; "
              "awk '$5 ~ \"^/host/(dev|run|sys/fs/cgroup)(/|$)\"' /proc/self/mountinfo | wc -l")
    out = mydocker("run", "--rm", "-v", "/:/host:ro", "busybox", "sh", "-c", script).out.split()
    assert out[:-1] == [], out
    assert int(out[-1]) >= 3, out  # the host's submounts came along (/dev, /run, the cgroup hierarchies)


def test_read_only_bind_without_mount_setattr_is_refused(mydocker, tmp_path):
    """On a kernel without mount_setattr(2) (before 5.12; here the syscall answers ENOSYS under a
    seccomp filter) `-v ...:ro` fails with one line rather than run with writable submounts."""
    import subprocess
    import sys
    from tests.conformance.test_oci_mount_options import _WITHOUT_MOUNT_SETATTR
    from tests.conftest import REPO
    host = tmp_path / "ro"
    host.mkdir()
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_MOUNT_SETATTR, REPO,
                           *mydocker.argv("run", "--rm", "-v", f"{host}:/data:ro", "busybox", "true")],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 125, proc
    assert "the mount on /data asks for rro" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc
    assert mydocker("ps", "-aq").out == ""
