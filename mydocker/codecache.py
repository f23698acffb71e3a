"""The compiled code of every mydocker module in one file, for the `mydocker` launcher's imports.

`mydocker run` imports some 80 of the package's modules. Through Python's path finder each costs a
directory-cache look-up, stats, an open and read of its .pyc and a header check (35-40 us of the
import machinery alone per module, docs/startup.md). The launcher (mydocker/launcher.py) puts this
finder first instead: it answers for the modules of the package from one file, written when the
launchers are installed, with one stat (is the source what was compiled?) and one pread each. A
module whose source changed since, or that the file does not hold, is left to the path finder, so
the file can go stale without anything going wrong but the time.

The file sits in the package's __pycache__, named with the interpreter's cache tag (marshal's format
is the interpreter's): an 8-byte length, the marshalled index {module: (source, is package, source
mtime_ns, source size, offset, length, .pyc path)}, then each module's marshalled code object.
"""

from __future__ import annotations

import marshal
import os
import sys

_HEADER = 8


def path_for(package_dir: str) -> str:
    return os.path.join(package_dir, "__pycache__", f"codecache.{sys.implementation.cache_tag}.bin")


def build(package_dir: str) -> str:
    """Compile every module under `package_dir` (the mydocker package) into its cache file; its path."""
    parent = os.path.dirname(package_dir)
    index, blobs, offset = {}, [], 0
    for top, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            source = os.path.join(top, name)
            module = os.path.relpath(source, parent)[:-3].replace(os.sep, ".")
            is_package = module.endswith(".__init__")
            with open(source, "rb") as f:
                code = compile(f.read(), source, "exec", dont_inherit=True)
            st = os.stat(source)
            data = marshal.dumps(code)
            index[module[:-9] if is_package else module] = (source, is_package, st.st_mtime_ns, st.st_size,
                                                            offset, len(data), _cache_from_source(source))
            blobs.append(data)
            offset += len(data)
    head = marshal.dumps(index)
    path = path_for(package_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:  # whole or not at all: readers hold the old file open
        f.write(len(head).to_bytes(_HEADER, "little") + head)
        f.writelines(blobs)
    os.replace(tmp, path)
    return path


class CodeCacheFinder:
    """A meta path finder (and loader) for the modules in one cache file."""

    def __init__(self, fd: int, index: dict, base: int) -> None:
        self.fd, self.index, self.base = fd, index, base

    def find_spec(self, name: str, path=None, target=None):
        entry = self.index.get(name)
        if entry is None:
            return None
        source, is_package, mtime_ns, size = entry[:4]
        try:
            st = os.stat(source)
        except OSError:
            return None
        if st.st_mtime_ns != mtime_ns or st.st_size != size:  # edited since: the path finder compiles it
            return None
        spec = _ModuleSpec(name, self, origin=source, is_package=is_package)
        spec.has_location = True  # __file__ is the source, as the path finder sets it
        spec.cached = entry[6]  # __cached__ too (worked out at each import, it costs 5 us a module)
        if is_package:
            spec.submodule_search_locations = [os.path.dirname(source)]
        spec.loader_state = entry
        return spec

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module) -> None:
        entry = module.__spec__.loader_state
        code = marshal.loads(os.pread(self.fd, entry[5], self.base + entry[4]))
        exec(code, module.__dict__)


_ModuleSpec = sys.modules["_frozen_importlib"].ModuleSpec  # importlib.machinery's, without importing it
_cache_from_source = sys.modules["_frozen_importlib_external"].cache_from_source  # importlib.util's


def enable(package_dir: str) -> bool:
    """Answer the package's imports from its cache file, ahead of the path finder; False (and
    nothing changed) when there is no readable cache."""
    try:
        fd = os.open(path_for(package_dir), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        size = int.from_bytes(os.pread(fd, _HEADER, 0), "little")
        index = marshal.loads(os.pread(fd, size, _HEADER))
    except (OSError, ValueError, EOFError, TypeError):
        os.close(fd)
        return False
    if not isinstance(index, dict) or any(len(entry) != 7 for entry in index.values()):  # an older layout
        os.close(fd)
        return False
    finder = CodeCacheFinder(fd, index, _HEADER + size)
    at = next((i for i, f in enumerate(sys.meta_path) if getattr(f, "__name__", "") == "PathFinder"),
              len(sys.meta_path))
    sys.meta_path.insert(at, finder)
    return True
