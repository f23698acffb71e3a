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
    """Host objects with mydocker's names (DESIGN.md): mounts, cgroups, links, network namespaces."""
    with open("/proc/self/mountinfo") as f:
        mounts = {line.split()[4] for line in f if "mydocker" in line.split()[4]}
    cgroups = set()
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", hierarchy)
        if os.path.isdir(top) and not os.path.islink(top):
            cgroups.update(os.path.join(top, d) for d in os.listdir(top) if d.startswith("mydocker"))
    links = {n for n in os.listdir("/sys/class/net") if n.startswith(("md", "mydocker"))}
    netns = set(os.listdir("/run/mydocker/netns")) if os.path.isdir("/run/mydocker/netns") else set()
    return {"mount": mounts, "cgroup": cgroups, "link": links, "netns": netns}


# What a container must never change on the host, however its config.json asks: the names of the
# host's UTS namespace, and sysctls of the host's own network, ipc and vm tables.
HOST_SETTINGS = ("kernel/hostname", "kernel/domainname", "vm/swappiness", "fs/file-max", "net/ipv4/ip_forward",
                 "kernel/shmmni")


def host_settings() -> dict[str, str]:
    values = {}
    for name in HOST_SETTINGS:
        with open(f"/proc/sys/{name}") as f:
            values[name] = f.read()
    return values


@pytest.fixture(scope="session", autouse=True)
def no_fork_server_after_the_run():
    """The CLI's fork server that this run's commands started (mydocker/forkserver_client.py) leaves
    with the run, not IDLE seconds later."""
    yield
    from mydocker import forkserver_client
    forkserver_client.stop_server(os.path.join(REPO, "mydocker"))


@pytest.fixture(scope="session", autouse=True)
def nothing_left_after_the_run(tmp_path_factory):
    """After the whole run, no host object with mydocker's names may be left that was not there before,
    and the host's own settings are as they were. What other pytest sessions on this host (the machine
    is shared) hold at that moment is theirs: their own checks judge it."""
    before = host_objects() if os.geteuid() == 0 else None
    settings = host_settings()
    yield
    if before is not None:
        after = not_of_other_sessions(host_objects(), str(tmp_path_factory.getbasetemp()), sessions_tmp_root())
        leaked = {kind: sorted(after[kind] - before[kind]) for kind in after if after[kind] - before[kind]}
        assert not leaked, f"the test run left behind: {leaked}"
    changed = {name: (value, now) for name, value in settings.items() if (now := host_settings()[name]) != value}
    assert not changed, f"the test run changed the host's settings (was, now): {changed}"


def sessions_tmp_root() -> str:
    """Where every pytest session of this user makes its numbered base directory (pytest-<n>)."""
    import getpass
    import tempfile
    return os.path.join(tempfile.gettempdir(), f"pytest-of-{getpass.getuser()}")


def root_names(base: str, root: str | None = None, runtime_root: str | None = None) -> tuple[str, tuple[str, ...]]:
    """The link-name prefix and the cgroup-name prefixes of the engine and runtime roots a test with
    tmp_path `base` uses (the `roots` fixture's and the integration and conformance tests' runtime roots), or of the
    given `root` and `runtime_root`."""
    from mydocker.engine.networks import root_tag
    from mydocker.runtime.create import default_cgroups_path
    tag = root_tag(root or os.path.join(base, "mydocker-test", "root"))
    runtimes = [runtime_root] if runtime_root else [os.path.join(base, "mydocker-test", "run", "runtime"),
                                                      os.path.join(base, "mydocker-runtime-root"),  # integration
                                                      os.path.join(base, "mydocker-oci-root")]  # conformance
    prefixes = tuple(default_cgroups_path(r, "").strip("/") for r in runtimes)  # mydocker-<root hash>-<id>
    return f"md{tag}", prefixes


def not_of_other_sessions(objects: dict[str, set[str]], own_base: str, tmp_root: str) -> dict[str, set[str]]:
    """`objects` (host_objects) less what belongs to others on this shared host: mounts under another
    pytest session's base directory in `tmp_root`, and links and cgroups named after the engine roots
    of another session's tests or of mydocker processes running from another checkout. Without this a
    session that ends while another runs a test blames itself for that test's containers."""
    own, tmp_root = os.path.join(os.path.abspath(own_base), ""), os.path.join(os.path.abspath(tmp_root), "")
    import glob
    names = [root_names(base) for base in glob.glob(os.path.join(glob.escape(tmp_root), "*", "*"))
             if not base.startswith(own)]  # each test directory of another session
    names += [root_names("", root, os.path.join(runroot, "runtime"))
              for root, runroot in _roots_of_other_checkouts(own)]
    names = [(link, prefixes) for link, prefixes in names if link != "md"]  # the default root is everyone's
    links = {link for link, _ in names}
    cgroups = {prefix for _, prefixes in names for prefix in prefixes}

    def theirs_path(path: str) -> bool:
        return path.startswith(tmp_root) and not path.startswith(own)
    return {**objects,
            "mount": {m for m in objects["mount"] if not theirs_path(m)},
            "link": {n for n in objects["link"] if not n.startswith(tuple(links))},
            "cgroup": {c for c in _in_shared_parent(objects["cgroup"], own)
                       if not os.path.basename(c).startswith(tuple(cgroups))}}


