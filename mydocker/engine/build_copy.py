"""COPY/ADD: writing sources into a build step's root filesystem.

Every path inside the root filesystem is resolved with secure_join, so a symlink in the image
cannot lead a copy outside it. Copies take the source's mode and times, and root's or the
--chown user's ownership (never the context's owner), as Docker's do.
"""

from __future__ import annotations

import os
import shutil
import stat

from mydocker.engine.build_context import IgnoreRules, ignored, is_archive
from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module
from mydocker.runtime.api import secure_join

layer = lazy_module("mydocker.image.layer")  # ADD of a tar

Owner = tuple[int, int] | None  # (uid, gid) of --chown; None: root


def copy_sources(rootfs: str, root: str, sources: list[str], dest: str, dest_is_dir: bool, owner: Owner,
                 chmod: str | None, ignore: IgnoreRules | None, extract: bool) -> None:
    """Copy `sources` (paths relative to `root`) to `dest` inside `rootfs`: a directory's contents
    into `dest`; with `extract` (ADD) a local tar unpacked into `dest`; a file to `dest`, or into it
    when it is a directory or more than one source is copied."""
    into_dir = dest_is_dir or os.path.isdir(secure_join(rootfs, dest))
    if into_dir:
        makedirs(rootfs, dest, owner)
    for rel in sources:
        src = os.path.join(root, rel)
        if os.path.isdir(src) and not os.path.islink(src):
            makedirs(rootfs, dest, owner)
            copy_tree(src, secure_join(rootfs, dest), rel, owner, chmod, ignore)
        elif extract and is_archive(src):
            makedirs(rootfs, dest, owner)
            layer.apply_layer(src, secure_join(rootfs, dest))  # plain, gzip, bzip2, xz; kept inside its target
        else:
            where = os.path.join(dest, os.path.basename(rel)) if into_dir else dest
            makedirs(rootfs, os.path.dirname(where), owner)
            copy_one(src, secure_join(rootfs, where), owner, chmod)


def makedirs(rootfs: str, path: str, owner: Owner) -> None:
    """Create `path` (inside rootfs, symlinks resolved inside it) and missing parents, 0755."""
    parts = [p for p in path.split("/") if p]
    for n in range(1, len(parts) + 1):
        target = secure_join(rootfs, "/".join(parts[:n]))
        if not os.path.isdir(target):
            if os.path.lexists(target):
                raise InvalidArgument(f"cannot create directory /{'/'.join(parts[:n])}: a file is in the way")
            os.mkdir(target, 0o755)
            os.chmod(target, 0o755)
            if owner:
                os.chown(target, *owner)


def copy_one(src: str, dst: str, owner: Owner, chmod: str | None) -> None:
    """A file or symlink to `dst`, replacing what is there; other kinds are skipped."""
    st = os.lstat(src)
    if os.path.isdir(dst) and not os.path.islink(dst):
        shutil.rmtree(dst)
    elif os.path.lexists(dst):
        os.unlink(dst)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
        os.chmod(dst, int(chmod, 8) if chmod else stat.S_IMODE(st.st_mode))
    else:
        return  # sockets, devices, fifos of a context are not copied
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    os.chown(dst, *(owner or (0, 0)), follow_symlinks=False)


def copy_tree(src: str, dst: str, rel: str, owner: Owner, chmod: str | None, ignore: IgnoreRules | None) -> None:
    """The contents of `src` (not src itself) into the directory `dst`; `rel` names `src` for the
    .dockerignore rules."""
    for name in sorted(os.listdir(src)):
        sub = os.path.normpath(os.path.join(rel, name))
        if ignored(ignore, sub):
            continue
        s, d = os.path.join(src, name), os.path.join(dst, name)
        st = os.lstat(s)
        if stat.S_ISDIR(st.st_mode):
            if os.path.lexists(d) and not os.path.isdir(d):
                os.unlink(d)
            if not os.path.isdir(d):
                os.mkdir(d)
            os.chmod(d, stat.S_IMODE(st.st_mode))
            os.chown(d, *(owner or (0, 0)))
            copy_tree(s, d, sub, owner, chmod, ignore)
            os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))
        else:
            copy_one(s, d, owner, chmod)

