"""Apply layer tars to a directory, safely, in overlay's on-disk form.

A layer is untrusted input. It is extracted by a forked child that has chrooted into the target
(as Docker does), so `../` names, absolute names, symlinks to `/` followed by files through them,
and hard links to host paths all resolve inside the target and can never reach the host. Names
that try to climb out are refused outright before anything is written.

Whiteouts are translated to what overlayfs understands: `.wh.<name>` becomes a 0/0 character
device, `.wh..wh..opq` becomes the `trusted.overlay.opaque=y` xattr on its directory. PAX
`SCHILY.xattr.*` records (e.g. security.capability) are applied after ownership, which clears them.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile

from mydocker.errors import InvalidArgument, MyDockerError, RuntimeFailure
from mydocker.lazy import lazy_module

bz2 = lazy_module("bz2")
gzip = lazy_module("gzip")
hashlib = lazy_module("hashlib")
lzma = lazy_module("lzma")
shutil = lazy_module("shutil")
subprocess = lazy_module("subprocess")
zlib = lazy_module("zlib")

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_XATTR_PAX = "SCHILY.xattr."


def clean_name(name: str) -> str:
    """The member's path relative to the layer root; refuse names that climb out of it."""
    relative = name.lstrip("/")  # absolute names are taken relative to the layer, as Docker does
    cleaned = posixpath.normpath(relative) if relative else "."
    if cleaned == ".." or cleaned.startswith("../"):
        raise InvalidArgument(f"layer entry {name!r} points outside the layer: refused")
    return "" if cleaned == "." else cleaned


def _members(tar: tarfile.TarFile, target: str):
    """Yield the members tarfile should extract; do whiteouts and xattrs ourselves."""
    pending: tarfile.TarInfo | None = None
    for member in tar:
        if pending is not None:
            _apply_xattrs(pending, target)
            pending = None
        member.name = clean_name(member.name)
        if member.islnk():
            member.linkname = _link_source(member, target)
        if not member.name:
            continue  # the root itself: the target's own attributes stay
        parent, base = posixpath.split(member.name)
        if base == OPAQUE:
            directory = posixpath.join(target, parent)
            os.makedirs(directory, exist_ok=True)
            os.setxattr(directory, OPAQUE_XATTR, b"y", follow_symlinks=False)
            continue
        if base.startswith(WHITEOUT):
            path = posixpath.join(target, parent, base[len(WHITEOUT):])
            os.makedirs(posixpath.dirname(path), exist_ok=True)
            _remove(path)
            os.mknod(path, stat.S_IFCHR | 0o000, 0)
            continue
        path = posixpath.join(target, member.name)
        if os.path.lexists(path) and not (member.isdir() and os.path.isdir(path)):
            _remove(path)  # a later entry replaces an earlier one of another kind
        if any(k.startswith(_XATTR_PAX) for k in member.pax_headers):
            pending = member
        yield member
    if pending is not None:
        _apply_xattrs(pending, target)


def _link_source(member: tarfile.TarInfo, target: str) -> str:
    """A hard link's target, which must be a non-directory this layer holds by then (tarfile would
    otherwise look for it in the archive and fail with a KeyError, or copy a host file)."""
    try:
        source = clean_name(member.linkname)
    except InvalidArgument:
        raise InvalidArgument(f"layer entry {member.name!r} is a hard link to {member.linkname!r}, outside the "
                              "layer: refused") from None
    path = posixpath.join(target, source)
    if not source or source == member.name or not os.path.exists(path) or os.path.isdir(path):
        raise InvalidArgument(f"layer entry {member.name!r} is a hard link to {member.linkname!r}, which is not a "
                              "file of the layer before it: refused")
    return source


