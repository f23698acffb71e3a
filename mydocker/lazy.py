"""The one way mydocker imports lazily: `store = lazy_module("mydocker.image.store")` at module level.

The name stands for the module, which is imported on first attribute access (`store.Store(...)`),
so a cold path's dependency is declared at the top of the file, where a reader and the layering
test see it, yet costs nothing on the paths that never touch it (start-up budgets: docs/startup.md).

Why this and not importlib.util.LazyLoader or Mercurial's demandimport: both defer the module's
*execution* after finding its file, and the container's init runs after pivot_root, where the
host's files are gone; LazyLoader also costs an importlib.util import on every start. A proxy that
imports by name needs nothing but `sys`. A proxy for a module that is loaded already when it is
first used costs a dict look-up, so it is safe after pivot_root too; what must be loaded by then is
listed in EAGER (tests/unit/test_imports.py holds the init's import closure to it).

Deliberate exceptions, which keep function-level imports (docs/startup.md): the `state` fast path
(runtime/entry.py, runtime/state_view.py) loads not even this module, and runtime/process.py imports the
init's modules in the forked child at a chosen moment; engine/api.preload and apiserver/server._preload
import the API service's modules before it forks its workers; an import inside `try` for an optional
package stays where its ImportError is handled.
"""

import sys

# The container init's closure: every mydocker module that runtime/init.py and what it calls may
# use after pivot_root. Importing mydocker.runtime.init loads them all; none may be reached only
# through a function-level import or a lazy_module name that is first used after pivot_root.
EAGER = frozenset({
    "mydocker.errors", "mydocker.jsonio", "mydocker.lazy", "mydocker.recordclass",
    "mydocker.linux.fs", "mydocker.linux.libc", "mydocker.linux.net", "mydocker.linux.syscalls", "mydocker.linux.tty",
    "mydocker.runtime.caps", "mydocker.runtime.channel", "mydocker.runtime.command", "mydocker.runtime.hooks",
    "mydocker.runtime.init", "mydocker.runtime.mountopts", "mydocker.runtime.paths", "mydocker.runtime.rootfs",
    "mydocker.runtime.oci_config",
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
    """The module `name` if it is loaded already, else a LazyModule that imports it on first use."""
    return sys.modules.get(name) or LazyModule(name)
