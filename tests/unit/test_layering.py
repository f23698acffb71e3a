"""The layers hold: `cli > engine > image | network | runtime > linux > base modules`.

Every module under mydocker/ is parsed with `ast`; imports at module level, inside functions and
through mydocker.lazy.lazy_module all count. Enforced (DESIGN.md, "Layers"):
- no import of a higher layer, none sideways between image/, network/ and runtime/;
- the front ends (the CLI, the API server) import from the engine only its interface (ENGINE_INTERFACE)
  and base modules;
- the engine imports from the runtime only its declared API (RUNTIME_API);
- no import circles between modules.
Each violation prints as `mydocker/a.py:LINE imports mydocker.b (why)`. KNOWN lists the violations
other branches of issue #16 remove: the test fails for a violation not listed AND for a listed one
that no longer occurs, so the list can only shrink.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass

import pytest

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "mydocker")

# What the CLI may import from the engine: its interface module.
ENGINE_INTERFACE = ("mydocker.engine.api",)
# What the engine may import from the runtime.
RUNTIME_API = ("mydocker.runtime.api",)

# Layer rank by top-level package; a module may import only lower ranks (or its own package).
# Anything directly under mydocker/ that is not a package is a base module (rank 0).
RANKS = {"cli": 4, "apiserver": 4, "engine": 3, "image": 2, "network": 2, "runtime": 2, "linux": 1}
# The front ends: each reaches the engine only through its interface. The CLI's `system service`
# starts the API server (the one import between them).
FRONT_ENDS = ("cli", "apiserver")

# Violations other branches remove, as (importer file, imported module). Do not add to this list:
# fix the import. When a branch removes one, delete its line here (the test says which).
KNOWN: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    importer: str   # dotted module name
    path: str       # mydocker/a/b.py
    line: int
    target: str     # dotted module name (the most specific module that exists)


def module_name(path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[:-3].split(os.sep)
    if rel[-1] == "__init__":
        rel.pop()
    return ".".join(rel)


def all_modules() -> dict[str, str]:
    """Dotted name -> path of every module under mydocker/."""
    found = {}
    for top, _dirs, files in os.walk(PACKAGE_DIR):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(top, name)
                found[module_name(path)] = path
    return found


def imports_of(name: str, path: str, modules: dict[str, str]) -> list[Import]:
    """mydocker imports in one file, each resolved to the deepest module that exists."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    is_package = path.endswith("__init__.py")
    rel_path = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_package else name.split(".")[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_module" and node.args \
                and isinstance(node.args[0], ast.Constant):
            targets = [node.args[0].value]  # a lazy import is an import
        for target in targets:
            if target.split(".")[0] != "mydocker":
                continue
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            found.append(Import(name, rel_path, node.lineno, target))
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "base"  # the package's own __init__
    if parts[1] == "__main__":
        return "cli"  # `python -m mydocker` is the CLI
    return parts[1] if parts[1] in RANKS else "base"


def rank(module: str) -> int:
    return RANKS.get(layer(module), 0)


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def why_wrong(imp: Import) -> str | None:
    """The rule an import breaks, or None."""
    src, dst = layer(imp.importer), layer(imp.target)
    if src == dst or imp.target == "mydocker" or (src, dst) == ("cli", "apiserver"):
        return None
    if rank(imp.target) > rank(imp.importer):
        return f"upward: {src} may not import {dst}"
    if rank(imp.target) == rank(imp.importer):
        return f"sideways: {src} may not import {dst}"
    if src in FRONT_ENDS and dst != "base" and not _under(imp.target, ENGINE_INTERFACE):
        return f"the {'CLI' if src == 'cli' else 'API server'} imports only the engine's interface and base modules"
    if src == "engine" and dst == "runtime" and not _under(imp.target, RUNTIME_API):
        return f"the engine imports the runtime only through {', '.join(RUNTIME_API)}"
    return None


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def violations(modules: dict[str, str] | None = None) -> dict[tuple[str, str], str]:
    """(importer file, imported module) -> the message to print; circles as ("circle", first member)."""
    modules = modules if modules is not None else all_modules()
    found: dict[tuple[str, str], str] = {}
    edges: dict[str, set[str]] = {}
    for name, path in sorted(modules.items()):
        for imp in imports_of(name, path, modules):
            if imp.target != name:
                edges.setdefault(name, set()).add(imp.target)
            reason = why_wrong(imp)
            if reason:
                found.setdefault((imp.path, imp.target), f"{imp.path}:{imp.line} imports {imp.target} ({reason})")
    for component in circles(edges):
        found[("circle", " -> ".join(component))] = "import circle: " + " -> ".join(component)
    return found


def test_layers_hold():
    found = violations()
    new = {key: msg for key, msg in found.items() if key not in KNOWN}
    gone = sorted(KNOWN - set(found))
    report = []
    if new:
        report.append("imports that break the layers (fix the import; do not add to KNOWN):")
        report += [f"  {msg}" for msg in sorted(new.values())]
    if gone:
        report.append("KNOWN entries that no longer occur (delete them from KNOWN in tests/unit/test_layering.py):")
        report += [f"  {entry}" for entry in gone]
    assert not report, "\n".join(report)


def test_every_module_parses_and_has_a_layer():
    modules = all_modules()
    assert "mydocker.runtime.init" in modules and "mydocker.cli.main" in modules
    for name in modules:
        assert layer(name) in set(RANKS) | {"base"}


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """A copy of the module map with one extra module whose source we write."""
    modules = all_modules()

    def plant(name: str, source: str) -> dict[str, str]:
        path = tmp_path / (name.replace(".", "_") + ".py")
        path.write_text(source)
        monkeypatch.setattr(os.path, "relpath", _relpath_for(str(path), name, os.path.relpath))
        return {**modules, name: str(path)}
    return plant


def _relpath_for(planted_path: str, name: str, real):
    def relpath(path, start=os.curdir):
        if path == planted_path:
            return name.replace(".", "/") + ".py"
        return real(path, start)
    return relpath


@pytest.mark.parametrize("name, source, expected", [
    ("mydocker.linux.planted", "def f():\n    from mydocker.runtime import state_file\n",
     "mydocker/linux/planted.py:2 imports mydocker.runtime.state_file (upward: linux may not import runtime)"),
    ("mydocker.runtime.planted", "import mydocker.network.ipam\n",
     "mydocker/runtime/planted.py:1 imports mydocker.network.ipam (sideways: runtime may not import network)"),
    ("mydocker.runtime.planted", "from mydocker.cli import table\n",
     "mydocker/runtime/planted.py:1 imports mydocker.cli.table (upward: runtime may not import cli)"),
    ("mydocker.cli.planted", "from ..image.store import Store\n",
     "mydocker/cli/planted.py:1 imports mydocker.image.store "
     "(the CLI imports only the engine's interface and base modules)"),
    ("mydocker.engine.planted", "def f():\n    from mydocker.runtime.create import create\n",
     "mydocker/engine/planted.py:2 imports mydocker.runtime.create "
     "(the engine imports the runtime only through mydocker.runtime.api)"),
    ("mydocker.image.planted",
     "from mydocker.lazy import lazy_module\nengine = lazy_module('mydocker.engine.engine')\n",
     "mydocker/image/planted.py:2 imports mydocker.engine.engine (upward: image may not import engine)"),
    ("mydocker.errors2", "from mydocker.linux import libc\n",
     "mydocker/errors2.py:1 imports mydocker.linux.libc (upward: base may not import linux)"),
])
def test_a_planted_violation_is_caught(planted, name, source, expected):
    found = violations(planted(name, source))
    assert expected in found.values(), sorted(found.values())


def test_a_planted_circle_is_caught(planted):
    # mydocker.errors imports nothing today; a base module that imports errors and is imported by it
    modules = planted("mydocker.planted", "import mydocker.errors\n")
    errors_src = open(modules["mydocker.errors"]).read() + "\ndef f():\n    import mydocker.planted\n"
    errors_path = os.path.join(os.path.dirname(modules["mydocker.planted"]), "errors_copy.py")
    with open(errors_path, "w") as f:
        f.write(errors_src)
    modules["mydocker.errors"] = errors_path
    found = violations(modules)
    assert "import circle: mydocker.errors -> mydocker.planted" in found.values(), sorted(found.values())
