"""mydocker/codecache.py: the launcher's one-file import of the package's compiled modules."""

from __future__ import annotations

import os
import subprocess
import sys

from mydocker import codecache

PROBE = """
import sys
sys.path[:0] = [{parent!r}, {checkout!r}]
from mydocker import codecache
print(codecache.enable({package!r}))
import pkg.sub.mod, pkg.plain
for name in ("pkg", "pkg.sub", "pkg.sub.mod", "pkg.plain"):
    m = sys.modules[name]
    print(name, type(m.__spec__.loader).__name__, m.__file__, getattr(m, "__path__", None), getattr(m, "VALUE", None))
import importlib.util
print(all(sys.modules[n].__cached__ == importlib.util.cache_from_source(sys.modules[n].__file__)
          for n in ("pkg", "pkg.sub", "pkg.sub.mod", "pkg.plain")))
"""


def make_package(root) -> str:
    pkg = root / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "mod.py").write_text("VALUE = 'compiled'\n")
    (pkg / "plain.py").write_text("from pkg.sub import mod\nVALUE = mod.VALUE + '!'\n")
    return str(pkg)


def probe(package: str) -> list[str]:
    """Import the package in a fresh interpreter as the launcher does; its report, a line per module."""
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(codecache.__file__)))
    code = PROBE.format(parent=os.path.dirname(package), checkout=checkout, package=package)
    out = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_modules_come_from_the_cache_as_the_path_finder_would_load_them(tmp_path):
    package = make_package(tmp_path)
    codecache.build(package)
    lines = probe(package)
    assert lines[0] == "True"
    assert lines[1:] == [
        f"pkg CodeCacheFinder {package}/__init__.py ['{package}'] None",
        f"pkg.sub CodeCacheFinder {package}/sub/__init__.py ['{package}/sub'] None",
        f"pkg.sub.mod CodeCacheFinder {package}/sub/mod.py None compiled",
        f"pkg.plain CodeCacheFinder {package}/plain.py None compiled!",
        "True",  # __cached__ as the path finder sets it
    ]


def test_an_edited_or_new_module_is_left_to_the_path_finder(tmp_path):
    package = make_package(tmp_path)
    codecache.build(package)
    mod = os.path.join(package, "sub", "mod.py")
    with open(mod, "w") as f:
        f.write("VALUE = 'edited since'\n")
    os.utime(mod, ns=(1, 1))  # whatever the clock did, not the mtime the cache recorded
    lines = probe(package)
    assert f"pkg.sub.mod SourceFileLoader {mod} None edited since" in lines
    assert f"pkg.plain CodeCacheFinder {package}/plain.py None edited since!" in lines


def test_without_a_cache_file_nothing_changes(tmp_path):
    package = make_package(tmp_path)
    lines = probe(package)
    assert lines[0] == "False"
    assert all(" SourceFileLoader " in line for line in lines[1:-1])
