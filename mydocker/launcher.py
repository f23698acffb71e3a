"""Write start-up-fast launchers for `mydocker` and `mydocker-runtime`.

Site processing (.pth files) is slow on some machines (docs/startup.md). The launchers run Python
with -IS (isolated from PYTHON* variables, no site) and put the package's own directory and its
site-packages on sys.path themselves.

    python3 -m mydocker.launcher /usr/local/bin
"""

from __future__ import annotations

import os
import sys
import sysconfig

SCRIPTS = {"mydocker": "mydocker.cli.main", "mydocker-runtime": "mydocker.runtime.entry"}
_TEMPLATE = """#!{python} -IS
# Written by `python3 -m mydocker.launcher`: isolated (-I) and without site processing (-S), for a fast start.
import sys
sys.path.extend({paths!r})
from {module} import run_main
run_main()
"""


def launcher_text(module: str) -> str:
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = list(dict.fromkeys([package_parent, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    return _TEMPLATE.format(python=sys.executable, paths=paths, module=module)


def install(bindir: str) -> list[str]:
    os.makedirs(bindir, exist_ok=True)
    written = []
    for name, module in SCRIPTS.items():
        path = os.path.join(bindir, name)
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write(launcher_text(module))
        os.chmod(tmp, 0o755)
        os.rename(tmp, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in install(sys.argv[1] if len(sys.argv) > 1 else "/usr/local/bin"):
        print(written_path)
