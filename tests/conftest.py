"""Shared fixtures: isolated engine roots, the CLI as a user runs it, and a leak check after each test."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def host_objects() -> dict[str, set[str]]:
    """Host objects a container could leave behind: mounts, cgroups, links, network namespaces."""
    with open("/proc/self/mountinfo") as f:
        mounts = {line.split()[4] for line in f}
    cgroups = set()
    for top, dirs, _files in os.walk("/sys/fs/cgroup"):
        depth = top.count("/") - 3
        if depth >= 3:
            dirs[:] = []
        cgroups.update(os.path.join(top, d) for d in dirs if "mydocker" in d)
        dirs[:] = [d for d in dirs if d != "process_api"]  # the machine's own: never walk into it
    links = set(os.listdir("/sys/class/net"))
    netns = set(os.listdir("/run/mydocker/netns")) if os.path.isdir("/run/mydocker/netns") else set()
    return {"mount": mounts, "cgroup": cgroups, "link": links, "netns": netns}


@pytest.fixture
def no_leaks():
    before = host_objects()
    yield
    after = host_objects()
    leaked = {kind: sorted(after[kind] - before[kind]) for kind in after if after[kind] - before[kind]}
    assert not leaked, f"left behind: {leaked}"


@pytest.fixture(scope="session")
def bindir(tmp_path_factory) -> str:
    """`mydocker` and `mydocker-runtime` launchers for this checkout, written by the product's own code."""
    from mydocker import launcher
    path = str(tmp_path_factory.mktemp("bin"))
    launcher.install(path)
    return path


@dataclass
class Result:
    argv: list[str]
    rc: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"$ {' '.join(self.argv)}\nrc={self.rc}\nstdout: {self.out!r}\nstderr: {self.err!r}"


class CLI:
    """Run `mydocker` against private roots; every call is recorded in the failure message."""

    def __init__(self, bindir: str, root: str, runroot: str) -> None:
        self.exe = os.path.join(bindir, "mydocker")
        self.root = root
        self.runroot = runroot

    def argv(self, *args: str) -> list[str]:
        return [self.exe, "--root", self.root, "--runroot", self.runroot, *args]

    def __call__(self, *args: str, rc: int | None = 0, timeout: float = 60, input: str | None = None) -> Result:
        proc = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)
        result = Result(self.argv(*args), proc.returncode, proc.stdout, proc.stderr)
        if rc is not None:
            assert proc.returncode == rc, f"expected rc={rc}\n{result}"
        return result


@pytest.fixture
def roots(tmp_path):
    """Private engine and runtime roots; the name carries "mydocker" so leaks are findable."""
    base = tmp_path / "mydocker-test"
    base.mkdir()
    return str(base / "root"), str(base / "run")


@pytest.fixture
def mydocker(bindir, roots, no_leaks) -> CLI:
    return CLI(bindir, *roots)


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root: containers need namespaces and mounts")
        for item in items:
            if "/unit/" not in str(item.fspath):
                item.add_marker(skip)
