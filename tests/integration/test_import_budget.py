"""Start-up budgets: the modules the hot commands load, pinned, so a start-up regression fails here.

Each command runs through its launcher (python -IS) under `-X importtime`, with private roots; the
modules it imports (its forked children's too: their stderr is ours) are compared with BUDGET: every
mydocker module, and the stdlib/third-party modules in NOTABLE (the expensive ones). Costs and
reasons: docs/startup.md.
"""

from __future__ import annotations

import os
import subprocess

import pytest

# Modules whose import cost matters: pinned on every path, loaded or not.
NOTABLE = {
    "argparse", "asyncio", "contextlib", "ctypes", "dataclasses", "datetime", "email", "enum", "functools", "gettext",
    "hashlib", "http",
    "inspect", "json", "locale", "logging", "multiprocessing", "pathlib", "pyroute2", "random", "re", "selectors",
    "shutil", "signal", "socket", "sqlite3", "_sqlite3", "ssl", "subprocess", "tarfile", "tempfile", "threading",
    "typing", "urllib", "uuid", "zlib",
}

# Exactly the pinned modules each command loads. To change a list, measure the cost first
# (`python -IS -X importtime <launcher> ...`), then edit it here and say why in docs/startup.md.
BUDGET = {
    "mydocker-runtime state": {
        "mydocker", "mydocker.runtime", "mydocker.runtime.entry", "mydocker.runtime.state_view",
    },
    "mydocker-runtime kill": {  # the fast path of containerd's `kill ID 9`: state's modules
        "mydocker", "mydocker.runtime", "mydocker.runtime.entry", "mydocker.runtime.state_view",
    },
    "mydocker-runtime kill --all (stopped)": {  # and of its `kill --all ID 9` once the init is gone
        "mydocker", "mydocker.jsonio", "mydocker.lazy", "mydocker.runtime", "mydocker.runtime.entry",
        "mydocker.runtime.state_view",
    },
    "mydocker-runtime run": {  # zlib: a private --root names its cgroups with the root's crc32
        "zlib",
        "mydocker", "mydocker.collector", "mydocker.errors", "mydocker.exit", "mydocker.flags", "mydocker.jsonio",
        "mydocker.lazy", "mydocker.linux", "mydocker.linux.fs", "mydocker.linux.libc", "mydocker.linux.net",
        "mydocker.linux.syscalls", "mydocker.linux.tty", "mydocker.recordclass", "mydocker.runtime",
        "mydocker.runtime.caps",
        "mydocker.codecache",  # entry's, once no fast path answers: the rest come from its one file
        "mydocker.forkserver_client",  # a foreground run's, before the cache: a warm server may run it
        "mydocker.runtime.cgroups",
        "mydocker.runtime.cgroups.base", "mydocker.runtime.cgroups.convert", "mydocker.runtime.cgroups.detect",
        "mydocker.runtime.cgroups.v1", "mydocker.runtime.channel", "mydocker.runtime.cli", "mydocker.runtime.command",
        "mydocker.runtime.create", "mydocker.runtime.delete", "mydocker.runtime.entry", "mydocker.runtime.foreground",
        "mydocker.runtime.hooks", "mydocker.runtime.init", "mydocker.runtime.mountopts", "mydocker.runtime.paths",
        "mydocker.runtime.prewarm", "mydocker.runtime.process", "mydocker.runtime.rootfs", "mydocker.runtime.schema",
        "mydocker.runtime.oci_config", "mydocker.runtime.start", "mydocker.runtime.state_file",
        "mydocker.runtime.state_view",
        "mydocker.runtime.validate",
    },
    "mydocker ps": {
        "_sqlite3", "enum", "functools", "json", "re",  # functools: re's (cli/table.py's json)
        "mydocker", "mydocker.cli", "mydocker.cli.gotemplate", "mydocker.cli.main", "mydocker.cli.ps",
        "mydocker.codecache",  # the launcher's: the rest come from its one file (docs/startup.md)
        "mydocker.forkserver_client",  # the launcher's first: is a fork server there to run it?
        "mydocker.cli.table", "mydocker.collector", "mydocker.engine", "mydocker.engine.api",
        "mydocker.engine.container_paths", "mydocker.engine.containers", "mydocker.engine.engine",
        "mydocker.engine.filters", "mydocker.engine.inspect",
        "mydocker.engine.observation", "mydocker.engine.options", "mydocker.engine.database",
        "mydocker.engine.reports", "mydocker.errors", "mydocker.exit", "mydocker.flags", "mydocker.jsonio",
        "mydocker.lazy", "mydocker.recordclass", "mydocker.sqlite",
    },
    "mydocker run --rm --network none busybox true": {
        "_sqlite3", "zlib",
        "mydocker", "mydocker.cli", "mydocker.cli.main", "mydocker.cli.run", "mydocker.cli.terminal",
        "mydocker.codecache", "mydocker.forkserver_client",
        "mydocker.collector", "mydocker.engine", "mydocker.engine.api", "mydocker.engine.container_paths",
        "mydocker.engine.containers", "mydocker.engine.docker_config", "mydocker.engine.engine",
        "mydocker.engine.events", "mydocker.engine.images", "mydocker.engine.names", "mydocker.engine.network_files",
        "mydocker.engine.network_schema",
        "mydocker.engine.network_store", "mydocker.engine.networks", "mydocker.engine.observation",
        "mydocker.engine.options", "mydocker.engine.database", "mydocker.engine.reports", "mydocker.engine.resources",
        "mydocker.engine.security", "mydocker.engine.bundle_config", "mydocker.engine.units", "mydocker.engine.userns",
        "mydocker.engine.users", "mydocker.engine.volumes", "mydocker.errors", "mydocker.exit", "mydocker.flags",
        "mydocker.image", "mydocker.image.reference", "mydocker.image.snapshot", "mydocker.image.store",
        "mydocker.jsonio", "mydocker.lazy", "mydocker.linux", "mydocker.linux.fs", "mydocker.linux.libc",
        "mydocker.linux.net", "mydocker.linux.seccomp", "mydocker.linux.syscalls", "mydocker.linux.tty",
        "mydocker.network", "mydocker.network.driver", "mydocker.network.etcfiles", "mydocker.network.netns",
        "mydocker.recordclass", "mydocker.runtime", "mydocker.runtime.api",
        "mydocker.runtime.caps", "mydocker.runtime.cgroups", "mydocker.runtime.cgroups.base",
        "mydocker.runtime.cgroups.convert", "mydocker.runtime.cgroups.detect", "mydocker.runtime.cgroups.v1",
        "mydocker.runtime.channel", "mydocker.runtime.command", "mydocker.runtime.create", "mydocker.runtime.delete",
        "mydocker.runtime.foreground", "mydocker.runtime.hooks", "mydocker.runtime.init",
        "mydocker.runtime.mountopts", "mydocker.runtime.paths", "mydocker.runtime.prewarm",
        "mydocker.runtime.process", "mydocker.runtime.rootfs", "mydocker.runtime.seccomp",
        "mydocker.runtime.oci_config", "mydocker.runtime.start", "mydocker.runtime.state_file",
        "mydocker.runtime.stats",
        "mydocker.runtime.state_view", "mydocker.sqlite",
    },
}


