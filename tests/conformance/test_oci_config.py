"""config.md and config-linux.md: what the container's process sees for each setting."""

from __future__ import annotations

import os
import subprocess

import pytest

CAP_BITS = {"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_ADMIN": 21, "CAP_AUDIT_WRITE": 29}


def mask(*names: str) -> str:
    return f"{sum(1 << CAP_BITS[n] for n in names):016x}"


def test_tmpfs_mount_with_options_and_bind_mount_read_only(oci, bundle, tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "f").write_text("host")

    def mounts(c):
        c["mounts"] += [
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
             "options": ["size=1m", "mode=700", "noexec"]},
            {"destination": "/data", "type": "bind", "source": str(tmp_path / "shared"), "options": ["rbind", "ro"]},
        ]
    code, out = oci.output(bundle(["sh", "-c", "grep -E ' /(scratch|data) ' /proc/self/mountinfo; "
                                              "stat -c %a /scratch; cat /data/f; echo x > /data/f || echo refused"],
                                       mounts), "m")
    assert code == 0, out
    scratch = next(line for line in out.splitlines() if " /scratch " in line)
    assert "noexec" in scratch and "size=1024k" in scratch
    data = next(line for line in out.splitlines() if " /data " in line)
    assert " ro," in data or " ro " in data
    assert "700" in out.split() and "host" in out and "refused" in out
    assert (tmp_path / "shared" / "f").read_text() == "host"


@pytest.mark.parametrize("propagation,tag", [("rshared", "shared:"), ("rslave", "master:"), ("rprivate", None)])
def test_mount_propagation_option(oci, bundle, tmp_path, propagation, tag):
    (tmp_path / "src").mkdir()
    subprocess.run(["mount", "--bind", str(tmp_path / "src"), str(tmp_path / "src")], check=True)
    subprocess.run(["mount", "--make-shared", str(tmp_path / "src")], check=True)
    try:
        b = bundle(["grep", " /prop ", "/proc/self/mountinfo"], lambda c: c["mounts"].append(
            {"destination": "/prop", "type": "bind", "source": str(tmp_path / "src"),
             "options": ["rbind", propagation]}))
        code, out = oci.output(b, f"p{propagation}")
    finally:
        subprocess.run(["umount", "-l", str(tmp_path / "src")], check=True)
    assert code == 0, out
    optional = out.split(" - ")[0].split()[6:]
    if tag:
        assert any(f.startswith(tag) for f in optional), out
    else:
        assert not optional, out


def test_rootfs_readonly_and_propagation(oci, bundle, tmp_path):
    def ro(c):
        c["root"]["readonly"] = True
        c["linux"]["rootfsPropagation"] = "slave"
    code, out = oci.output(bundle(["sh", "-c", "touch /x 2>&1; cat /proc/self/mountinfo"], ro), "ro")
    assert "Read-only file system" in out
    root = next(line.split() for line in out.splitlines() if len(line.split()) > 5 and line.split()[4] == "/")
    assert root[5].split(",")[0] == "ro"
    # slave: no peer group of its own (on a host whose / is shared it would show master:N)
    assert not any(f.startswith("shared:") for f in root[6:root.index("-")]), root


def test_masked_and_readonly_paths(oci, bundle, tmp_path):
    def paths(c):
        c["linux"]["maskedPaths"] = ["/proc/timer_list", "/proc/acpi", "/proc/no-such-path"]
        c["linux"]["readonlyPaths"] = ["/proc/sys", "/proc/sysrq-trigger"]
    code, out = oci.output(bundle(["sh", "-c", "wc -c < /proc/timer_list; ls /proc/acpi | wc -l; "
                                              "echo 1 > /proc/sys/vm/overcommit_memory && echo wrote"],
                                       paths), "mask")
    lines = out.split()
    assert lines[0] == "0" and lines[1] == "0", out
    assert "wrote" not in out and "Read-only" in out


