"""The CLI is parsing and formatting over the engine's declared interface (mydocker/engine/api.py):
it imports nothing else of the engine and nothing below it, at module level or inside functions."""

from __future__ import annotations

import ast
import pathlib

import mydocker

CLI = pathlib.Path(mydocker.__file__).parent / "cli"
APISERVER = CLI.parent / "apiserver"
BASE = ("mydocker.engine.api", "mydocker.errors", "mydocker.recordclass", "mydocker.jsonio", "mydocker.collector",
        "mydocker.exit", "mydocker.flags", "mydocker.lazy", "mydocker.forkserver_client", "mydocker.forkserver")
ALLOWED = ("mydocker.cli", "mydocker.apiserver", *BASE)  # `system service` starts the API server, a front end too


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.lineno, node.module if node.module != "mydocker" else f"mydocker.{alias.name}")
                      for alias in node.names]
    return found


def test_the_cli_imports_only_the_engine_interface_and_base_modules():
    wrong = [f"{path.name}:{line} {name}" for path in sorted(CLI.glob("*.py")) for line, name in _imports(path)
             if name.startswith("mydocker") and not name.startswith(ALLOWED)]
    assert not wrong, "the CLI reaches past mydocker/engine/api.py: " + ", ".join(wrong)


def test_the_cli_reads_no_engine_internals():
    """No records, roots or service internals: what the CLI needs is a verb of the interface."""
    wrong = [f"{path.name}:{n}" for path in sorted(CLI.glob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if any(x in line for x in ("engine.records", "engine.root", "engine.runroot", "service.records",
                                        "containers.records", "images.pull_progress", "getattr(engine"))]
    assert not wrong, "the CLI reads the engine's internals: " + ", ".join(wrong)


def test_the_api_server_imports_only_the_engine_interface_and_base_modules():
    """The Docker Engine API is a front end beside the CLI: no engine logic, nothing below the interface."""
    wrong = [f"{path.name}:{line} {name}" for path in sorted(APISERVER.glob("*.py")) for line, name in _imports(path)
             if name.startswith("mydocker") and not name.startswith(("mydocker.apiserver", *BASE))]
    assert not wrong, "the API server reaches past mydocker/engine/api.py: " + ", ".join(wrong)
