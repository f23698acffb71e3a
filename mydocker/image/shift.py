"""`--userns remap`: the image as the container's root sees it, owned by its mapped ids.

Chosen over idmapped mounts: an idmapped overlay needs each lower layer idmapped as a detached mount
(open_tree + mount_setattr with a user namespace fd made by a forked helper) and then reachable by
path for overlay's lowerdir; a chown copy is plain files, works with the vfs driver too, and is made
once per (layer, offset) and shared by every container with that mapping (Docker's userns-remap keeps
a whole shifted image store per mapping the same way).

Layout: <store>/shifted/<offset>/layers/<hex>, so snapshot's short links (<dir>/l) stay per offset.
"""

from __future__ import annotations

import os
import stat

from mydocker.errors import InvalidArgument, RuntimeFailure
from mydocker.lazy import lazy_module

shutil = lazy_module("shutil")
subprocess = lazy_module("subprocess")

_CAPS_XATTR = "security.capability"


def shifted_layers(lowers: list[str], offset: int, size: int) -> list[str]:
    """The shifted copy of each unpacked layer in `lowers`, made on first use."""
    return [shifted_layer(layer, offset, size) for layer in lowers]


def shifted_layer(layer: str, offset: int, size: int) -> str:
    store = os.path.dirname(os.path.dirname(layer))
    target = os.path.join(store, "shifted", str(offset), "layers", os.path.basename(layer))
    if os.path.isdir(target):
        return target
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = f"{target}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        # cp -a keeps modes, owners, times, xattrs (overlay whiteouts too), hard links, symlinks, devices
        done = subprocess.run(["cp", "-a", "--", layer, tmp], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise RuntimeFailure(f"cannot copy layer {os.path.basename(layer)} for --userns: "
                                 f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'cp failed'}")
        shift_tree(tmp, offset, size)
        try:
            os.rename(tmp, target)
        except OSError:  # another container made it first: use theirs
            if not os.path.isdir(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def shift_tree(top: str, offset: int, size: int) -> None:
    """Add `offset` to every uid/gid under `top` (each inode once), keeping set-id bits and file caps."""
    seen: set[int] = set()
    for path in _walk(top):
        st = os.lstat(path)
        if st.st_ino in seen:  # a hard link: its inode is already shifted
            continue
        seen.add(st.st_ino)
        if st.st_uid >= size or st.st_gid >= size:
            raise InvalidArgument(f"{os.path.relpath(path, top)} in the image is owned by {st.st_uid}:{st.st_gid}, "
                                  f"outside the --userns range of {size} ids: use a larger remap size")
        caps = None
        if stat.S_ISREG(st.st_mode):
            try:
                caps = os.getxattr(path, _CAPS_XATTR, follow_symlinks=False)
            except OSError:
                pass
        os.chown(path, st.st_uid + offset, st.st_gid + offset, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            os.chmod(path, stat.S_IMODE(st.st_mode))  # chown clears set-id bits
        if caps is not None:  # and file capabilities
            os.setxattr(path, _CAPS_XATTR, caps, follow_symlinks=False)


def _walk(top: str):
    yield top
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            yield os.path.join(root, name)


def reachable(path: str, uid: int, engine_root: str) -> None:
    """Let host `uid` (the container's root) walk down to `path`: directories inside the engine root
    get o+x; one outside that blocks it is an error, as Docker's userns-remap reports it."""
    engine_root = os.path.realpath(engine_root)
    current = os.path.realpath(path)
    dirs = []
    while True:
        current = os.path.dirname(current)
        dirs.append(current)
        if current == "/":
            break
    for directory in dirs:
        st = os.stat(directory)
        if st.st_uid == uid or st.st_mode & stat.S_IXOTH:
            continue
        if directory == engine_root or directory.startswith(engine_root + os.sep):
            os.chmod(directory, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        else:
            raise InvalidArgument(f"{directory} restricts access to the remapped root (uid {uid}): "
                                  f"allow it with 'chmod o+x {directory}', or use another --root")