# The budgets are a process's that runs the command itself: the first after the CLI's fork server has
# gone (a served command's client loads only mydocker.forkserver_client: tests/integration/test_forkserver.py).
IN_PROCESS = {**os.environ, "MYDOCKER_FORKSERVER": "0"}


def loaded_modules(launcher: str, *args: str) -> set[str]:
    """The modules `launcher args` imports, by its own interpreter and flags plus -X importtime."""
    with open(launcher) as f:
        interpreter = f.readline()[2:].split()
    proc = subprocess.run([*interpreter, "-X", "importtime", launcher, *args], capture_output=True, text=True,
                          env=IN_PROCESS,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0, f"{launcher} {' '.join(args)}: rc={proc.returncode}\n{proc.stderr[-2000:]}"
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")
            and not line.rstrip().endswith("| package")}


def check_budget(command: str, loaded: set[str]) -> None:
    pinned = {m for m in loaded if m.startswith("mydocker") or m in NOTABLE}
    budget = BUDGET[command]
    added, gone = sorted(pinned - budget), sorted(budget - pinned)
    assert not added, (
        f"`{command}` now loads {added}, outside its start-up budget. Import them lazily "
        "(mydocker.lazy.lazy_module) if this path does not need them; if it does, measure the cost "
        "(python -IS -X importtime) and add them to BUDGET in tests/integration/test_import_budget.py, "
        "with the reason in docs/startup.md")
    assert not gone, (
        f"`{command}` no longer loads {gone}: good; remove them from its BUDGET in "
        "tests/integration/test_import_budget.py so that they cannot come back unnoticed")


def test_runtime_state_budget(bindir, make_bundle, runtime_root):
    runtime = os.path.join(bindir, "mydocker-runtime")
    subprocess.run([runtime, "--root", runtime_root, "create", "--bundle", make_bundle(["true"]), "budget"],
                   check=True, stdin=subprocess.DEVNULL, timeout=60)
    try:
        loaded = loaded_modules(runtime, "--root", runtime_root, "state", "budget")
    finally:
        subprocess.run([runtime, "--root", runtime_root, "delete", "--force", "budget"], check=True, timeout=60)
    check_budget("mydocker-runtime state", loaded)


