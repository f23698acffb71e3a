"""Write start-up-fast launchers for `mydocker` and `mydocker-runtime`.

Site processing (.pth files) is slow on some machines (docs/startup.md). The launchers run Python
with -IS (isolated from PYTHON* variables, no site) and put the package's own directory and its
site-packages on sys.path themselves. `mydocker` also imports the package's modules from one file
of compiled code (mydocker/codecache.py), written here; `mydocker-runtime` opens that file itself
(runtime/entry.py) once none of its fast paths answers: its `state`, called after nearly every
operation, loads four modules and would pay more for the file than it saves.

    python3 -m mydocker.launcher /usr/local/bin
"""

from __future__ import annotations

import os
import sys
import sysconfig

from mydocker import codecache

SCRIPTS = {"mydocker": "mydocker.cli.main", "mydocker-runtime": "mydocker.runtime.entry"}
CODE_CACHED = {"mydocker"}
_TEMPLATE = """#!{python} -IS
# Written by `python3 -m mydocker.launcher`: isolated (-I) and without site processing (-S), for a fast start.
import sys
sys.path.extend({paths!r})
{cache}from {module} import run_main
run_main()
"""
_CACHE = """from mydocker import forkserver_client
forkserver_client.serve({package_dir!r})
from mydocker import codecache
codecache.enable({package_dir!r})
"""
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def launcher_text(module: str, code_cache: bool = False) -> str:
    package_parent = os.path.dirname(PACKAGE_DIR)
    paths = list(dict.fromkeys([package_parent, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    cache = _CACHE.format(package_dir=PACKAGE_DIR) if code_cache else ""
    return _TEMPLATE.format(python=sys.executable, paths=paths, module=module, cache=cache)


def install(bindir: str) -> list[str]:
    os.makedirs(bindir, exist_ok=True)
    try:
        codecache.build(PACKAGE_DIR)
    except OSError:  # a read-only package: the launchers import as Python does, only slower
        pass
    written = []
    for name, module in SCRIPTS.items():
        path = os.path.join(bindir, name)
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write(launcher_text(module, code_cache=name in CODE_CACHED))
        os.chmod(tmp, 0o755)
        os.rename(tmp, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in install(sys.argv[1] if len(sys.argv) > 1 else "/usr/local/bin"):
        print(written_path)
