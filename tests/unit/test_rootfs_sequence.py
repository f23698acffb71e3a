"""The rootfs set-up's calls, in order, from an OCI spec, without root: the init's filesystem set-up
runs against a SyscallRecorder (the kernel's side of it stays in tests/conformance and
tests/integration/test_runtime_*.py)."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from mydocker.errors import MyDockerError
from mydocker.linux import syscalls as sc
from mydocker.runtime import init, spec_template
from mydocker.runtime.channel import error_message
from mydocker.runtime.oci_config import Spec
from syscall_recorder import SyscallRecorder

BIND_REC = sc.MS_BIND | sc.MS_REC
NOSUID_NODEV_NOEXEC = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
CGROUP_BINDS = [["cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/c1"], ["memory", "/sys/fs/cgroup/memory/c1"]]


def runc_spec(tmp_path, **changes) -> Spec:
    """`runc spec`'s config.json over a rootfs in tmp_path that holds what the masked and read-only
    paths name (a directory, a file) and lacks the rest."""
    root = tmp_path / "rootfs"
    for directory in ("proc/acpi", "proc/sys", "proc/bus", "sys/firmware"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "proc" / "kcore").touch()
    config = spec_template.example()
    config.update(changes)
    return Spec.from_dict(config, str(tmp_path))


class _Placed:
    """The runtime's news, already here: the binds came with "go"."""

    def cgroupfs_binds(self) -> None:
        return None

    def __call__(self) -> None:
        return None


def set_up(spec: Spec, in_userns: bool = False, calls: SyscallRecorder | None = None, **options) -> SyscallRecorder:
    """What the init does between "go" and "ready" on the filesystem, through a recorder."""
    calls = calls or SyscallRecorder()
    init._setup_system(spec, None, {}, dict(options, cgroup_binds=options.get("cgroup_binds", CGROUP_BINDS)),
                       {"mount", "pid", "ipc", "uts"}, in_userns, placed=_Placed(), calls=calls)
    return calls


def mounts_on(calls: SyscallRecorder, target: str) -> list[tuple]:
    return [c for c in calls.named("mount") if c[2] == target]


