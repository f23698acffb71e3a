"""`mydocker cp`: copy files between a container and the host, with Docker's syntax and rules.

    mydocker cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
    mydocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH

The container's side is resolved by the engine inside its root filesystem (engine/archive.py); this
module decides, as Docker's CLI does, what the copy is named on the other side.
"""

from __future__ import annotations

import os
import sys
import tarfile
import tempfile

from mydocker.errors import InvalidArgument, NotFound
from mydocker.flags import Command

command = (
    Command("cp", "Copy files/folders between a container and the local filesystem",
            usage="cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tmydocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
            min_args=2, max_args=2)
    .flag("-a", "--archive", help="archive mode (copy all uid/gid information)")
    .flag("-L", "--follow-link", help="always follow symbol link in SRC_PATH")
    .flag("-q", "--quiet", help="suppress progress output during copy")
)


def _split(arg: str) -> tuple[str | None, str]:
    """("container", "path") for CONTAINER:PATH; (None, path) for a local path (./a:b is local)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    container, _, path = arg.partition(":")
    return container, path


def handle(engine, opts, args: list[str]) -> int:
    (src_box, src), (dst_box, dst) = _split(args[0]), _split(args[1])
    if src_box and dst_box:
        raise InvalidArgument("copying between containers is not supported: copy to the host in between")
    if not src_box and not dst_box:
        raise InvalidArgument("must specify at least one container source: CONTAINER:PATH")
    if not (src if src_box else dst):
        raise InvalidArgument("the container path is empty: give CONTAINER:PATH")
    if src_box:
        copy_out(engine.containers, src_box, src, dst, opts.follow_link)
    else:
        copy_in(engine.containers, dst_box, src, dst, opts.archive, opts.follow_link)
    return 0


# --- container -> host --------------------------------------------------------------------------

def copy_out(containers, box: str, src: str, dst: str, follow: bool) -> None:
    info = containers.archive_stat(box, src)
    if follow and info.link_target:
        src = info.link_target
        info = containers.archive_stat(box, src)
    if dst == "-":
        if sys.stdout.isatty():
            raise InvalidArgument("refusing to write a tar to a terminal: redirect STDOUT")
        sys.stdout.flush()
        with os.fdopen(os.dup(1), "wb") as out:
            containers.archive_get(box, src, out)
        return
    rename = _local_name(dst, info.is_dir)
    with tempfile.TemporaryFile() as spool:
        containers.archive_get(box, src, spool)
        spool.seek(0)
        target = dst if rename is None else os.path.dirname(os.path.abspath(dst))
        with tarfile.open(fileobj=spool, mode="r:") as tar:
            members = tar.getmembers()
            if rename is not None:
                top = members[0].name.split("/")[0] if members else ""
                for m in members:
                    m.name = rename + m.name[len(top):] if m.name == top or m.name.startswith(top + "/") else m.name
            _extract(tar, members, target)


def _local_name(dst: str, src_is_dir: bool) -> str | None:
    """None: extract into the existing directory `dst`; else the name the copy takes beside it."""
    if os.path.isdir(dst):
        return None
    if os.path.exists(dst):
        if src_is_dir:
            raise InvalidArgument(f"cannot copy a directory to a file: {dst}")
        return os.path.basename(dst)
    if dst.endswith("/"):
        if not src_is_dir:
            raise NotFound(f"destination directory {dst} does not exist")
    parent = os.path.dirname(os.path.abspath(dst.rstrip("/")))
    if not os.path.isdir(parent):
        raise NotFound(f"no such directory: {parent}")
    return os.path.basename(dst.rstrip("/"))


def _extract(tar: tarfile.TarFile, members: list, target: str) -> None:
    """Entries land below `target` only (tar's filter where Python has it); existing files are replaced."""
    for m in members:
        path = os.path.join(target, m.name)
        if not m.isdir() and os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)
    if hasattr(tarfile, "tar_filter"):
        tar.extractall(target, members, filter="tar")
    else:  # Python before 3.11.4: names were checked by the engine's writer (no "..", no absolute names)
        tar.extractall(target, members)


# --- host -> container --------------------------------------------------------------------------

def copy_in(containers, box: str, src: str, dst: str, archive: bool, follow: bool) -> None:
    if src == "-":
        with os.fdopen(os.dup(0), "rb") as stream:
            containers.archive_put(box, dst, stream, no_overwrite_dir_non_dir=True, copy_owner=archive)
        return
    if not os.path.lexists(src):
        raise NotFound(f"could not find the file {src}: no such file or directory")
    src_is_dir = os.path.isdir(src) if follow or not os.path.islink(src) else False
    contents_only = src.endswith("/.")
    try:
        info = containers.archive_stat(box, dst)
    except NotFound:
        info = None
        if dst.endswith("/"):
            raise NotFound(f"destination directory {dst} does not exist in the container") from None
    if info is not None and info.is_dir:
        where, name = dst, None if contents_only else os.path.basename(os.path.abspath(src))
    elif info is not None:
        if src_is_dir:
            raise InvalidArgument(f"cannot copy a directory to a file: {dst}")
        where, name = os.path.dirname(dst.rstrip("/")) or "/", os.path.basename(dst)
    else:
        where, name = os.path.dirname(dst.rstrip("/")) or "/", os.path.basename(dst.rstrip("/"))
    with tempfile.TemporaryFile() as spool:
        with tarfile.open(fileobj=spool, mode="w:", format=tarfile.PAX_FORMAT, dereference=False) as tar:
            root = os.path.realpath(src) if follow else src.rstrip("/") if not contents_only else src[:-2] or "/"
            if name is None:
                for child in sorted(os.listdir(root)):
                    tar.add(os.path.join(root, child), arcname=child)
            else:
                tar.add(root, arcname=name)
        spool.seek(0)
        containers.archive_put(box, where, spool, no_overwrite_dir_non_dir=True, copy_owner=archive)
