"""The container init's import closure is loaded before pivot_root, and is exactly mydocker.lazy.EAGER.

After pivot_root the host's files are out of reach: every module the init may use must be in
sys.modules by then. Importing mydocker.runtime.init (the forked child does, before it pivots) must
load all of EAGER, and nothing the EAGER modules name (imports at any level, lazy_module names) may
lie outside it, except what is listed below with the reason it is safe.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from mydocker.lazy import EAGER

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = {"mydocker", "mydocker.linux", "mydocker.runtime"}

# Named by an EAGER module but not loaded with it, and why that is safe after pivot_root.
NOT_EAGER = {
    "mydocker.runtime.seccomp": "only with linux.seccomp, and then loaded by create before the fork "
                                "and used by the init before pivot_root (init._seccomp_program)",
    "json": "jsonio's error path only; the init parses only messages the runtime wrote",
}


def _loaded_by_importing_init() -> set[str]:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import mydocker.runtime.init; "
            "print('\\n'.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-IS", "-c", code, REPO], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def _named_by(module: str) -> set[str]:
    """Every module `module`'s source imports (any level) or names with lazy_module."""
    path = os.path.join(REPO, *module.split(".")) + ".py"
    if not os.path.exists(path):
        path = os.path.join(REPO, *module.split("."), "__init__.py")
    with open(path) as f:
        tree = ast.parse(f.read())
    named = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            named.add(node.module)
            named |= {f"{node.module}.{a.name}" for a in node.names
                      if os.path.exists(os.path.join(REPO, *node.module.split("."), a.name + ".py"))}
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_module":
            named.add(node.args[0].value)
    return named - {"__future__"}


def test_importing_the_init_loads_exactly_eager():
    loaded = {m for m in _loaded_by_importing_init() if m.startswith("mydocker")} - PACKAGES
    assert loaded - EAGER == set(), (
        f"the init's closure grew by {sorted(loaded - EAGER)}: add them to mydocker.lazy.EAGER (and mind the "
        "run path's import cost, docs/startup.md)")
    assert EAGER - loaded == set(), (
        f"EAGER names {sorted(EAGER - loaded)}, which importing mydocker.runtime.init does not load: "
        "import them at module level in the init's closure, or drop them from EAGER")


def test_nothing_the_init_closure_names_is_left_for_after_pivot_root():
    loaded = _loaded_by_importing_init()
    missing = {}
    for module in sorted(EAGER):
        for name in _named_by(module):
            if name not in loaded and name not in NOT_EAGER and name not in PACKAGES:
                missing.setdefault(module, []).append(name)
    assert not missing, (
        f"modules of the init's closure name modules that are not loaded before pivot_root: {missing}. "
        "Import them at module level (they become part of EAGER), or list them in NOT_EAGER with why it is safe")