def test_devices_from_the_config_are_created(oci, bundle, tmp_path):
    b = bundle(["stat", "-c", "%t:%T %a %F", "/dev/mydev"], lambda c: c["linux"].update(devices=[
        {"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 0, "gid": 0}]))
    code, out = oci.output(b, "dev")
    assert out.split() == ["1:3", "640", "character", "special", "file"], out


def test_joining_namespaces_by_path(oci, bundle, tmp_path):
    oci("run", "-d", "--bundle", bundle(["sleep", "30"], lambda c: c.update(hostname="first")), "first")
    first = oci.state("first")["pid"]

    def join(c):
        c["linux"]["namespaces"] = [{"type": "uts", "path": f"/proc/{first}/ns/uts"},
                                    {"type": "network", "path": f"/proc/{first}/ns/net"},
                                    {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}]
        c.pop("hostname")
    code, out = oci.output(bundle(["sh", "-c", "hostname; readlink /proc/self/ns/net"], join), "second")
    assert out.split() == ["first", os.readlink(f"/proc/{first}/ns/net")], out


def test_sysctl_is_set_in_the_containers_namespaces(oci, bundle, tmp_path):
    b = bundle(["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shm_rmid_forced"],
               lambda c: c["linux"].update(sysctl={"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"},
                                           readonlyPaths=["/proc/sys"]))
    code, out = oci.output(b, "sysctl")
    assert out.split() == ["1", "1"], out


def test_rlimits(oci, bundle, tmp_path):
    b = bundle(["sh", "-c", "ulimit -Sn; ulimit -Hn; grep 'Max processes' /proc/self/limits"],
               lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 333, "hard": 444},
                                                      {"type": "RLIMIT_NPROC", "soft": 555, "hard": 666}]))
    code, out = oci.output(b, "rl")
    assert out.split()[:2] == ["333", "444"] and "555" in out and "666" in out, out


def test_capabilities_all_five_sets(oci, bundle, tmp_path):
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

    def set_caps(c):
        c["process"]["capabilities"] = {"bounding": caps + ["CAP_AUDIT_WRITE"], "effective": caps,
                                        "permitted": caps, "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
    code, out = oci.output(bundle(["grep", "^Cap", "/proc/self/status"], set_caps), "caps")
    got = dict(line.split(":\t") for line in out.splitlines())
    # after execve as uid 1000: permitted and effective are the ambient set (capabilities(7))
    assert got["CapBnd"] == mask("CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"), out
    assert got["CapInh"] == mask("CAP_KILL") and got["CapAmb"] == mask("CAP_KILL"), out
    assert got["CapPrm"] == mask("CAP_KILL") and got["CapEff"] == mask("CAP_KILL"), out


def test_root_gets_the_bounding_set_and_no_new_privileges(oci, bundle, tmp_path):
    def set_caps(c):
        c["process"]["capabilities"] = {k: ["CAP_CHOWN", "CAP_SYS_ADMIN"]
                                        for k in ("bounding", "effective", "permitted")}
        c["process"]["noNewPrivileges"] = True
    code, out = oci.output(bundle(["grep", "-E", "^(CapEff|CapBnd|NoNewPrivs)", "/proc/self/status"], set_caps),
                           "rootcaps")
    got = dict(line.split(":\t") for line in out.splitlines())
    assert got["CapEff"] == got["CapBnd"] == mask("CAP_CHOWN", "CAP_SYS_ADMIN") and got["NoNewPrivs"] == "1", out


def test_unknown_capability_is_rejected_naming_the_field(oci, bundle):
    b = bundle(["true"], lambda c: c["process"].update(capabilities={"bounding": ["CAP_NOPE"]}))
    assert "process.capabilities.bounding" in oci("create", "--bundle", b, "badcap", rc=1).err


@pytest.fixture
def remapped_tree(busybox_tree):
    """The rootfs owned by host uid 100000, in a directory the container's remapped root can reach."""
    from tests.conftest import remapped_copy
    yield from remapped_copy(busybox_tree, "mydocker-oci-userns-")


def test_uid_gid_mappings_make_a_user_namespace(oci, bundle, tmp_path, remapped_tree):
    def userns(c):
        c["root"]["path"] = remapped_tree
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("sysfs", "cgroup")]
    b = bundle(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"], userns)
    oci("create", "--bundle", b, "userns")
    pid = oci.state("userns")["pid"]
    with open(f"/proc/{pid}/status") as f:
        uid_line = next(line for line in f if line.startswith("Uid:"))
    assert uid_line.split()[1] == "100000"  # root inside is an unprivileged user on the host
    oci("delete", "--force", "userns")
    code, out = oci.output(b, "userns2")
    assert out.split() == ["0", "100000", "65536", "0", "100000", "65536", "0"], out


def test_oom_score_adj(oci, bundle, tmp_path):
    b = bundle(["cat", "/proc/self/oom_score_adj"], lambda c: c["process"].update(oomScoreAdj=123))
    assert oci.output(b, "oom")[1].strip() == "123"


def test_hostname_env_cwd_and_user(oci, bundle, tmp_path):
    def edit(c):
        c["hostname"] = "conformance"
        c["process"].update(cwd="/tmp", env=c["process"]["env"] + ["ANSWER=42"],
                            user={"uid": 1234, "gid": 4321, "additionalGids": [5]})
    code, out = oci.output(bundle(["sh", "-c", "hostname; pwd; echo $ANSWER; id -u; id -g; id -G"], edit),
                           "misc")
    assert out.split() == ["conformance", "/tmp", "42", "1234", "4321", "4321", "5"], out


@pytest.mark.parametrize("edit,field", [
    (lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": -1, "hard": 1}]),
     "process.rlimits[0].soft"),
    (lambda c: c["linux"].update(resources={"memory": {"limit": "64m"}}), "linux.resources.memory.limit"),
    (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}), "linux.namespaces"),
    (lambda c: c.pop("ociVersion"), "ociVersion"),
    (lambda c: c["linux"].update(intelRdt={"closID": "x"}), "linux.intelRdt"),
    (lambda c: c["linux"].update(personality={"domain": "WINDOWS"}), "linux.personality.domain"),
])
def test_invalid_config_is_rejected_naming_the_field(oci, bundle, edit, field):
    err = oci("create", "--bundle", bundle(["true"], edit), "invalid", rc=1).err
    assert field in err and len(err.strip().splitlines()) == 1, err
    assert oci("list", "--format", "json").out.strip() == "null"


def test_personality_linux32(oci, bundle, tmp_path):
    b = bundle(["uname", "-m"], lambda c: c["linux"].update(personality={"domain": "LINUX32"}))
    assert oci.output(b, "pers")[1].strip() in ("i686", "i386")


def test_preserve_fds_reach_the_container(oci, bundle, tmp_path):
    data = tmp_path / "extra"
    data.write_text("through fd 3\n")
    b = bundle(["cat", "/proc/self/fd/3"])
    proc = subprocess.run(["sh", "-c", f'exec 3<"{data}"; exec "$0" --root "$1" run --preserve-fds 1 --bundle "$2" fds',
                           oci.exe, oci.root, b], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert proc.stdout == "through fd 3\n", proc.stderr
