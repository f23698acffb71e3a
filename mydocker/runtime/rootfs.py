"""Build the container's filesystem view inside its new mount namespace (runs in the init).

Order follows the runtime spec: make / private, bind the rootfs onto itself, mount config.json's
mounts in order, create /dev nodes, pivot_root and detach the old root, then masked and read-only
paths and a read-only root.

Every call that needs privilege or changes the mount table goes through `calls` (the kernel by
default; tests/unit/test_rootfs_sequence.py hands in a recording one).
"""

from __future__ import annotations

import errno
import os
import stat

from mydocker.errors import MyDockerError
from mydocker.linux import syscalls as sc
from mydocker.linux.fs import copy_tree
from mydocker.linux.syscalls import LINUX, Syscalls
from mydocker.runtime.mountopts import PROPAGATION, RECURSIVE, REMOUNT_FLAGS, MountOptions, parse_options
from mydocker.runtime.paths import secure_join
from mydocker.runtime.oci_config import Mount, Spec

# What runtime-spec "Default Devices" requires in every container.
DEFAULT_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                   ("urandom", 1, 9), ("tty", 5, 0))
_DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
              ("stderr", "/proc/self/fd/2"))
# Flags the kernel locks on mounts inherited into a user namespace; a remount must keep them.
_LOCKED = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC


def prepare_root(spec: Spec, calls: Syscalls = LINUX) -> None:
    """Make mount events stay inside the container, then bind the rootfs so it is a mount point."""
    # runc's default is rslave: the host's mount events still reach the container, never the reverse.
    propagation = PROPAGATION.get(spec.linux.rootfs_propagation or "", sc.MS_SLAVE | sc.MS_REC)
    if propagation & sc.MS_UNBINDABLE:  # the rootfs could not be bound: private now, unbindable after pivot
        propagation = sc.MS_PRIVATE | (propagation & sc.MS_REC)
    calls.mount(None, "/", None, propagation)
    # runc: a shared parent would carry the rootfs bind (and every mount under it) back to the host,
    # and pivot_root (like MS_MOVE) refuses one; make it private. After a recursive slave/private
    # nothing is shared, so the mountinfo read is skipped on the default path.
    if propagation & sc.MS_SHARED or not propagation & sc.MS_REC:
        point, shared = parent_mount(spec.root_path)
        if shared:
            calls.mount(None, point, None, sc.MS_PRIVATE)
    calls.mount(spec.root_path, spec.root_path, None, sc.MS_BIND | sc.MS_REC)


