"""`--mount` (bind, volume, tmpfs) and `--tmpfs` with Docker's syntax, defaults and messages."""

from __future__ import annotations

import json
import subprocess


def test_mount_bind_reads_and_writes_the_host(mydocker, tmp_path):
    (tmp_path / "in").write_text("hello\n")
    out = mydocker("run", "--rm", "--mount", f"type=bind,source={tmp_path},target=/data", "busybox",
                   "sh", "-c", "cat /data/in; echo out > /data/out").out
    assert out == "hello\n" and (tmp_path / "out").read_text() == "out\n"


def test_mount_bind_missing_source_is_refused_as_docker_does(mydocker, tmp_path):
    err = mydocker("run", "--rm", "--mount", f"type=bind,src={tmp_path}/nope,dst=/data", "busybox", "true", rc=125).err
    assert f'invalid mount config for type "bind": bind source path does not exist: {tmp_path}/nope' in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "nope").exists()
    assert mydocker("ps", "-a", "-q").out == ""


def test_mount_bad_input_is_one_line(mydocker, tmp_path):
    for spec, words in [("type=bind,target=/x", "field Source must not be empty"),
                        (f"type=bind,source={tmp_path}", "field Target must not be empty"),
                        ("type=floppy,target=/x", "invalid mount type"),
                        ("type=tmpfs,source=x,target=/x", "field Source must not be specified"),
                        ("type=volume,target=/x,colour=red", "unexpected key 'colour'"),
                        (f"type=bind,source={tmp_path},target=/x,bind-propagation=sideways", "propagation")]:
        err = mydocker("run", "--rm", "--mount", spec, "busybox", "true", rc=125).err
        assert words in err and len(err.strip().splitlines()) == 1, err
    assert mydocker("ps", "-a", "-q").out == ""


def test_mount_readonly_bind_is_recursively_read_only(mydocker, tmp_path):
    """A submount under the bind source is read-only in the container too (rro), as with -v :ro."""
    sub = tmp_path / "sub"
    sub.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(sub)], check=True)
    try:
        spec = f"type=bind,source={tmp_path},target=/data,readonly"
        res = mydocker("run", "--rm", "--mount", spec, "busybox",
                       "sh", "-c", "touch /data/f; touch /data/sub/f; grep ' /data' /proc/self/mounts", rc=None)
        text = res.out + res.err
        assert text.count("Read-only file system") == 2, text
        assert " /data/sub tmpfs ro," in text, text
        assert not (tmp_path / "f").exists() and not (sub / "f").exists()
        cid = mydocker("create", "--mount", spec, "busybox", "true").out.strip()
        host = json.loads(mydocker("inspect", cid).out)[0]["HostConfig"]
        assert host["Mounts"] == [{"Type": "bind", "Source": str(tmp_path), "Target": "/data", "ReadOnly": True}]
        mydocker("rm", cid)
    finally:
        subprocess.run(["umount", str(sub)], check=True)


def test_mount_volume_named_and_nocopy(mydocker):
    mydocker("run", "--rm", "--mount", "type=volume,source=mvol,target=/etc,volume-label=made=by-mount",
             "busybox", "true")
    info = json.loads(mydocker("volume", "inspect", "mvol").out)[0]
    assert info["Labels"] == {"made": "by-mount"}
    assert "passwd" in mydocker("run", "--rm", "--mount", "source=mvol,target=/x", "busybox", "ls", "/x").out
    out = mydocker("run", "--rm", "--mount", "type=volume,src=empty,dst=/etc,volume-nocopy", "busybox",
                   "ls", "/etc").out
    assert "passwd" not in out  # only the engine's own /etc files (hosts, hostname, resolv.conf)
    err = mydocker("run", "--rm", "--mount", "type=volume,src=mvol,dst=/x,readonly", "busybox",
                   "touch", "/x/f", rc=1).err
    assert "Read-only file system" in err
    mydocker("volume", "rm", "mvol", "empty")


def test_mount_tmpfs_size_and_mode(mydocker):
    out = mydocker("run", "--rm", "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770", "busybox",
                   "sh", "-c", "grep ' /scratch ' /proc/self/mounts; stat -c %a /scratch").out
    line, mode = out.splitlines()
    assert line.startswith("tmpfs /scratch tmpfs rw,nosuid,nodev,noexec") and "size=1024k" in line, line
    assert mode == "1770"


def test_tmpfs_flag_defaults_and_options(mydocker):
    out = mydocker("run", "--rm", "--tmpfs", "/run", "--tmpfs", "/x:exec,size=2m,mode=700", "busybox",
                   "sh", "-c", "grep -E ' /(run|x) ' /proc/self/mounts; stat -c %a /x; "
                   "for d in /x /run; do printf '#!/bin/sh\\necho exec-ok\\n' > $d/t; chmod +x $d/t; "
                   "$d/t || echo noexec; done").out
    lines = out.splitlines()
    run_line = next(line for line in lines if " /run " in line)
    x_line = next(line for line in lines if " /x " in line)
    assert "nosuid,nodev,noexec" in run_line, run_line
    assert "noexec" not in x_line and "size=2048k" in x_line, x_line
    assert "700" in lines and "exec-ok" in lines and "noexec" in lines, out
    err = mydocker("run", "--rm", "--tmpfs", "/y:bogus", "busybox", "true", rc=125).err
    assert "invalid tmpfs option 'bogus'" in err and len(err.strip().splitlines()) == 1
    err = mydocker("run", "--rm", "--tmpfs", "/y", "--mount", "type=tmpfs,dst=/y", "busybox", "true", rc=125).err
    assert "duplicate mount point" in err
