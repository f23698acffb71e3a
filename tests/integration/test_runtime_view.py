"""What a process inside a bundle's container sees: mounts, masked and read-only paths, fds, users."""

from __future__ import annotations

import os
import subprocess

import pytest

from mydocker.linux import syscalls as sc
from mydocker.runtime.create import create
from mydocker.runtime.delete import delete
from mydocker.runtime.process import wait_for_exit
from mydocker.runtime.start import start


@pytest.fixture(autouse=True)
def subreaper():
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    yield


def run_bundle(runtime_root: str, bundle: str, tmp_path) -> tuple[int, str]:
    out_path = tmp_path / f"out-{os.path.basename(bundle)}"
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _, init = create(runtime_root, "view", bundle, stdio=(0, fd, fd))
    finally:
        os.close(fd)
    start(runtime_root, "view")
    code = wait_for_exit(init.pid)
    delete(runtime_root, "view")
    return code, out_path.read_text()


def test_bind_mount_read_only_is_enforced(runtime_root, make_bundle, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "f").write_text("from host\n")

    def add(config):
        config["mounts"].append({"destination": "/data", "type": "bind", "source": str(shared),
                                 "options": ["rbind", "ro"]})
    code, out = run_bundle(runtime_root, make_bundle(
        ["sh", "-c", "cat /data/f; echo x > /data/g && echo wrote || echo refused"], add), tmp_path)
    assert out.splitlines()[0] == "from host"
    assert "refused" in out and not (shared / "g").exists()


def test_mount_destination_symlink_stays_inside_rootfs(runtime_root, make_bundle, tmp_path, busybox_rootfs):
    # a rootfs whose /evil points at the host's /: the bind must land inside the rootfs anyway
    rootfs = tmp_path / "mydocker-rootfs-evil"
    subprocess.run(["cp", "-a", busybox_rootfs, str(rootfs)], check=True)
    os.symlink("/", rootfs / "evil")
    target_on_host = tmp_path / "planted"
    src = tmp_path / "src"
    src.mkdir()

    def add(config):
        config["root"]["readonly"] = False
        config["mounts"].append({"destination": f"/evil{target_on_host}", "type": "bind", "source": str(src),
                                 "options": ["rbind"]})
    bundle = make_bundle(["true"], add)
    os.unlink(os.path.join(bundle, "rootfs"))
    os.symlink(rootfs, os.path.join(bundle, "rootfs"))
    code, _ = run_bundle(runtime_root, bundle, tmp_path)
    assert code == 0
    assert not target_on_host.exists()
    assert (rootfs / str(target_on_host).lstrip("/")).is_dir()


def test_masked_and_readonly_paths(runtime_root, make_bundle, tmp_path):
    script = ("cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l; "
              "(echo 1 >> /proc/sysrq-trigger) 2>/dev/null && echo sysrq-writable || echo sysrq-ro; "
              "(echo 1 >> /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo sys-writable || echo sys-ro; "
              "touch /sys/x 2>/dev/null && echo sysfs-writable || echo sysfs-ro")
    code, out = run_bundle(runtime_root, make_bundle(["sh", "-c", script]), tmp_path)
    assert out.split() == ["0", "0", "sysrq-ro", "sys-ro", "sysfs-ro"]


def test_no_host_fd_reaches_the_container(runtime_root, make_bundle, tmp_path):
    leaky = os.open("/", os.O_RDONLY)  # inheritable on purpose
    os.set_inheritable(leaky, True)
    try:
        code, out = run_bundle(runtime_root, make_bundle(["ls", "/proc/self/fd"]), tmp_path)
    finally:
        os.close(leaky)
    assert sorted(out.split()) == ["0", "1", "2", "3"]  # 3 is ls's own handle on the directory


def test_default_devices_and_readonly_root(runtime_root, make_bundle, tmp_path):
    script = ("for d in null zero full random urandom tty; do test -c /dev/$d && echo -n $d,; done; echo; "
              "ls -l /dev/ptmx | grep -c 'pts/ptmx'; touch /newfile 2>/dev/null && echo root-rw || echo root-ro; "
              "echo hi > /dev/shm/x && cat /dev/shm/x")
    code, out = run_bundle(runtime_root, make_bundle(["sh", "-c", script]), tmp_path)
    assert out.split() == ["null,zero,full,random,urandom,tty,", "1", "root-ro", "hi"]