def _in_shared_parent(cgroups: set[str], own: str) -> set[str]:
    """The engine's containers of every root share the parent "mydocker" (cgroup <h>/mydocker/<id>),
    made with the first and pruned with the last: it is left behind only when empty; while it has
    containers, what is left is those of them whose container directories are this session's."""
    import glob
    out = set()
    for cgroup in cgroups:
        if os.path.basename(cgroup) != "mydocker":
            out.add(cgroup)
            continue
        children = glob.glob(os.path.join(cgroup, "*", ""))  # directories only
        if not children:
            out.add(cgroup)
        out.update(d[:-1] for d in children
                   # a root at <test dir>/mydocker-test/root (the `roots` fixture) or <dir>/<host>/root
                   if glob.glob(os.path.join(glob.escape(own), "*", "*", "*", "containers", os.path.basename(d[:-1]))))
    return out


def _roots_of_other_checkouts(own_base: str) -> set[tuple[str, str]]:
    """(root, runroot) of the live monitors (engine/monitor.py: `... main() ROOT RUNROOT FD`) and CLIs
    (`--root R --runroot RR`) that run neither from this checkout nor from this session's launchers."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")[:-1]
        except OSError:
            continue
        line = " ".join(argv)
        if "mydocker" not in line or REPO + "'" in line or own_base in line:
            continue
        if "mydocker.engine.monitor import main" in line and len(argv) >= 3:
            found.add((argv[-3], argv[-2]))
        elif "--root" in argv[:-1] and "--runroot" in argv[:-1]:
            found.add((argv[argv.index("--root") + 1], argv[argv.index("--runroot") + 1]))
    return found


def _own_objects(base: str) -> dict[str, set[str]]:
    """What this test's own roots (all under `base`) put on the host.

    Scoped so that tests running at the same time on one host cannot blame each other: mounts under
    `base`, links named with its engine root's tag, cgroups under its runtime roots' parents.
    """
    with open("/proc/self/mountinfo") as f:
        mounts = {line.split()[4] for line in f if line.split()[4].startswith(base)}
    link, prefixes = root_names(base)
    links = {n for n in os.listdir("/sys/class/net") if n.startswith(link)}
    cgroups = set()
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", hierarchy)
        if os.path.isdir(top) and not os.path.islink(top):
            cgroups.update(os.path.join(top, d) for d in os.listdir(top) if d.startswith(prefixes))
    netns_dir = os.path.join(base, "mydocker-test", "run", "netns")
    netns = set(os.listdir(netns_dir)) if os.path.isdir(netns_dir) else set()
    return {"mount": mounts, "cgroup": cgroups, "link": links, "netns": netns}


@pytest.fixture(autouse=True)
def no_subreaper_after_the_test():
    """A test that makes this process a child subreaper (runtime tests, in-process `run`s) ends it: else
    every later orphan (a rootless stack's keeper, an exited `create`'s init) is adopted by pytest, which
    never reaps it, and stays a zombie of its user for the rest of the session."""
    yield
    from mydocker.linux import syscalls as sc
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 0)


@pytest.fixture
def engine_base(tmp_path):
    """The directory a test's engine and runtime roots go under (`roots`), and so what `no_leaks`
    looks at: the test's tmp_path, unless a test module needs them elsewhere."""
    return tmp_path


@pytest.fixture
def no_leaks(engine_base):
    from tests.netkit import settled_links
    base = str(engine_base)
    before = _own_objects(base)
    yield
    after = _own_objects(base)
    if after["link"] - before["link"]:  # veths the kernel deletes with their netns, a little later
        after["link"] = settled_links(lambda: _own_objects(base)["link"], before["link"])
    leaked = {kind: sorted(after[kind] - before[kind]) for kind in after if after[kind] - before[kind]}
    assert not leaked, f"left behind: {leaked}"


def unpack_busybox(rootfs, scratch) -> None:
    """The busybox image's one layer (made from the host's busybox-static) unpacked into `rootfs`."""
    import tarfile
    from mydocker.image.busybox import build_layer, find_host_busybox
    from mydocker.image.layer import NO_FILTER  # our own layer: no filter needed, where Python has one
    layer = os.path.join(scratch, "busybox-layer.tar")
    with open(layer, "wb") as out:
        build_layer(find_host_busybox(), out)
    os.makedirs(rootfs, exist_ok=True)
    with tarfile.open(layer) as tar:
        tar.extractall(rootfs, numeric_owner=True, **NO_FILTER)
    os.unlink(layer)


def remapped_copy(rootfs: str, prefix: str):
    """Yield a copy of `rootfs` owned by host uid 100000, in a fresh directory outside pytest's 0700
    tmp dirs (a container's remapped root must reach it); removed afterwards. For fixtures."""
    import shutil
    import tempfile
    base = tempfile.mkdtemp(prefix=prefix)
    os.chmod(base, 0o755)
    copy = os.path.join(base, "rootfs")
    subprocess.run(["cp", "-a", rootfs, copy], check=True)
    subprocess.run(["chown", "-R", "-h", "100000:100000", copy], check=True)
    yield copy
    shutil.rmtree(base)


def bundle_factory(directory, rootfs: str, base_config, prefix: str):
    """make(args, edit=None) -> a new bundle dir in `directory`: `rootfs` linked in as its rootfs,
    config.json from base_config(args), changed by `edit(config)` before it is written."""
    import itertools
    import json
    numbers = itertools.count(1)

    def make(args: list[str], edit=None) -> str:
        path = directory / f"{prefix}{next(numbers)}"
        path.mkdir()
        os.symlink(rootfs, path / "rootfs")
        config = base_config(args)
        if edit:
            edit(config)
        (path / "config.json").write_text(json.dumps(config))
        return str(path)

    return make


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
def roots(engine_base):
    """Private engine and runtime roots; the name carries "mydocker" so leaks are findable."""
    base = engine_base / "mydocker-test"
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
