"""`docker cp` inside a container's root filesystem: stat a path, write it as a tar, extract a tar at it.

Every path from the client or from the tar is resolved with openat2(RESOLVE_IN_ROOT) on an fd of the
rootfs, so a symlink (absolute, "../../..", or swapped in while the copy runs) resolves inside the
container as the kernel would resolve it there, never on the host (the CVE-2018-15664 class). Below
the resolved fd every step works on fds: names are opened with O_NOFOLLOW, files are created with
O_EXCL, so nothing is re-resolved through a host path string.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import stat
import tarfile
import time
from dataclasses import dataclass

from mydocker.errors import InvalidArgument, NotFound
from mydocker.linux import syscalls as sc
from mydocker.lazy import lazy_module

shutil = lazy_module("shutil")

_IN_ROOT = sc.RESOLVE_IN_ROOT | sc.RESOLVE_NO_MAGICLINKS
_CHUNK = 1024 * 1024


@dataclass
class PathStat:
    """Docker's container path stat (the X-Docker-Container-Path-Stat header)."""
    name: str
    size: int
    mode: int          # Go's os.FileMode bits: the docker CLI decodes it as one
    mtime: str         # RFC 3339
    link_target: str

    def header(self) -> str:
        doc = {"name": self.name, "size": self.size, "mode": self.mode, "mtime": self.mtime,
               "linkTarget": self.link_target}
        return base64.b64encode(json.dumps(doc).encode()).decode()

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & _GO_DIR)


# Go's os.FileMode type bits (io/fs)
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE, _GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24
_GO_SETUID, _GO_SETGID, _GO_CHARDEV, _GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


def go_mode(mode: int) -> int:
    bits = mode & 0o777
    kind = stat.S_IFMT(mode)
    bits |= {stat.S_IFDIR: _GO_DIR, stat.S_IFLNK: _GO_SYMLINK, stat.S_IFBLK: _GO_DEVICE,
             stat.S_IFCHR: _GO_DEVICE | _GO_CHARDEV, stat.S_IFIFO: _GO_PIPE, stat.S_IFSOCK: _GO_SOCKET}.get(kind, 0)
    for unix, go in ((stat.S_ISUID, _GO_SETUID), (stat.S_ISGID, _GO_SETGID), (stat.S_ISVTX, _GO_STICKY)):
        if mode & unix:
            bits |= go
    return bits


def _rfc3339(seconds: float) -> str:
    whole = int(seconds)
    nanos = int(round((seconds - whole) * 1e9)) % 1_000_000_000
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{text}.{nanos:09d}".rstrip("0").rstrip(".") + "Z"


class Target:
    """A client's path resolved inside the rootfs: an O_PATH fd of its parent directory and the last
    name, kept unresolved (a symlink is copied as itself, as Docker does) unless the path ends in "/"
    or "/." (then the fd is of the target itself and `name` is "")."""

    def __init__(self, root_fd: int, path: str) -> None:
        if not path:
            raise InvalidArgument("the path is empty: name a path inside the container")
        self.root_fd = root_fd
        self.path = path
        self.contents_only = path.endswith("/.")   # "dir/." copies what is in dir, not dir
        follow = path.endswith("/") or self.contents_only or posixpath.normpath("/" + path) == "/"
        clean = posixpath.normpath("/" + path)
        parent, self.name = ("/", "") if follow else posixpath.split(clean)
        where = clean if follow else parent
        try:
            self.fd = sc.openat2(root_fd, where.lstrip("/") or ".", os.O_PATH, _IN_ROOT)
        except FileNotFoundError:
            raise NotFound(f"Could not find the file {path} in container") from None
        except NotADirectoryError:
            raise NotFound(f"Could not find the file {path} in container: a parent is not a directory") from None

    def close(self) -> None:
        os.close(self.fd)

    def lstat(self) -> os.stat_result:
        try:
            if self.name:
                return os.stat(self.name, dir_fd=self.fd, follow_symlinks=False)
            return os.stat(self.fd)
        except FileNotFoundError:
            raise NotFound(f"Could not find the file {self.path} in container") from None
        except NotADirectoryError:
            raise NotFound(f"Could not find the file {self.path} in container: a parent is not a directory") from None

    def stat(self) -> PathStat:
        st = self.lstat()
        link = ""
        if stat.S_ISLNK(st.st_mode):
            link = self._link_target()
        name = self.name or posixpath.basename(posixpath.normpath("/" + self.path)) or "/"
        return PathStat(name, st.st_size, go_mode(st.st_mode), _rfc3339(st.st_mtime), link)

    def _link_target(self) -> str:
        """Where the symlink leads, as a path inside the container (Docker's linkTarget)."""
        target = os.readlink(self.name, dir_fd=self.fd)
        here = self._inside_path(self.fd)
        return posixpath.normpath(target if target.startswith("/") else posixpath.join(here, target))

    def _inside_path(self, fd: int) -> str:
        """The path of `fd` inside the container (for messages and linkTarget only, never to open)."""
        root = os.readlink(f"/proc/self/fd/{self.root_fd}")
        here = os.readlink(f"/proc/self/fd/{fd}")
        return "/" + posixpath.relpath(here, root).lstrip(".").lstrip("/") if here != root else "/"


