"""Mount options beyond mount(2)'s flags, as runc 1.1 and crun accept them: the recursive family
(`rro`, `rnosuid`, ... through mount_setattr(2)), propagation, `tmpcopyup` (podman --read-only),
and refusals that name the option (unknown on a bind, `idmap`)."""

from __future__ import annotations

import os
import subprocess

import pytest

from mydocker.runtime.mountopts import PROPAGATION, RECURSIVE


@pytest.fixture
def tree_with_submount(tmp_path):
    """tree/ with a tmpfs mounted at tree/sub (a submount a recursive bind carries along)."""
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "top").write_text("top\n")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "mydocker-test-sub", str(tree / "sub")], check=True)
    try:
        (tree / "sub" / "f").write_text("sub\n")
        yield tree
    finally:
        subprocess.run(["umount", "-l", str(tree / "sub")], check=True)


def _bind(source, options):
    def edit(config):
        config["mounts"].append({"destination": "/data", "type": "bind", "source": str(source), "options": options})
    return edit


WRITES = ("for f in /data/new /data/sub/new; do touch $f 2>/dev/null && echo $f:rw || echo $f:ro; done")


def test_rro_makes_every_submount_read_only(oci, bundle, tree_with_submount):
    rc, out = oci.output(bundle(["sh", "-c", WRITES], _bind(tree_with_submount, ["rbind", "rro"])), "rro")
    assert rc == 0 and out.split() == ["/data/new:ro", "/data/sub/new:ro"], out
    assert not (tree_with_submount / "sub" / "new").exists()


def test_ro_alone_stays_read_only_at_the_top_only(oci, bundle, tree_with_submount):
    """What "ro" means to runc too: the reason the engine asks for "rro" as well."""
    rc, out = oci.output(bundle(["sh", "-c", WRITES], _bind(tree_with_submount, ["rbind", "ro"])), "ro")
    assert out.split() == ["/data/new:ro", "/data/sub/new:rw"], out
    (tree_with_submount / "sub" / "new").unlink()


def _submount_options(out: str) -> list[str]:
    """The per-mount options (and optional fields) of /data/sub in the container's mountinfo."""
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[4] == "/data/sub":
            return fields[5].split(",") + fields[6:fields.index("-")]
    raise AssertionError(f"/data/sub is not mounted:\n{out}")


# option -> what mountinfo shows on the submount when it applies (None: its absence of the flag)
RECURSIVE_SHOWS = {"rro": "ro", "rrw": "rw", "rnosuid": "nosuid", "rsuid": "-nosuid", "rnodev": "nodev",
                   "rdev": "-nodev", "rnoexec": "noexec", "rexec": "-noexec", "rnodiratime": "nodiratime",
                   "rdiratime": "-nodiratime", "rnosymfollow": "nosymfollow", "rsymfollow": "-nosymfollow",
                   "rnoatime": "noatime", "ratime": "relatime", "rrelatime": "relatime",
                   "rnorelatime": "-relatime", "rstrictatime": "-relatime", "rnostrictatime": "relatime"}


def test_every_recursive_option_is_known():
    assert set(RECURSIVE_SHOWS) == set(RECURSIVE)


@pytest.mark.parametrize("option", sorted(RECURSIVE))
def test_recursive_option_reaches_the_submount(oci, bundle, tree_with_submount, option):
    # The opposite first, where there is one, so that the option itself has something to change.
    before = {"rrw": "rro", "rsuid": "rnosuid", "rdev": "rnodev", "rexec": "rnoexec", "rdiratime": "rnodiratime",
              "rsymfollow": "rnosymfollow", "ratime": "rnoatime", "rrelatime": "rnoatime",
              "rnostrictatime": "rstrictatime"}.get(option)
    options = ["rbind", *([before] if before else []), option]
    rc, out = oci.output(bundle(["cat", "/proc/self/mountinfo"], _bind(tree_with_submount, options)), "rec")
    assert rc == 0, out
    shown, wanted = _submount_options(out), RECURSIVE_SHOWS[option]
    if wanted.startswith("-"):
        assert wanted[1:] not in shown, (options, shown)
    else:
        assert wanted in shown, (options, shown)


@pytest.mark.parametrize("option", sorted(PROPAGATION))
def test_propagation_option_is_applied(oci, bundle, tmp_path, option):
    """Each option after "rshared": a shared mount's mountinfo says shared:N; made a slave, private
    or unbindable, it stops being shared (its own peer group was its only master)."""
    source = tmp_path / "src"
    source.mkdir()
    options = ["rbind", "rshared", option]
    rc, out = oci.output(bundle(["cat", "/proc/self/mountinfo"], _bind(source, options)), "prop")
    assert rc == 0, out
    line = next(line.split() for line in out.splitlines() if line.split()[4] == "/data")
    optional = line[6:line.index("-")]
    shared = any(f.startswith("shared:") for f in optional)
    assert shared == option.endswith("shared"), line
    assert ("unbindable" in optional) == option.endswith("unbindable"), line