@pytest.fixture
def remapped_rootfs(busybox_rootfs):
    """A copy of the rootfs owned by host uid 100000 in a directory the remapped root can reach."""
    from tests.conftest import remapped_copy
    yield from remapped_copy(busybox_rootfs, "mydocker-userns-")


def test_user_namespace_root_is_unprivileged_on_the_host(runtime_root, make_bundle, tmp_path, remapped_rootfs):
    def userns(config):
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        config["process"]["args"] = ["sh", "-c", "id -u; cat /proc/self/uid_map; touch /made-by-root"]
        config["root"]["readonly"] = False
    bundle = make_bundle([], userns)
    os.unlink(os.path.join(bundle, "rootfs"))
    os.symlink(remapped_rootfs, os.path.join(bundle, "rootfs"))
    code, out = run_bundle(runtime_root, bundle, tmp_path)
    lines = out.splitlines()
    assert code == 0, out
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]
    # the container's root wrote a file: on the host it belongs to the unprivileged uid
    assert os.stat(os.path.join(remapped_rootfs, "made-by-root")).st_uid == 100000


SYS_VIEW = ("ls /sys/class/net | tr '\\n' ' '; echo; "
            "awk '$5 == \"/sys\"' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1; "
            "awk '$5 ~ \"^/sys(/|$)\" && $6 !~ /^ro(,|$)/ {print \"rw:\" $5}' /proc/self/mountinfo")
REMAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _remapped_bundle(make_bundle, rootfs: str, user: dict, network: dict, args: list[str]) -> str:
    def edit(config):
        config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"] if ns["type"] != "network"]
        config["linux"]["namespaces"] += [user, network]
        config["linux"]["uidMappings"], config["linux"]["gidMappings"] = REMAP, REMAP
        config["process"]["args"] = args
    bundle = make_bundle([], edit)
    os.unlink(os.path.join(bundle, "rootfs"))
    os.symlink(rootfs, os.path.join(bundle, "rootfs"))
    return bundle


def test_new_user_and_network_namespaces_get_their_own_sysfs(runtime_root, make_bundle, tmp_path, remapped_rootfs):
    bundle = _remapped_bundle(make_bundle, remapped_rootfs, {"type": "user"}, {"type": "network"},
                              ["sh", "-c", SYS_VIEW])
    code, out = run_bundle(runtime_root, bundle, tmp_path)
    assert code == 0 and out.splitlines() == ["lo ", "sysfs"], out


def test_joined_user_namespace_owning_the_joined_netns_gets_its_own_sysfs(runtime_root, make_bundle, tmp_path,
                                                                          remapped_rootfs):
    """What the engine gives a --userns remap container: both joined by path, the netns owned by the
    user namespace. The runtime becomes root of the joined user namespace (files it makes during
    set-up failed with EOVERFLOW as the host's root, unmapped there)."""
    from mydocker.engine import userns
    from mydocker.network import netns
    user_path, net_path = str(tmp_path / "mydocker-userns"), str(tmp_path / "mydocker-netns")
    userns.pin({"linux": {"namespaces": [], "uidMappings": REMAP, "gidMappings": REMAP}}, user_path)
    try:
        netns.create(net_path, owner=user_path)
        bundle = _remapped_bundle(make_bundle, remapped_rootfs, {"type": "user", "path": user_path},
                                  {"type": "network", "path": net_path}, ["sh", "-c", SYS_VIEW + "; id -u"])
        code, out = run_bundle(runtime_root, bundle, tmp_path)
    finally:
        netns.remove(net_path)
        userns.remove(user_path)
    assert code == 0 and out.splitlines() == ["lo ", "sysfs", "0"], out


def test_user_namespace_in_a_host_owned_netns_gets_the_hosts_sys_read_only(runtime_root, make_bundle, tmp_path,
                                                                           remapped_rootfs):
    """No sysfs can be mounted for a netns the host's user namespace owns: the host's /sys is bound,
    read-only in every submount (the cgroup hierarchies under it were left writable)."""
    from mydocker.network import netns
    net_path = str(tmp_path / "mydocker-netns")
    netns.create(net_path)
    try:
        bundle = _remapped_bundle(make_bundle, remapped_rootfs, {"type": "user"},
                                  {"type": "network", "path": net_path}, ["sh", "-c", SYS_VIEW])
        code, out = run_bundle(runtime_root, bundle, tmp_path)
    finally:
        netns.remove(net_path)
    lines = out.splitlines()
    assert code == 0 and lines[1] == "sysfs" and lines[2:] == [], out