def test_runc_spec_is_set_up_in_the_order_the_runtime_spec_gives(tmp_path):
    spec = runc_spec(tmp_path)
    root = spec.root_path
    calls = set_up(spec)
    mounts = calls.named("mount")
    # / first (rslave, runc's default: nothing the container mounts reaches the host), then the
    # rootfs bound onto itself, then config.json's mounts in order.
    assert mounts[0] == ("mount", None, "/", None, sc.MS_SLAVE | sc.MS_REC, None)
    assert mounts[1] == ("mount", root, root, None, BIND_REC, None)
    targets = [m[2] for m in mounts[2:]]
    wanted = [f"{root}{m.destination}" for m in spec.mounts]
    assert [t for t in targets if t in wanted][:len(wanted)] == wanted
    assert mounts_on(calls, f"{root}/dev")[0] == (
        "mount", "tmpfs", f"{root}/dev", "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME, "mode=755,size=65536k")
    assert mounts_on(calls, f"{root}/sys") == [
        ("mount", "sysfs", f"{root}/sys", "sysfs", NOSUID_NODEV_NOEXEC | sc.MS_RDONLY, None)]
    # the cgroup mount on a v1 host: a tmpfs, each hierarchy's own directory bound and made read-only
    assert mounts_on(calls, f"{root}/sys/fs/cgroup/memory") == [
        ("mount", "/sys/fs/cgroup/memory/c1", f"{root}/sys/fs/cgroup/memory", None, BIND_REC, None),
        ("mount", None, f"{root}/sys/fs/cgroup/memory", None,
         NOSUID_NODEV_NOEXEC | sc.MS_RELATIME | sc.MS_RDONLY | sc.MS_BIND | sc.MS_REMOUNT, None)]
    # /dev is the spec's own tmpfs: the default devices are made in it, owned by root
    nodes = {c[1]: c for c in calls.named("mknod")}
    assert set(nodes) == {f"{root}/dev/{name}" for name in ("null", "zero", "full", "random", "urandom", "tty")}
    assert nodes[f"{root}/dev/null"] == ("mknod", f"{root}/dev/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    assert ("chown", f"{root}/dev/tty", 0, 0) in calls.calls
    assert os.readlink(f"{root}/dev/fd") == "/proc/self/fd"
    # pivot_root(".", ".") from inside the rootfs, then the old root (where the fd opened on the host's
    # / now sits) is made a slave, so the detach does not reach the host, and detached lazily
    pivot = calls.index(("pivot_root", ".", "."))
    assert calls.calls[pivot - 1:pivot + 5] == [
        ("chdir", root), ("pivot_root", ".", "."), ("fchdir", "/"),
        ("mount", None, ".", None, sc.MS_SLAVE | sc.MS_REC, None), ("umount2", ".", sc.MNT_DETACH), ("chdir", "/")]
    assert all(m[2].startswith(root) for m in calls.calls[:pivot - 1] if m[0] == "mount" and m[2] != "/")
    after = calls.calls[pivot + 5:]
    # masked paths, now in the container's view: a directory gets a read-only tmpfs, a file /dev/null;
    # a path the rootfs lacks is skipped
    assert after[:2] == [("mount", "tmpfs", "/proc/acpi", "tmpfs", sc.MS_RDONLY, None),
                         ("mount", "/dev/null", "/proc/kcore", None, sc.MS_BIND, None)]
    assert after[2] == ("mount", "tmpfs", "/sys/firmware", "tmpfs", sc.MS_RDONLY, None)
    # read-only paths: bound onto themselves, then remounted read-only, nosuid, nodev, noexec
    # (a path the rootfs lacks: the bind is tried once, fails ENOENT, nothing more)
    readonly = sc.MS_RDONLY | NOSUID_NODEV_NOEXEC | sc.MS_REC | sc.MS_BIND | sc.MS_REMOUNT
    assert after[3:-2] == [("mount", "/proc/bus", "/proc/bus", None, BIND_REC, None),
                           ("mount", None, "/proc/bus", None, readonly, None),
                           ("mount", "/proc/fs", "/proc/fs", None, BIND_REC, None),
                           ("mount", "/proc/irq", "/proc/irq", None, BIND_REC, None),
                           ("mount", "/proc/sys", "/proc/sys", None, BIND_REC, None),
                           ("mount", None, "/proc/sys", None, readonly, None),
                           ("mount", "/proc/sysrq-trigger", "/proc/sysrq-trigger", None, BIND_REC, None)]
    # root.readonly last, then the hostname
    assert after[-2:] == [("mount", None, "/", None, sc.MS_RDONLY | sc.MS_BIND | sc.MS_REMOUNT, None),
                          ("sethostname", "mydocker")]


@pytest.mark.parametrize("propagation,first,after_pivot", [
    ("rprivate", sc.MS_PRIVATE | sc.MS_REC, sc.MS_PRIVATE | sc.MS_REC),
    ("rslave", sc.MS_SLAVE | sc.MS_REC, sc.MS_SLAVE | sc.MS_REC),
    # unbindable would forbid the rootfs bind: private first, unbindable once pivoted
    ("runbindable", sc.MS_PRIVATE | sc.MS_REC, sc.MS_UNBINDABLE | sc.MS_REC),
])
def test_root_propagation_comes_before_the_binds_and_again_after_pivot(tmp_path, propagation, first, after_pivot):
    config = spec_template.example()
    config["linux"]["rootfsPropagation"] = propagation
    spec = runc_spec(tmp_path, linux=config["linux"])
    calls = set_up(spec)
    mounts = calls.named("mount")
    assert mounts[0] == ("mount", None, "/", None, first, None)
    assert mounts[1][1:] == (spec.root_path, spec.root_path, None, BIND_REC, None)
    umount = calls.index(("umount2", ".", sc.MNT_DETACH))
    assert calls.calls[umount + 1:umount + 3] == [("chdir", "/"), ("mount", None, "/", None, after_pivot, None)]


def test_a_read_only_bind_is_bound_then_remounted_with_its_flags(tmp_path):
    source = tmp_path / "data"
    source.mkdir()
    spec = runc_spec(tmp_path, mounts=[
        {"destination": "/data", "type": "bind", "source": str(source), "options": ["rbind", "ro", "nosuid", "nodev"]},
        {"destination": "/rw", "type": "bind", "source": str(source), "options": ["bind"]}])
    calls = set_up(spec)
    dest = f"{spec.root_path}/data"
    assert mounts_on(calls, dest) == [
        ("mount", str(source), dest, None, BIND_REC, None),
        # the first bind ignores the flags; the remount applies them (to this mount only: no MS_REC)
        ("mount", None, dest, None, sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_BIND | sc.MS_REMOUNT, None)]
    rw = f"{spec.root_path}/rw"
    assert mounts_on(calls, rw) == [("mount", str(source), rw, None, sc.MS_BIND, None)]
    assert os.path.isdir(dest)  # the target was made to match the source


def test_in_a_user_namespace_a_remount_keeps_the_flags_the_kernel_locked(tmp_path):
    source = tmp_path / "data"
    source.mkdir()
    spec = runc_spec(tmp_path, mounts=[
        {"destination": "/data", "type": "bind", "source": str(source), "options": ["rbind", "ro"]}])
    calls = SyscallRecorder()
    dest = f"{spec.root_path}/data"
    calls.flags[dest] = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_RDONLY  # inherited: nosuid, nodev locked
    set_up(spec, in_userns=True, calls=calls)
    assert mounts_on(calls, dest)[1] == (
        "mount", None, dest, None, sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_BIND | sc.MS_REMOUNT, None)


def test_rro_sets_read_only_on_every_submount_with_mount_setattr(tmp_path):
    source = tmp_path / "data"
    source.mkdir()
    spec = runc_spec(tmp_path, mounts=[
        {"destination": "/data", "type": "bind", "source": str(source), "options": ["rbind", "rro", "rnosuid"]}])
    calls = set_up(spec)
    dest = f"{spec.root_path}/data"
    setattr_call = ("mount_setattr", dest, sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOSUID, 0, True)  # AT_RECURSIVE
    assert calls.named("mount_setattr") == [setattr_call]
    assert calls.index(setattr_call) == calls.index(("mount", str(source), dest, None, BIND_REC, None)) + 1
    assert len(mounts_on(calls, dest)) == 1  # nothing for mount(2) to remount


def test_rro_without_mount_setattr_names_the_destination(tmp_path):
    source = tmp_path / "data"
    source.mkdir()
    spec = runc_spec(tmp_path, mounts=[
        {"destination": "/data", "type": "bind", "source": str(source), "options": ["rbind", "rro"]}])
    calls = SyscallRecorder()
    calls.fail("mount_setattr", errno.ENOSYS)
    with pytest.raises(MyDockerError, match=r"^the mount on /data asks for rro .*Linux 5\.12"):
        set_up(spec, calls=calls)
    assert not calls.named("pivot_root")
    calls = SyscallRecorder()
    calls.fail("mount_setattr", errno.EPERM)
    with pytest.raises(PermissionError) as failed:
        set_up(spec, calls=calls)
    assert error_message(failed.value)["message"] == (
        f"mount options rro on /data: mount_setattr {spec.root_path}/data: Operation not permitted")


def test_a_failed_mount_is_reported_naming_the_mount(tmp_path):
    spec = runc_spec(tmp_path)
    calls = SyscallRecorder()
    calls.fail("mount", errno.EACCES, fstype="mqueue")
    with pytest.raises(PermissionError) as failed:
        set_up(spec, calls=calls)
    assert error_message(failed.value)["message"] == f"mount mqueue on {spec.root_path}/dev/mqueue: Permission denied"
    assert not calls.named("pivot_root") and not calls.named("sethostname")


def test_options_a_filesystem_refuses_are_named_with_the_filesystem(tmp_path):
    spec = runc_spec(tmp_path, mounts=[{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                                        "options": ["size=1x"]}])
    calls = SyscallRecorder()
    calls.fail("mount", errno.EINVAL, fstype="tmpfs")
    with pytest.raises(OSError, match=r"^\[Errno 22\] mount tmpfs on /scratch: Invalid argument: tmpfs refused "
                                      r"the options 'size=1x'"):
        set_up(spec, calls=calls)


def test_in_a_user_namespace_sysfs_falls_back_to_a_recursive_read_only_bind(tmp_path):
    spec = runc_spec(tmp_path)
    calls = SyscallRecorder()
    calls.fail("mount", errno.EPERM, fstype="sysfs")
    set_up(spec, in_userns=True, calls=calls)
    dest = f"{spec.root_path}/sys"
    assert mounts_on(calls, dest)[1:] == [
        ("mount", "/sys", dest, None, BIND_REC, None),
        ("mount", None, dest, None, NOSUID_NODEV_NOEXEC | sc.MS_RDONLY | sc.MS_BIND | sc.MS_REMOUNT, None)]
    assert calls.named("mount_setattr") == [("mount_setattr", dest, sc.MOUNT_ATTR_RDONLY, 0, True)]


def test_in_a_user_namespace_devices_are_bound_from_the_host_and_devpts_drops_gid(tmp_path):
    spec = runc_spec(tmp_path)
    calls = SyscallRecorder()
    calls.fail("mount", errno.EINVAL, fstype="devpts", data="newinstance,ptmxmode=0666,mode=0620,gid=5")
    set_up(spec, in_userns=True, calls=calls)
    root = spec.root_path
    assert not calls.named("mknod")
    assert ("mount", "/dev/null", f"{root}/dev/null", None, sc.MS_BIND, None) in calls.calls
    assert os.path.isfile(f"{root}/dev/null")  # the bind's target, made empty
    assert mounts_on(calls, f"{root}/dev/pts")[-1] == (
        "mount", "devpts", f"{root}/dev/pts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620")


def test_no_pivot_moves_the_rootfs_over_root_and_chroots(tmp_path):
    spec = runc_spec(tmp_path)
    calls = set_up(spec, no_pivot=True)
    assert not calls.named("pivot_root") and not calls.named("umount2")
    move = calls.index(("mount", spec.root_path, "/", None, sc.MS_MOVE, None))
    assert calls.calls[move - 1:move + 3] == [("chdir", spec.root_path), calls.calls[move], ("chroot", "."),
                                              ("chdir", "/")]
    assert ("mount", "/dev/null", "/proc/kcore", None, sc.MS_BIND, None) in calls.calls[move:]


def test_without_a_mount_namespace_nothing_is_mounted(tmp_path):
    config = spec_template.example()
    config["linux"]["namespaces"] = [{"type": "uts"}]
    spec = runc_spec(tmp_path, linux=config["linux"], mounts=[])
    calls = set_up(spec)
    assert calls.calls == [("chroot", spec.root_path), ("chdir", "/"), ("sethostname", "mydocker")]


def test_the_recorder_offers_what_the_kernel_seam_does():
    real = {name for name in vars(sc.Syscalls) if not name.startswith("_")}
    double = {name for name in vars(SyscallRecorder) if not name.startswith("_")} - {"fail", "named", "index"}
    assert real == double


@pytest.mark.parametrize("name,args", [
    ("mount", ("none", "/nonexistent/mydocker-seam", "tmpfs", 0, None)),
    ("mount", (None, "/nonexistent/mydocker-seam", None, sc.MS_PRIVATE, None)),
    ("umount2", ("/nonexistent/mydocker-seam", sc.MNT_DETACH)),
    ("mount_setattr", ("/nonexistent/mydocker-seam", sc.MOUNT_ATTR_RDONLY, 0, True)),
    ("pivot_root", ("/nonexistent/mydocker-seam", "/nonexistent/mydocker-seam")),
    ("chdir", ("/nonexistent/mydocker-seam",)),
])
def test_a_failure_the_recorder_raises_reads_as_the_kernels(name, args):
    """Each call on a path that does not exist fails (ENOENT, or EPERM without root) and changes
    nothing; the recorder told to fail with that errno must raise the same error."""
    with pytest.raises(OSError) as real:
        getattr(sc.LINUX, name)(*args)
    calls = SyscallRecorder()
    calls.fail(name, real.value.errno)
    with pytest.raises(OSError) as recorded:
        getattr(calls, name)(*args)
    assert (type(recorded.value), str(recorded.value), recorded.value.filename) == \
           (type(real.value), str(real.value), real.value.filename)
