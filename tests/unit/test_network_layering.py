"""The network layer stays under the engine: nothing in mydocker/network/ imports the engine or the
CLI (module- or function-level), so drivers cannot reach the engine's store, and the network
service's modules form no import circle with the engine."""

from __future__ import annotations

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def imports(path: str) -> set[str]:
    """Every module a file imports, wherever the import statement is."""
    found = set()
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def package_modules(repo: str) -> dict[str, str]:
    modules = {}
    for directory, _dirs, files in os.walk(os.path.join(repo, "mydocker")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                module = os.path.relpath(path, repo)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                modules[module] = path
    return modules


def upward_from_network(repo: str) -> list[str]:
    return sorted(f"{module} imports {target}" for module, path in package_modules(repo).items()
                  if module.startswith("mydocker.network.")
                  for target in imports(path) if target.startswith(("mydocker.engine", "mydocker.cli")))


def circles_through(repo: str, prefix: str) -> list[list[str]]:
    """Import circles (strongly connected components) holding a module whose name starts with prefix."""
    modules = package_modules(repo)
    edges = {m: {t for t in imports(p) if t in modules and t not in (m, "mydocker")} for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 and any(m.startswith(prefix) for m in component):
                circles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return circles


def test_the_network_layer_imports_neither_the_engine_nor_the_cli():
    assert upward_from_network(REPO) == []


def test_no_import_circle_runs_through_the_network_modules():
    assert circles_through(REPO, "mydocker.network") == []
    assert circles_through(REPO, "mydocker.engine.network") == []