def test_tmpcopyup_fills_the_tmpfs_with_what_was_there(oci, bundle, busybox_tree):
    """podman --read-only: tmpfs on /tmp, /var/tmp and /run with tmpcopyup."""
    def edit(config):
        config["root"]["readonly"] = True
        config["mounts"].append({"destination": "/bin", "type": "tmpfs", "source": "tmpfs",
                                 "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]})
    script = "ls /bin | wc -l; stat -c %a /bin; touch /bin/new && echo writable; ls -l /bin/sh | cut -c1"
    rc, out = oci.output(bundle(["/bin/sh", "-c", script], edit), "copyup")
    wanted = len(os.listdir(os.path.join(busybox_tree, "bin")))
    mode = oct(os.stat(os.path.join(busybox_tree, "bin")).st_mode & 0o7777)[2:]
    assert rc == 0 and out.split() == [str(wanted), mode, "writable", "l" if os.path.islink(
        os.path.join(busybox_tree, "bin", "sh")) else "-"], out
    assert not os.path.exists(os.path.join(busybox_tree, "bin", "new"))


def test_tmpcopyup_on_a_bind_is_refused_by_name(oci, bundle, tmp_path):
    ran = oci("run", "--bundle", bundle(["true"], _bind(tmp_path, ["rbind", "tmpcopyup"])), "badcopy", rc=1)
    assert "'tmpcopyup' applies to tmpfs mounts only" in ran.err and "mounts[" in ran.err, ran


@pytest.mark.parametrize("option", ["idmap", "ridmap"])
def test_idmap_is_refused_by_name(oci, bundle, tmp_path, option):
    ran = oci("run", "--bundle", bundle(["true"], _bind(tmp_path, ["rbind", option])), "idmap", rc=1)
    assert f"{option!r} asks for idmapped mounts" in ran.err and len(ran.err.strip().splitlines()) == 1, ran


def test_unknown_option_on_a_bind_is_refused_by_name(oci, bundle, tmp_path):
    ran = oci("run", "--bundle", bundle(["true"], _bind(tmp_path, ["rbind", "bogus-opt"])), "bogus", rc=1)
    assert "unknown mount option 'bogus-opt'" in ran.err and len(ran.err.strip().splitlines()) == 1, ran


def test_unknown_option_on_a_filesystem_is_named_when_the_kernel_refuses_it(oci, bundle):
    def edit(config):
        config["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                                 "options": ["nosuid", "bogus-opt"]})
    ran = oci("run", "--bundle", bundle(["true"], edit), "bogusfs", rc=1)
    assert "'bogus-opt'" in ran.err and "/scratch" in ran.err and len(ran.err.strip().splitlines()) == 1, ran


def test_features_lists_the_extensions(oci):
    import json
    listed = set(json.loads(oci("features").out)["mountOptions"])
    assert {"rro", "rnosuid", "tmpcopyup", "rbind", "rslave", "iversion", "silent"} <= listed
    assert not {"idmap", "ridmap"} & listed


# Runs the runtime with mount_setattr(2) answering ENOSYS, as on a kernel before 5.12.
_WITHOUT_MOUNT_SETATTR = """
import os, sys
sys.path.insert(0, sys.argv[1])
from mydocker.runtime import seccomp
profile = {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mount_setattr"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
seccomp.install(seccomp.prepare(profile), False)
os.execv(sys.argv[2], sys.argv[2:])
"""


def test_rro_without_mount_setattr_fails_with_one_clear_line(oci, bundle, tree_with_submount):
    """A kernel without mount_setattr(2) cannot make a bind read-only through: refuse rather than
    give a mount read-only at its top alone."""
    import sys
    from tests.conftest import REPO
    path = bundle(["true"], _bind(tree_with_submount, ["rbind", "ro", "rro"]))
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_MOUNT_SETATTR, REPO, oci.exe, "--root", oci.root,
                           "run", "--bundle", path, "nosetattr"], capture_output=True, text=True, timeout=30)
    oci.ids.add("nosetattr")
    assert proc.returncode == 1, proc
    assert "needs mount_setattr(2), Linux 5.12 or later" in proc.stderr, proc
    assert "the mount on /data asks for rro" in proc.stderr, proc
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
