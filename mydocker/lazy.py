"""The one way mydocker imports lazily: `store = lazy_module("mydocker.image.store")` at module level.

The name stands for the module, which is imported on first attribute access (`store.Store(...)`),
so a cold path's dependency is declared at the top of the file, where a reader and the layering
test see it, yet costs nothing on the paths that never touch it (start-up budgets: docs/startup.md).

Why this and not importlib.util.LazyLoader or Mercurial's demandimport: both defer the module's
*execution* after finding its file, and the container's init runs after pivot_root, where the
host's files are gone; LazyLoader also costs an importlib.util import on every start. A proxy that
imports by name needs nothing but `sys`, and the modules the init needs after pivot_root are
listed in EAGER: lazy_module imports those at once (tests/unit/test_imports.py checks the list
against the init's import closure).
"""

from __future__ import annotations

import sys

# The container init's closure: what runs after pivot_root (runtime/init.py and what it calls).
# Whoever names one of these gets it imported at once, before any fork.
EAGER = frozenset({
    "mydocker.errors", "mydocker.jsonio", "mydocker.record",
    "mydocker.linux.libc", "mydocker.linux.syscalls", "mydocker.linux.tty", "mydocker.linux.net",
    "mydocker.linux.seccomp",
    "mydocker.runtime.caps", "mydocker.runtime.channel", "mydocker.runtime.command", "mydocker.runtime.hooks",
    "mydocker.runtime.init", "mydocker.runtime.mountopts", "mydocker.runtime.paths", "mydocker.runtime.rootfs",
    "mydocker.runtime.seccomp", "mydocker.runtime.spec",
})


class LazyModule:
    """Stands for a module until an attribute is read; then is a thin forwarder to it."""

    __slots__ = ("_lazy_name", "_lazy_module")

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_lazy_name", name)
        object.__setattr__(self, "_lazy_module", None)

    def _load(self):
        module = self._lazy_module
        if module is None:
            module = _import(self._lazy_name)
            object.__setattr__(self, "_lazy_module", module)
        return module

    def __getattr__(self, attr: str):
        return getattr(self._load(), attr)

    def __setattr__(self, attr: str, value) -> None:  # tests patch module attributes through the name
        setattr(self._load(), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(self._load(), attr)

    def __repr__(self) -> str:
        state = "loaded" if self._lazy_module is not None else "not loaded yet"
        return f"<lazy module {self._lazy_name!r}, {state}>"


def _import(name: str):
    module = sys.modules.get(name)
    if module is None:
        __import__(name)
        module = sys.modules[name]
    return module


def lazy_module(name: str):
    """The module `name` if it is loaded already or in EAGER (imported now), else a LazyModule."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    if name in EAGER:
        return _import(name)
    return LazyModule(name)