def _apply_xattrs(member: tarfile.TarInfo, target: str) -> None:
    path = posixpath.join(target, member.name)
    for key, value in member.pax_headers.items():
        if key.startswith(_XATTR_PAX):
            name = key[len(_XATTR_PAX):]
            if name.startswith("trusted.overlay."):
                continue  # a layer may not forge overlay's own metadata
            os.setxattr(path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


class _HashingReader:
    """Reads through to `raw`, hashing (sha256) what passes: the layer's diff id."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.hash.update(data)
        return data


# _members checks every entry already. Python 3.11.4+ wants the extraction filter named (and 3.14
# defaults to "data", which refuses what layers legitimately hold); 3.11.2 (Debian 12) has no filter.
NO_FILTER = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def _extract(fileobj, target: str, diff_id: str | None) -> None:
    reader = _HashingReader(fileobj)
    try:
        with tarfile.open(fileobj=reader, mode="r|", bufsize=1 << 20) as tar:
            tar.copybufsize = 1 << 20
            tar.extractall(target, members=_members(tar, target), numeric_owner=True, **NO_FILTER)
        while reader.read(1 << 20):  # the padding after the end-of-archive blocks counts too
            pass
    except (EOFError, zlib.error, lzma.LZMAError, tarfile.TarError, gzip.BadGzipFile) as e:
        raise InvalidArgument(f"it is truncated or damaged ({e or type(e).__name__}): the image is damaged; "
                              "get it again") from None
    actual = "sha256:" + reader.hash.hexdigest()
    if diff_id and actual != diff_id:
        raise InvalidArgument(f"its content has digest {actual}, but the image config says {diff_id}: "
                              "the image is damaged or forged; remove it and load or pull it again")


def open_layer(path: str):
    """(stream of the layer's uncompressed tar, what else to close: the zstd tool's process or
    the compressed file, or None): gzip, bzip2 and xz are decompressed here, zstd by the zstd tool."""
    f = open(path, "rb")
    head = os.pread(f.fileno(), 4, 0)  # not f.read: the zstd tool shares the fd's offset
    if head == b"\x28\xb5\x2f\xfd":
        try:
            proc = subprocess.Popen(["zstd", "-dcq"], stdin=f, stdout=subprocess.PIPE)
        except FileNotFoundError:
            raise RuntimeFailure("this layer is zstd-compressed: install zstd ('apt-get install zstd')") from None
        finally:
            f.close()
        return proc.stdout, proc
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb"), f
    if head[:3] == b"BZh":
        return bz2.BZ2File(f), f
    if head == b"\xfd7zX":
        return lzma.LZMAFile(f), f
    return f, None


def apply_layer(tar_path: str, target: str, diff_id: str | None = None, name: str | None = None) -> None:
    """Extract the layer at `tar_path` into the directory `target` inside a chrooted child;
    with `diff_id`, the uncompressed content must have that digest. `name` names it in errors."""
    # Loaded before the chroot, where the host's modules are out of reach (the lazy names above
    # then find them in sys.modules): a deliberate eager import, as the init's (docs/startup.md).
    import gzip, bz2, hashlib, lzma, shutil, zlib  # noqa: E401,F401
    stream, helper = open_layer(tar_path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            os.chroot(target)
            os.chdir("/")
            os.umask(0)
            _extract(stream, "/", diff_id)
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 -- report anything to the parent
            try:
                os.write(write_end, _reason(e).encode()[:4000])
            finally:
                os._exit(1)
    os.close(write_end)
    stream.close()
    try:
        with os.fdopen(read_end, "rb") as r:
            message = r.read().decode(errors="replace")
    finally:
        _pid, status = os.waitpid(pid, 0)
        if hasattr(helper, "wait"):
            helper.wait()
        elif helper is not None:
            helper.close()
    if status != 0:
        reason = message or f"the extracting process ended with status {status}"
        raise InvalidArgument(f"layer {name or os.path.basename(tar_path)[:12]} cannot be applied: {reason}")


def _reason(e: BaseException) -> str:
    """One line for the parent: our own errors as they are, the OS's with the entry they concern."""
    if isinstance(e, MyDockerError):
        return str(e)
    if isinstance(e, OSError) and e.strerror:
        where = f" ({e.filename.lstrip('/')!r})" if isinstance(e.filename, str) else ""
        return f"{e.strerror}{where}: the layer cannot be unpacked here"
    return f"{type(e).__name__}: {e}"