def test_runtime_kill_budgets(bindir, make_bundle, runtime_root):
    """The signal that stops a created container, then --all on what is left (nothing)."""
    runtime = os.path.join(bindir, "mydocker-runtime")
    subprocess.run([runtime, "--root", runtime_root, "create", "--bundle", make_bundle(["true"]), "budget-kill"],
                   check=True, stdin=subprocess.DEVNULL, timeout=60)
    try:
        check_budget("mydocker-runtime kill",
                     loaded_modules(runtime, "--root", runtime_root, "kill", "budget-kill", "9"))
        for _ in range(500):  # the init's parent (we, through `create`'s exit) is init: it reaps it
            state = subprocess.run([runtime, "--root", runtime_root, "state", "budget-kill"], capture_output=True,
                                   text=True, timeout=60).stdout
            if '"stopped"' in state:
                break
        check_budget("mydocker-runtime kill --all (stopped)",
                     loaded_modules(runtime, "--root", runtime_root, "kill", "--all", "budget-kill", "9"))
    finally:
        subprocess.run([runtime, "--root", runtime_root, "delete", "--force", "budget-kill"], check=True, timeout=60)


def test_runtime_run_budget(bindir, make_bundle, runtime_root):
    runtime = os.path.join(bindir, "mydocker-runtime")
    loaded = loaded_modules(runtime, "--root", runtime_root, "run", "--bundle", make_bundle(["true"]), "budget-run")
    check_budget("mydocker-runtime run", loaded)


def loaders(launcher: str, *args: str) -> dict[str, str]:
    """{module: its loader's class} for each mydocker module `launcher args` imports (forked children's too),
    from the interpreter's own -v report."""
    with open(launcher) as f:
        interpreter = f.readline()[2:].split()
    proc = subprocess.run([*interpreter, "-v", launcher, *args], capture_output=True, text=True, env=IN_PROCESS,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0, f"{launcher} {' '.join(args)}: rc={proc.returncode}\n{proc.stderr[-2000:]}"
    found = {}
    for line in proc.stderr.splitlines():  # import 'mydocker.x' # <mydocker.codecache.CodeCacheFinder object at 0x..>
        if line.startswith("import 'mydocker"):
            name, _, loader = line[len("import '"):].partition("' # <")
            found[name] = loader.split(" object")[0]
    return found


# What `mydocker-runtime` imports before it knows a fast path will not answer: the path finder's.
RUNTIME_BEFORE_CACHE = {"mydocker", "mydocker.runtime", "mydocker.runtime.entry", "mydocker.runtime.state_view",
                        "mydocker.codecache"}


def test_runtime_run_imports_from_the_code_cache_and_state_never_opens_it(bindir, make_bundle, runtime_root):
    runtime = os.path.join(bindir, "mydocker-runtime")
    run = loaders(runtime, "--root", runtime_root, "run", "--bundle", make_bundle(["true"]), "cache-run")
    from_path = {name for name, loader in run.items() if loader != "mydocker.codecache.CodeCacheFinder"}
    # and the fork server's client (built-in modules only): a foreground run is a warm server's if one runs
    assert from_path == RUNTIME_BEFORE_CACHE | {"mydocker.forkserver_client"}, \
        f"run: loaded by the path finder: {sorted(from_path)}"
    assert "mydocker.runtime.init" in run  # the forked init's imports are reported (and cached) too
    subprocess.run([runtime, "--root", runtime_root, "create", "--bundle", make_bundle(["true"]), "cache-state"],
                   check=True, stdin=subprocess.DEVNULL, timeout=60)
    try:
        state = loaders(runtime, "--root", runtime_root, "state", "cache-state")
    finally:
        subprocess.run([runtime, "--root", runtime_root, "delete", "--force", "cache-state"], check=True, timeout=60)
    assert set(state) == RUNTIME_BEFORE_CACHE - {"mydocker.codecache"}, f"state: {state}"


@pytest.fixture
def warm(mydocker):
    """A root whose busybox image and seccomp cache exist: the budget is a repeated run's, as users see."""
    mydocker("run", "--rm", "--network", "none", "busybox", "true")
    return mydocker


def test_ps_budget(warm):
    check_budget("mydocker ps", loaded_modules(warm.exe, "--root", warm.root, "--runroot", warm.runroot, "ps"))


def test_run_budget(warm):
    loaded = loaded_modules(warm.exe, "--root", warm.root, "--runroot", warm.runroot,
                            "run", "--rm", "--network", "none", "busybox", "true")
    check_budget("mydocker run --rm --network none busybox true", loaded)


def test_a_module_added_to_a_path_fails_the_budget():
    with pytest.raises(AssertionError, match=r"now loads \['asyncio'\], outside its start-up budget"):
        check_budget("mydocker-runtime state", BUDGET["mydocker-runtime state"] | {"asyncio", "asyncio.events"})
    with pytest.raises(AssertionError, match=r"no longer loads \['mydocker.runtime.state_view'\]"):
        check_budget("mydocker-runtime state", BUDGET["mydocker-runtime state"] - {"mydocker.runtime.state_view"})