def parent_mount(path: str, mountinfo: str = "/proc/self/mountinfo") -> tuple[str, bool]:
    """The mount point holding `path` (the path itself if it is one) and whether that mount is shared."""
    path = os.path.realpath(path)
    best, shared = "/", False
    with open(mountinfo) as f:
        for line in f:
            fields = line.split()
            point = _unescape(fields[4])
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best = point  # the later of two mounts on one point is the one on top
                shared = any(f.startswith("shared:") for f in fields[6:fields.index("-")])
    return best, shared


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as \\ooo (octal)."""
    head, *rest = field.split("\\")
    return head + "".join(chr(int(part[:3], 8)) + part[3:] for part in rest)


def mount_all(spec: Spec, in_userns: bool, before_cgroupfs=None, cgroup_binds: list | None = None,
              calls: Syscalls = LINUX) -> None:
    """config.json's mounts in order. A cgroup mount shows the container's own cgroup directories:
    `cgroup_binds` ([name, host dir] per v1 hierarchy, from the runtime) are bound even before the
    init joins them; without them, `before_cgroupfs()` first waits for them (until the cgroups exist,
    or, on cgroup2, until the init has been placed) and returns them (None: the init reads its own)."""
    for entry in spec.mounts:
        if entry.type in ("cgroup", "cgroup2") and not cgroup_binds and before_cgroupfs:
            cgroup_binds = before_cgroupfs()
        mount_entry(spec.root_path, entry, in_userns, cgroup_binds, calls)
    if _owns_dev(spec):
        create_devices(spec.root_path, spec.linux.devices, in_userns, calls)


def mount_entry(root: str, entry: Mount, in_userns: bool, cgroup_binds: list | None = None,
                calls: Syscalls = LINUX) -> None:
    opts = parse_options(entry.options)
    dest = secure_join(root, entry.destination)
    kind = entry.type or ("bind" if opts.is_bind else None)
    if opts.is_bind or kind == "bind":
        _bind(entry.source or "", dest, opts.flags | sc.MS_BIND, in_userns, calls)
    elif kind in ("cgroup", "cgroup2"):
        _mount_cgroupfs(dest, opts.flags, cgroup_binds, calls)
    else:
        os.makedirs(dest, exist_ok=True)
        _mount_fs(entry, dest, opts, in_userns, calls)
    for flag in opts.propagation or ():
        calls.mount(None, dest, None, flag)
    if opts.recursive:
        set_tree_attributes(dest, opts.attr_set, opts.attr_clr, entry.options, entry.destination, calls)


def set_tree_attributes(dest: str, attr_set: int, attr_clr: int, options: list[str], shown: str,
                        calls: Syscalls = LINUX) -> None:
    """The recursive options (rro, rnosuid, ...): on the mount at `dest` and on every mount below it.
    `shown`: the destination as the container sees it, for messages."""
    try:
        calls.mount_setattr(dest, attr_set, attr_clr, recursive=True)
    except OSError as e:
        wanted = ",".join(o for o in options if o in RECURSIVE)
        if e.errno == errno.ENOSYS:
            raise MyDockerError(f"the mount on {shown} asks for {wanted} (every submount too), which needs "
                                "mount_setattr(2), Linux 5.12 or later: this kernel lacks it; upgrade the "
                                "kernel rather than have the mount less protected than asked") from None
        raise OSError(e.errno, f"mount options {wanted} on {shown}: {e.strerror}", dest) from None


def _bind(source: str, dest: str, flags: int, in_userns: bool, calls: Syscalls) -> None:
    if not os.path.exists(source):
        raise OSError(errno.ENOENT, f"bind source {source} does not exist", source)
    _make_target(dest, directory=os.path.isdir(source))
    calls.mount(source, dest, None, flags & (sc.MS_BIND | sc.MS_REC))
    if flags & REMOUNT_FLAGS:
        _remount(dest, flags & ~sc.MS_REC, in_userns, calls)


def _remount(dest: str, flags: int, in_userns: bool, calls: Syscalls) -> None:
    if in_userns:
        flags |= calls.statvfs(dest).f_flag & _LOCKED
    calls.mount(None, dest, None, flags | sc.MS_BIND | sc.MS_REMOUNT)


def _mount_fs(entry: Mount, dest: str, opts: MountOptions, in_userns: bool, calls: Syscalls) -> None:
    source = entry.source or entry.type or "none"
    flags, data = opts.flags, opts.data
    # tmpcopyup: this fd still reaches the directory once the tmpfs hides it
    hidden = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) if opts.tmpcopyup else -1
    try:
        calls.mount(source, dest, entry.type, flags, data or None)
        if hidden >= 0:
            _copy_up(hidden, dest, explicit_mode="mode=" in data)
    except OSError as e:
        if entry.type == "sysfs" and e.errno == errno.EPERM and in_userns:
            # A user namespace whose netns the host's user namespace owns may not mount sysfs: bind
            # the host's, read-only through and through (its submounts: cgroupfs, debugfs, ...).
            calls.mount("/sys", dest, None, sc.MS_BIND | sc.MS_REC)
            _remount(dest, flags, in_userns, calls)
            if flags & sc.MS_RDONLY:
                set_tree_attributes(dest, sc.MOUNT_ATTR_RDONLY, 0, ["rro"], entry.destination, calls)
        elif entry.type == "devpts" and e.errno == errno.EINVAL and "gid=" in data:
            # gid 5 (tty) may not be mapped in a user namespace.
            kept = ",".join(o for o in data.split(",") if not o.startswith("gid="))
            calls.mount(source, dest, entry.type, flags, kept or None)
        elif entry.type == "mqueue" and e.errno == errno.EPERM:
            # Sharing the host's IPC namespace from a user namespace: bind the host's mqueue.
            calls.mount("/dev/mqueue", dest, None, sc.MS_BIND | sc.MS_REC)
        elif e.errno == errno.EINVAL and data and e.filename == dest:
            raise OSError(e.errno, f"mount {entry.type} on {entry.destination}: Invalid argument: {entry.type} "
                                   f"refused the options {data!r} (what is not a mount flag goes to the "
                                   f"filesystem): check each is one {entry.type} accepts", dest) from None
        else:
            raise
    finally:
        if hidden >= 0:
            os.close(hidden)


def _copy_up(hidden: int, dest: str, explicit_mode: bool) -> None:
    """runc's tmpcopyup: the new tmpfs starts with what the directory under it held (and, unless
    mode= says otherwise, that directory's owner and mode)."""
    copy_tree(hidden, dest)
    st = os.fstat(hidden)
    if not explicit_mode:
        os.chmod(dest, st.st_mode & 0o7777)
    try:
        os.chown(dest, st.st_uid, st.st_gid)
    except OSError:
        pass  # an owner unmapped in our user namespace: the tmpfs keeps ours


def _mount_cgroupfs(dest: str, flags: int, binds: list | None, calls: Syscalls) -> None:
    """Show the container its own cgroups, read-only unless asked otherwise.

    On cgroup v2 this is a cgroup2 mount. On v1 and hybrid hosts it is a tmpfs with one bind mount
    per hierarchy of the init's own cgroup directory (the init is already placed in its cgroups).
    """
    os.makedirs(dest, exist_ok=True)
    hierarchies = dict(binds) if binds else _own_cgroup_dirs()
    if list(hierarchies) == [""]:
        calls.mount("cgroup2", dest, "cgroup2", flags)
        return
    calls.mount("tmpfs", dest, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, "mode=755")
    for name, host_dir in hierarchies.items():
        if not binds and not os.path.isdir(host_dir):
            continue  # our own cgroup (a rootless container has none of its own) out of this mount's sight
        target = os.path.join(dest, name or "unified")
        os.makedirs(target, exist_ok=True)
        calls.mount(host_dir, target, None, sc.MS_BIND | sc.MS_REC)
        _remount(target, flags | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, False, calls)
    if flags & sc.MS_RDONLY:
        _remount(dest, flags | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, False, calls)


