"""Container root filesystems: image layers below, a writable layer on top.

Two drivers, chosen automatically:
- overlay: layers as lowerdirs, <container>/{upper,work} on top. mount(2) options are limited to
  one page, which 64-hex layer paths overflow at about 50 layers, so lowerdirs are given as short
  relative links (<store>/l/<12 hex> -> ../layers/<hex>, as Docker's overlay2 does) with the
  mount made from inside <store>; that fits several hundred layers.
- vfs: where overlay cannot be mounted (no module, an unsupported backing filesystem) the layers
  are copied into <container>/rootfs, whiteouts applied. Slow, but works anywhere.
"""

from __future__ import annotations

import errno
import os
import stat

from mydocker.errors import RuntimeFailure
from mydocker.lazy import lazy_module
from mydocker.linux import syscalls as sc

image_layer = lazy_module("mydocker.image.layer")
shutil = lazy_module("shutil")
tempfile = lazy_module("tempfile")

SHORT = 12
_DRIVER_FILE = "driver"
FORCE_ENV = "MYDOCKER_STORAGE_DRIVER"   # "vfs" or "overlay": for tests and odd hosts


def _links_for(lowers: list[str]) -> tuple[str, list[str]]:
    """(directory to mount from, short relative names of `lowers`)."""
    store = os.path.dirname(os.path.dirname(lowers[0]))
    links = os.path.join(store, "l")
    os.makedirs(links, exist_ok=True)
    names = []
    for lower in lowers:
        layer = os.path.basename(lower)
        short = os.path.join(links, layer[:SHORT])
        wanted = os.path.join("..", os.path.basename(os.path.dirname(lower)), layer)
        try:
            os.symlink(wanted, short)
        except FileExistsError:
            if os.readlink(short) != wanted:  # a 48-bit prefix collision: use the full name
                short = os.path.join(links, layer)
                if not os.path.lexists(short):
                    os.symlink(wanted, short)
        names.append(os.path.relpath(short, store))
    return store, names


def mount_overlay(lowers: list[str], upper: str | None, work: str | None, target: str,
                  top: tuple[str, ...] = (), flags: int = 0, volatile: bool = False) -> None:
    """Mount `lowers` (bottom to top, image layers) under `top` (absolute dirs, topmost first) and
    `upper`; without `upper` the mount is read-only. `volatile`: see prepare."""
    store, names = _links_for(lowers)
    # overlay lists the topmost lower first
    options = f"lowerdir={':'.join([*top, *reversed(names)])}"
    if upper:
        options += f",upperdir={upper},workdir={work}" + (",volatile" if volatile else "")
    if len(options) >= 4096:  # the kernel would silently cut the list at one page
        raise RuntimeFailure(f"the image has too many layers ({len(lowers)}) for one overlay mount: "
                             "squash it (export and import) or flatten it")
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.chdir(store)
        sc.mount("overlay", target, "overlay", flags if upper else flags | sc.MS_RDONLY, options)
    finally:
        os.fchdir(cwd)
        os.close(cwd)


def prepare(lowers: list[str], container_dir: str, volatile: bool = False) -> str:
    """Make <container_dir>/rootfs the merged view of `lowers` (bottom to top) plus a writable layer.

    `volatile` (a container removed when it exits, as podman does for `run --rm`): overlay's
    volatile option, so that the mount never syncs the upper filesystem; without it the unmount
    syncs the whole filesystem holding the upper layer (~1 ms median, 5-25 ms when the host writes:
    docs/startup.md). Such a layer cannot be mounted again (overlay marks its work directory)."""
    upper, work, target = (os.path.join(container_dir, d) for d in ("upper", "work", "rootfs"))
    for path in (upper, work, target):
        os.makedirs(path, exist_ok=True)
    driver = os.environ.get(FORCE_ENV) or _recorded(container_dir) or "overlay"
    if driver == "overlay":
        if os.path.isdir(os.path.join(work, "work", "incompat", "volatile")):
            raise RuntimeFailure(f"the writable layer in {container_dir} was mounted volatile (the container was "
                                 "started to be removed on exit) and may be incomplete: remove the container")
        try:
            if not lowers:
                lowers = [_empty_layer(container_dir)]
            try:
                mount_overlay(lowers, upper, work, target, volatile=volatile)
            except OSError as e:
                if not volatile or e.errno != errno.EINVAL:
                    raise
                mount_overlay(lowers, upper, work, target)  # a kernel before 5.10: no volatile option
            return target
        except OSError as e:
            if os.environ.get(FORCE_ENV) == "overlay" or e.errno not in (errno.ENODEV, errno.EINVAL,
                                                                          errno.EOPNOTSUPP, errno.EPERM):
                raise
    _record(container_dir, "vfs")
    if not os.listdir(target):
        for lower in lowers:
            copy_layer(lower, target)
    return target