def write_tar(root_fd: int, path: str, out, on_stat=None) -> PathStat:
    """The path (file, symlink, directory tree) as a tar to the binary file `out`; its stat returned.
    Entries are named as Docker names them: the tree
    under the last name of `path` ("." for "dir/.")."""
    target = Target(root_fd, path)
    try:
        info = target.stat()
        if on_stat:
            out = on_stat(info) or out  # the caller answers with the stat before the first byte
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            links: dict[tuple[int, int], str] = {}
            if target.name:
                _add(tar, target.fd, target.name, target.name, links)
            else:
                fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=target.fd)
                try:
                    top = "." if target.contents_only else info.name
                    _add_entry(tar, top, os.fstat(fd), fd, None, links)
                    _add_children(tar, fd, top, links)
                finally:
                    os.close(fd)
        return info
    finally:
        target.close()


def stat_of(root_fd: int, path: str) -> PathStat:
    target = Target(root_fd, path)
    try:
        return target.stat()
    finally:
        target.close()


def _add(tar: tarfile.TarFile, dir_fd: int, name: str, arcname: str, links: dict) -> None:
    """One entry (recursively for a directory) opened by `name` below `dir_fd`, never following it."""
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISLNK(st.st_mode):
        _add_entry(tar, arcname, st, None, os.readlink(name, dir_fd=dir_fd), links)
        return
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        _add_entry(tar, arcname, st, None, None, links)   # device, fifo, socket: the header only
        return
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags | (os.O_DIRECTORY if stat.S_ISDIR(st.st_mode) else 0), dir_fd=dir_fd)
    except (FileNotFoundError, NotADirectoryError, OSError) as e:
        if isinstance(e, (FileNotFoundError, NotADirectoryError)) or e.errno == 40:  # gone or swapped: skip it
            return
        raise
    try:
        st = os.fstat(fd)  # what was opened is what goes in
        _add_entry(tar, arcname, st, fd, None, links)
        if stat.S_ISDIR(st.st_mode):
            _add_children(tar, fd, arcname, links)
    finally:
        os.close(fd)


def _add_children(tar: tarfile.TarFile, fd: int, arcname: str, links: dict) -> None:
    for child in sorted(os.listdir(fd)):
        _add(tar, fd, child, f"{arcname}/{child}", links)


def _add_entry(tar: tarfile.TarFile, arcname: str, st: os.stat_result, fd: int | None, link: str | None,
               links: dict) -> None:
    info = tarfile.TarInfo(arcname)
    info.mode, info.uid, info.gid, info.mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)
    mode = st.st_mode
    key = (st.st_dev, st.st_ino)
    if stat.S_ISREG(mode) and st.st_nlink > 1 and key in links:
        info.type, info.linkname = tarfile.LNKTYPE, links[key]
        tar.addfile(info)
        return
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, link or ""
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISREG(mode) and fd is not None:
        info.size = st.st_size
        if st.st_nlink > 1:
            links[key] = arcname
        tar.addfile(info, _Reader(fd, st.st_size))
        return
    else:
        return  # a socket: tar has no type for it (Docker skips it too)
    tar.addfile(info)


class _Reader:
    """Exactly `size` bytes of an fd (zeros if the file shrank under us: the header is written)."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.left = fd, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = os.read(self.fd, n) if n else b""
        if len(data) < n:
            data += b"\0" * (n - len(data))
        self.left -= len(data)
        return data


# --- extraction ---------------------------------------------------------------------------------

def extract_tar(root_fd: int, path: str, stream, no_overwrite_dir_non_dir: bool = False,
                copy_owner: bool = False) -> None:
    """Unpack the tar read from `stream` into the directory `path` inside the container.

    Each entry's parent is resolved with openat2(RESOLVE_IN_ROOT) from the rootfs fd (a symlink in the
    way, even one swapped in meanwhile, leads somewhere inside the container, as Docker's chrooted
    untar); the entry itself is made on that parent fd without following anything."""
    target = Target(root_fd, path.rstrip("/") + "/" if path.rstrip("/") else "/")
    try:
        if not stat.S_ISDIR(target.lstat().st_mode):
            raise InvalidArgument(f"extraction point is not a directory: {path}")
        base = target._inside_path(target.fd)
    finally:
        target.close()
    try:
        tar = tarfile.open(fileobj=stream, mode="r|*")
    except tarfile.TarError as e:
        raise InvalidArgument(f"the request body is not a tar archive: {e}") from None
    with tar:
        dirs: list[tuple[str, tarfile.TarInfo]] = []
        for member in tar:
            name = _member_name(member.name)
            if name is None:
                continue  # the "." entry: the destination itself
            _extract_one(root_fd, base, name, member, tar, no_overwrite_dir_non_dir, copy_owner)
            if member.isdir():
                dirs.append((name, member))
        for name, member in reversed(dirs):  # their children changed their times: set them last
            _at_parent(root_fd, base, name, lambda pfd, last: _set_times(pfd, last, member.mtime, directory=True))


def _member_name(name: str) -> str | None:
    """The entry's name below the destination; a leading "/" or ".." is clamped there (the
    kernel's resolution keeps it inside the container in any case)."""
    clean = posixpath.normpath("/" + name).lstrip("/")
    return None if clean in ("", ".") else clean