def _own_cgroup_dirs() -> dict[str, str]:
    """Map each mounted hierarchy (its mount point's name, "" for cgroup2) to our cgroup dir there."""
    own: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _id, controllers, path = line.rstrip("\n").split(":", 2)
            own[controllers.replace("name=", "")] = path
    found: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3].split(",")
            if fstype == "cgroup2":
                key = ""
            elif fstype == "cgroup":
                key = ",".join(o.replace("name=", "") for o in options
                               if o not in ("rw", "ro") and not o.startswith(("relatime", "release_agent")))
            else:
                continue
            if key in own:
                name = "" if key == "" and len(own) == 1 else os.path.basename(fields[4])
                mount_root = fields[3]
                rel = os.path.relpath(own[key], mount_root) if own[key].startswith(mount_root) else "."
                # The first: the host's. A /sys bound into the rootfs (sysfs refused) repeats each
                # hierarchy under the rootfs, where the tmpfs about to be mounted hides it.
                found.setdefault(name, os.path.normpath(os.path.join(fields[4], rel)))
    return found


def _owns_dev(spec: Spec) -> bool:
    return any(m.destination == "/dev" and m.type != "bind" and "bind" not in m.options
               and "rbind" not in m.options for m in spec.mounts)


def create_devices(root: str, devices: list[dict], in_userns: bool, calls: Syscalls = LINUX) -> None:
    dev = os.path.join(root, "dev")
    old_umask = os.umask(0)
    try:
        wanted = [{"path": f"/dev/{name}", "type": "c", "major": major, "minor": minor, "fileMode": 0o666}
                  for name, major, minor in DEFAULT_DEVICES]
        wanted += devices
        for device in wanted:
            _make_device(root, device, in_userns, calls)
        for name, target in _DEV_LINKS:
            _symlink(target, os.path.join(dev, name))
        if os.path.isdir(os.path.join(dev, "pts")):
            _symlink("pts/ptmx", os.path.join(dev, "ptmx"))
        if os.path.exists("/proc/kcore"):
            _symlink("/proc/kcore", os.path.join(dev, "core"))
    finally:
        os.umask(old_umask)


def _make_device(root: str, device: dict, in_userns: bool, calls: Syscalls) -> None:
    path = secure_join(root, device["path"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if in_userns:  # mknod is not allowed in a user namespace: bind the host's node instead
        _make_target(path, directory=False)
        calls.mount(device["path"], path, None, sc.MS_BIND)
        return
    kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[device["type"]]
    mode = device.get("fileMode", 0o666) & 0o7777
    if os.path.lexists(path):
        os.unlink(path)
    calls.mknod(path, kind | mode, os.makedev(device.get("major", 0), device.get("minor", 0)))
    calls.chown(path, device.get("uid", 0), device.get("gid", 0))


def _make_target(path: str, directory: bool) -> None:
    if directory:
        os.makedirs(path, exist_ok=True)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def _symlink(target: str, path: str) -> None:
    try:
        os.symlink(target, path)
    except FileExistsError:
        pass


def pivot_to(root: str, calls: Syscalls = LINUX) -> None:
    """pivot_root into root and detach the old root (runc's pivot_root(".", ".") trick)."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        calls.chdir(root)
        calls.pivot_root(".", ".")
        calls.fchdir(old_root)
        # Keep the detach from propagating to the host's mounts.
        calls.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        calls.umount2(".", sc.MNT_DETACH)
    finally:
        os.close(old_root)
    calls.chdir("/")


def root_propagation(spec: Spec, calls: Syscalls = LINUX) -> None:
    """linux.rootfsPropagation on the new / (runc re-applies it after pivot_root too)."""
    if spec.linux.rootfs_propagation in PROPAGATION:
        calls.mount(None, "/", None, PROPAGATION[spec.linux.rootfs_propagation])


def move_to(root: str, calls: Syscalls = LINUX) -> None:
    """--no-pivot: move the rootfs over / and chroot (for a rootfs on ramfs, where pivot_root fails)."""
    calls.chdir(root)
    calls.mount(root, "/", None, sc.MS_MOVE)
    calls.chroot(".")
    calls.chdir("/")


def mask_paths(paths: list[str], calls: Syscalls = LINUX) -> None:
    for path in paths:
        try:
            is_dir = stat.S_ISDIR(calls.stat(path).st_mode)
        except FileNotFoundError:
            continue
        if is_dir:
            calls.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
        else:
            calls.mount("/dev/null", path, None, sc.MS_BIND)


def readonly_paths(paths: list[str], in_userns: bool, calls: Syscalls = LINUX) -> None:
    for path in paths:
        try:
            calls.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        except FileNotFoundError:
            continue
        _remount(path, sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_REC, in_userns, calls)


def readonly_root(in_userns: bool, calls: Syscalls = LINUX) -> None:
    _remount("/", sc.MS_RDONLY, in_userns, calls)