def driver_of(container_dir: str) -> str:
    return _recorded(container_dir) or "overlay"


def writable_dir(container_dir: str) -> str:
    """Where the container's changes are: overlay's upper, or (vfs) the whole rootfs."""
    sub = "rootfs" if driver_of(container_dir) == "vfs" else "upper"
    return os.path.join(container_dir, sub)


def _recorded(container_dir: str) -> str | None:
    try:
        with open(os.path.join(container_dir, _DRIVER_FILE)) as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def _record(container_dir: str, driver: str) -> None:
    with open(os.path.join(container_dir, _DRIVER_FILE), "w") as f:
        f.write(driver)


def _empty_layer(container_dir: str) -> str:
    path = os.path.join(container_dir, "empty")
    os.makedirs(path, exist_ok=True)
    return path


def copy_layer(layer: str, target: str) -> None:
    """Apply an unpacked layer (overlay form) on top of `target` by copying (the vfs driver)."""
    linked: dict[tuple[int, int], str] = {}  # hard links stay hard links
    for top, dirs, files in os.walk(layer):
        rel = os.path.relpath(top, layer)
        dest_dir = os.path.normpath(os.path.join(target, rel))
        for name in dirs + files:
            src, dst = os.path.join(top, name), os.path.join(dest_dir, name)
            st = os.lstat(src)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                _remove(dst)
                continue
            if stat.S_ISDIR(st.st_mode):
                if os.path.lexists(dst) and not (os.path.isdir(dst) and not os.path.islink(dst)):
                    _remove(dst)
                opaque = _getxattr(src, image_layer.OPAQUE_XATTR) == b"y"
                if opaque and os.path.isdir(dst):
                    for child in os.listdir(dst):
                        _remove(os.path.join(dst, child))
                os.makedirs(dst, exist_ok=True)
                _copy_meta(src, dst, st)
            else:
                _remove(dst)
                first = linked.get((st.st_dev, st.st_ino)) if st.st_nlink > 1 else None
                if first:
                    os.link(first, dst)
                    continue
                _copy_file(src, dst, st)
                if st.st_nlink > 1:
                    linked[(st.st_dev, st.st_ino)] = dst


def _copy_file(src: str, dst: str, st: os.stat_result) -> None:
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
    else:
        os.mknod(dst, st.st_mode, st.st_rdev)
    _copy_meta(src, dst, st)


def _copy_meta(src: str, dst: str, st: os.stat_result) -> None:
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    for name in _listxattr(src):
        if not name.startswith("trusted.overlay."):
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _listxattr(path: str) -> list[str]:
    try:
        return os.listxattr(path, follow_symlinks=False)
    except OSError:
        return []


def _getxattr(path: str, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def probe(directory: str) -> str:
    """The driver this host gives containers under `directory`: "overlay" if a test mount works."""
    forced = os.environ.get(FORCE_ENV)
    if forced:
        return forced
    os.makedirs(directory, exist_ok=True)
    base = tempfile.mkdtemp(prefix=".probe-", dir=directory)
    try:
        dirs = [os.path.join(base, d) for d in ("lower", "upper", "work", "merged")]
        for d in dirs:
            os.mkdir(d)
        try:
            sc.mount("overlay", dirs[3], "overlay", 0, f"lowerdir={dirs[0]},upperdir={dirs[1]},workdir={dirs[2]}")
        except OSError:
            return "vfs"
        sc.umount2(dirs[3], sc.MNT_DETACH)
        return "overlay"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def release(container_dir: str) -> None:
    """Unmount the container's rootfs if mounted; idempotent."""
    target = os.path.join(container_dir, "rootfs")
    try:
        sc.umount2(target, sc.MNT_DETACH)
    except OSError as e:
        if e.errno not in (22, 2):  # EINVAL: not a mount point; ENOENT: never made
            raise