def _at_parent(root_fd: int, base: str, name: str, action):
    parent, last = posixpath.split(name)
    where = posixpath.join(base, parent).lstrip("/") or "."
    try:
        pfd = sc.openat2(root_fd, where, os.O_PATH | os.O_DIRECTORY, _IN_ROOT)
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidArgument(f"cannot extract {name}: its parent directory is missing in the container") from None
    try:
        return action(pfd, last)
    finally:
        os.close(pfd)


def _extract_one(root_fd: int, base: str, name: str, member: tarfile.TarInfo, tar: tarfile.TarFile,
                 no_overwrite: bool, copy_owner: bool) -> None:
    uid, gid = (member.uid, member.gid) if copy_owner else (0, 0)

    def make(pfd: int, last: str) -> None:
        # an O_PATH parent fd cannot be written through: reopen it as a directory (no path involved)
        dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=pfd)
        try:
            _make(dfd, last, name, member, tar, no_overwrite, uid, gid, root_fd, base)
        finally:
            os.close(dfd)
    _at_parent(root_fd, base, name, make)


def _make(dfd: int, last: str, name: str, member: tarfile.TarInfo, tar: tarfile.TarFile, no_overwrite: bool,
          uid: int, gid: int, root_fd: int, base: str) -> None:
    try:
        old = os.stat(last, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        old = None
    if old is not None:
        old_dir = stat.S_ISDIR(old.st_mode)
        if old_dir and member.isdir():
            pass  # kept: its mode and owner are updated below
        elif no_overwrite and old_dir != member.isdir():
            what = "directory" if old_dir else "non-directory"
            raise InvalidArgument(f"cannot overwrite {what} {posixpath.join(base, name)} with "
                                  f"{'directory' if member.isdir() else 'non-directory'}")
        elif old_dir:
            shutil.rmtree(last, dir_fd=dfd)
        else:
            os.unlink(last, dir_fd=dfd)
    mode = member.mode & 0o7777
    if member.isdir():
        if old is None or not stat.S_ISDIR(old.st_mode):
            os.mkdir(last, 0o700, dir_fd=dfd)
        fd = os.open(last, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        try:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
    elif member.isreg():
        fd = os.open(last, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
        try:
            source = tar.extractfile(member)
            while True:
                chunk = source.read(_CHUNK)
                if not chunk:
                    break
                os.write(fd, chunk)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            os.utime(fd, (member.mtime, member.mtime))
        finally:
            os.close(fd)
    elif member.issym():
        os.symlink(member.linkname, last, dir_fd=dfd)
        os.chown(last, uid, gid, dir_fd=dfd, follow_symlinks=False)
        os.utime(last, (member.mtime, member.mtime), dir_fd=dfd, follow_symlinks=False)
    elif member.islnk():
        source = _member_name(member.linkname)
        if source is None:
            raise InvalidArgument(f"the hard link {name} points at the destination itself")
        _at_parent(root_fd, base, source,
                   lambda spfd, slast: os.link(slast, last, src_dir_fd=spfd, dst_dir_fd=dfd, follow_symlinks=False))
    elif member.isfifo() or member.ischr() or member.isblk():
        kind = stat.S_IFIFO if member.isfifo() else stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(last, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=dfd)
        os.chown(last, uid, gid, dir_fd=dfd, follow_symlinks=False)
        _chmod_at(dfd, last, mode)


def _chmod_at(dfd: int, last: str, mode: int) -> None:
    """chmod of a node just made by us (fifo, device): through an O_PATH fd, never by following a name."""
    fd = os.open(last, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
    try:
        os.chmod(f"/proc/self/fd/{fd}", mode)
    finally:
        os.close(fd)


def _set_times(pfd: int, last: str, mtime: float, directory: bool) -> None:
    try:
        fd = os.open(last, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
    except OSError:
        return  # replaced meanwhile: its times are not worth an error
    try:
        os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)
