"""The fork servers of the CLI and of `mydocker-runtime run` (mydocker/forkserver.py,
mydocker/forkserver_client.py): a served command is the command a fresh process runs, what it sees and
what it prints, and only the fork server's own work (no import of ours) is left out; where a client's
process differs from the server's, or the server's code is stale, the command runs in-process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from mydocker import forkserver_client as client

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OURS_IN_A_CLIENT = {"mydocker", "mydocker.forkserver_client"}


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def server_listens(package_dir: str, front: bytes = client.CLI) -> bool:
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(client.socket_path(package_dir, front))
        except OSError:
            return False
    return True


def package_of(bindir: str) -> str:
    with open(os.path.join(bindir, "mydocker")) as f:
        text = f.read()
    return text.split("forkserver_client.serve(")[1].split(")")[0].strip("'\"")


@pytest.fixture
def served(mydocker, bindir):
    """The CLI of the `mydocker` fixture, with its package's server listening."""
    package = package_of(bindir)
    if not server_listens(package):
        mydocker("ps")  # finds none: starts one on its way out
        wait_for(lambda: server_listens(package))
    return mydocker


def imports(launcher: str, *args: str, env: dict | None = None, prefix: tuple[str, ...] = (),
            stdin=subprocess.DEVNULL) -> tuple[set[str], subprocess.CompletedProcess]:
    """Our modules `launcher args` imports in its own process (-X importtime), and its result."""
    with open(launcher) as f:
        interpreter = f.readline()[2:].split()
    proc = subprocess.run([*prefix, *interpreter, "-X", "importtime", launcher, *args], capture_output=True,
                          text=True, stdin=stdin, timeout=60, env=env)
    loaded = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
              if line.startswith("import time:")}
    return {m for m in loaded if m.startswith("mydocker")}, proc


def test_a_command_that_found_no_server_starts_one_and_the_next_is_served(mydocker, bindir):
    package = package_of(bindir)
    client.stop_server(package)
    wait_for(lambda: not server_listens(package))
    ours, proc = imports(mydocker.exe, *mydocker.argv("ps")[1:])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "mydocker.engine.api" in ours  # it ran here
    wait_for(lambda: server_listens(package))
    ours, proc = imports(mydocker.exe, *mydocker.argv("run", "--rm", "--network", "none", "busybox", "echo", "hi")[1:])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "hi\n"
    assert ours == OURS_IN_A_CLIENT, f"a served command imported {sorted(ours - OURS_IN_A_CLIENT)} here"
    assert not [line for line in proc.stderr.splitlines() if line.startswith("import time:") and "mydocker" in line
                and line.rsplit("|", 1)[1].strip() not in OURS_IN_A_CLIENT], "the server's child imported these"


@pytest.mark.parametrize("args", [
    ["run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"],
    ["run", "--rm", "--network", "none", "-e", "FROM_CLIENT", "busybox", "sh", "-c", "echo $FROM_CLIENT; pwd"],
    ["run", "--rm", "--network", "none", "--env-file", "./vars", "busybox", "sh", "-c", "echo $FROM_FILE"],
    ["run", "--rm", "-i", "--network", "none", "busybox", "sh", "-c", "ulimit -n; umask; cat"],
    ["run", "--rm", "--network", "none", "busybox", "no-such-command"],
    ["run", "--no-such-flag", "busybox"],
    ["inspect", "no-such-container"],
    ["ps", "-a", "--format", "{{.Names}}"],
], ids=["exit-code-and-streams", "environment", "working-directory", "rlimits-umask-stdin", "127", "125",
        "error", "ps"])
def test_a_served_command_does_what_the_same_command_does_in_process(served, bindir, tmp_path, args):
    (tmp_path / "vars").write_text("FROM_FILE=from the file\n")
    env = {**os.environ, "FROM_CLIENT": "from the client's environment"}
    results = []
    for forkserver in ("1", "0"):
        proc = subprocess.run(["prlimit", "--nofile=777:777", "sh", "-c", 'umask 027; exec "$@"', "sh",
                               *served.argv(*args)], capture_output=True, text=True, input="from stdin\n",
                              cwd=tmp_path, env={**env, "MYDOCKER_FORKSERVER": forkserver}, timeout=60)
        results.append((proc.returncode, proc.stdout, proc.stderr))
    assert results[0] == results[1], f"served, then in-process: {results}"
    if args[-1].endswith("cat"):
        assert results[0][1] == "777\n0027\nfrom stdin\n"


# A container that says "up", then leaves with 7 at SIGTERM.
TRAPS_TERM = ["sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo up; while :; do sleep 0.1; done"]


def terminated(argv: list[str], clean_up) -> tuple[int, str, str]:
    """Start `argv` (a client whose container runs TRAPS_TERM), SIGTERM it once the container is up:
    (exit code, stdout, stderr). `clean_up()` removes the container if the client had to be killed."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline() == "up\n"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            clean_up()
    return proc.returncode, out, err


def test_signals_to_the_client_reach_the_command(served, bindir):
    code, out, err = terminated(served.argv("run", "--rm", "--network", "none", "--name", "sigs", "busybox",
                                            *TRAPS_TERM), lambda: served("rm", "-f", "sigs", rc=None))
    assert (code, out) == (7, "got TERM\n"), err


def test_a_client_in_other_namespaces_runs_the_command_itself(served):
    ours, proc = imports(served.exe, *served.argv("run", "--rm", "--network", "none", "busybox", "echo", "hi")[1:],
                         prefix=("unshare", "--mount", "--uts"))
    assert (proc.returncode, proc.stdout) == (0, "hi\n"), proc.stderr[-2000:]
    assert "mydocker.engine.api" in ours  # declined: the engine ran in the client's own namespaces


def test_no_server_with_mydocker_forkserver_0(served):
    env = {**os.environ, "MYDOCKER_FORKSERVER": "0"}
    ours, proc = imports(served.exe, *served.argv("ps")[1:], env=env)
    assert proc.returncode == 0 and "mydocker.engine.api" in ours


def test_a_server_whose_code_changed_on_disk_lets_the_client_run_it_and_leaves(tmp_path, no_leaks):
    """Its own copy of the package (sources and code cache): an edit there must reach the next command."""
    package = tmp_path / "pkg" / "mydocker"
    shutil.copytree(os.path.join(REPO, "mydocker"), package, ignore=shutil.ignore_patterns("__pycache__"))
    bindir = tmp_path / "bin"
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); from mydocker import launcher; "
                    "launcher.install(sys.argv[2])", str(package.parent), str(bindir)], check=True, timeout=120)
    exe = str(bindir / "mydocker")
    root, runroot = str(tmp_path / "mydocker-test" / "root"), str(tmp_path / "mydocker-test" / "run")
    try:
        subprocess.run([exe, "--root", root, "--runroot", runroot, "ps"], check=True, timeout=60,
                       stdin=subprocess.DEVNULL, capture_output=True)
        wait_for(lambda: server_listens(str(package)))
        ours, _ = imports(exe, "--root", root, "--runroot", runroot, "ps")
        assert ours == OURS_IN_A_CLIENT
        source = package / "cli" / "ps.py"
        source.write_text(source.read_text().replace('"CONTAINER ID"', '"CONTAINER-ID"'))
        ours, proc = imports(exe, "--root", root, "--runroot", runroot, "ps")
        assert proc.returncode == 0 and proc.stdout.startswith("CONTAINER-ID"), proc.stdout
        assert "mydocker.engine.api" in ours
        wait_for(lambda: not server_listens(str(package)))
    finally:
        client.stop_server(str(package))
        wait_for(lambda: not os.path.exists(client.socket_path(str(package))))


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def test_a_served_command_dies_with_its_client(served, bindir):
    """SIGKILL to the CLI's process ends the command there (as it would in-process), not a child elsewhere."""
    with open(client.socket_path(package_of(bindir)) + ".lock") as f:
        server = int(f.read())
    proc = subprocess.Popen(served.argv("run", "--rm", "--network", "none", "--name", "orphaned", "busybox", "sh",
                                        "-c", "echo up; sleep 60"),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline() == "up\n"
        pipe = f"pipe:[{os.fstat(proc.stdout.fileno()).st_ino}]"

        def writing_to_us(pid: int) -> bool:  # the server's child that runs it (other sessions may share the server)
            try:
                return os.readlink(f"/proc/{pid}/fd/1") == pipe
            except OSError:
                return False
        found = [pid for pid in children_of(server) if writing_to_us(pid)]
        assert len(found) == 1, (server, pipe, {pid: os.readlink(f"/proc/{pid}/fd/1") for pid in children_of(server)})
        child = found[0]
        proc.kill()
        proc.wait()
        wait_for(lambda: child not in children_of(server))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        served("rm", "-f", "orphaned", rc=None)


# `mydocker-runtime run` in the foreground (runtime/entry.py): the client loads the entry point's modules
# and the client module, nothing of the runtime itself.
OURS_IN_A_RUNTIME_CLIENT = {"mydocker", "mydocker.runtime", "mydocker.runtime.entry", "mydocker.runtime.state_view",
                            "mydocker.forkserver_client"}


@pytest.fixture
def runtime(bindir, make_bundle, runtime_root):
    """The checkout's `mydocker-runtime`, with its package's server listening."""
    exe = os.path.join(bindir, "mydocker-runtime")
    package = package_of(bindir)
    if not server_listens(package, client.RUNTIME):
        subprocess.run([exe, "--root", runtime_root, "run", "--bundle", make_bundle(["true"]), "starts-one"],
                       check=True, stdin=subprocess.DEVNULL, timeout=60)  # finds none: starts one on its way out
        wait_for(lambda: server_listens(package, client.RUNTIME))
    return exe


def test_a_served_runtime_run_loads_only_its_entry_point(runtime, make_bundle, runtime_root):
    ours, proc = imports(runtime, "--root", runtime_root, "run", "--bundle", make_bundle(["echo", "hi"]), "entry-only")
    assert (proc.returncode, proc.stdout) == (0, "hi\n"), proc.stderr[-2000:]
    assert ours == OURS_IN_A_RUNTIME_CLIENT, f"a served run imported {sorted(ours - OURS_IN_A_RUNTIME_CLIENT)} here"
    assert not [line for line in proc.stderr.splitlines() if line.startswith("import time:") and "mydocker" in line
                and line.rsplit("|", 1)[1].strip() not in OURS_IN_A_RUNTIME_CLIENT], "the server's child imported these"


@pytest.mark.parametrize("args", [
    ["sh", "-c", "echo out; echo err >&2; exit 3"],
    ["sh", "-c", "ulimit -n; cat /proc/self/oom_score_adj; cat"],
    ["no-such-command"],
], ids=["exit-code-and-streams", "rlimits-oom-score-stdin", "not-found"])
def test_a_served_runtime_run_does_what_it_does_in_process(runtime, make_bundle, runtime_root, args):
    """The client's rlimits and OOM score reach the container (its config sets neither), as its stdin and
    streams do; relative paths are the client's."""
    bundle = make_bundle(args)
    results = []
    for forkserver in ("1", "0"):
        pid_file = os.path.join(os.path.dirname(bundle), f"pid-{forkserver}")
        proc = subprocess.run(["prlimit", "--nofile=777:777", "sh", "-c",
                               'echo 123 > /proc/self/oom_score_adj; exec "$@"', "sh",
                               runtime, "--root", runtime_root, "run", "--bundle", os.path.basename(bundle),
                               "--pid-file", os.path.basename(pid_file), f"same-{forkserver}"],
                              capture_output=True, text=True, input="from stdin\n", cwd=os.path.dirname(bundle),
                              env={**os.environ, "MYDOCKER_FORKSERVER": forkserver}, timeout=60)
        results.append((proc.returncode, proc.stdout, proc.stderr.replace(f"same-{forkserver}", "ID")))
        assert proc.returncode == 1 or os.path.exists(pid_file)  # 1: runc's code for a command not found
    assert results[0] == results[1], f"served, then in-process: {results}"
    if args[-1] == "cat":
        assert results[0][:2] == (0, "777\n123\nfrom stdin\n")


def test_a_runtime_run_puts_the_container_in_its_cgroup_in_every_hierarchy(runtime, make_bundle, runtime_root):
    """Served, the init is cloned into its cgroup2 directory and joins the v1 hierarchies itself; in
    process too (no thread of the runtime's stands in clone3's way): the same place either way."""
    from mydocker.runtime.create import default_cgroups_path
    bundle = make_bundle(["cat", "/proc/self/cgroup"])
    for forkserver in ("1", "0"):
        name = f"every-{forkserver}"
        proc = subprocess.run([runtime, "--root", runtime_root, "run", "--bundle", bundle, name],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
                              env={**os.environ, "MYDOCKER_FORKSERVER": forkserver})
        assert proc.returncode == 0, proc.stderr[-2000:]
        lines = proc.stdout.splitlines()
        wanted = default_cgroups_path(runtime_root, name)
        assert len(lines) > 1 and {line.split(":", 2)[2] for line in lines} == {wanted}


def _spare_in_accept(package: str) -> int:
    """The pid of the runtime server's spare, once it waits in accept(2) (its warm-up done)."""
    with open(client.socket_path(package, client.RUNTIME) + ".lock") as f:
        server = int(f.read())
    found = []

    def accepting() -> bool:
        for pid in children_of(server):
            try:
                with open(f"/proc/{pid}/syscall") as f:
                    if f.read().split()[0] in ("43", "288"):  # accept, accept4 (x86_64)
                        found[:] = [pid]
                        return True
            except (FileNotFoundError, IndexError):
                continue
        return False
    wait_for(accepting)
    return found[0]


def _private_dirty_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Private_Dirty:"))


def test_the_next_spare_copies_the_pages_the_last_command_wrote(runtime, bindir, make_bundle, runtime_root):
    """mydocker/forkserver_pages.py: a served child's pages reach the server as it leaves, and the next
    spare copies them before it accepts, off the next command's path."""
    package = package_of(bindir)
    client.stop_server(package)
    wait_for(lambda: not server_listens(package, client.RUNTIME))
    bundle = make_bundle(["true"])
    for name in ("fresh-server", "learned-pages"):  # the first starts a server, whose spare has learned nothing
        subprocess.run([runtime, "--root", runtime_root, "run", "--bundle", bundle, name], check=True,
                       stdin=subprocess.DEVNULL, timeout=60)
        wait_for(lambda: server_listens(package, client.RUNTIME))
        spare = _spare_in_accept(package)
        if name == "fresh-server":
            first = _private_dirty_kb(spare)
    assert _private_dirty_kb(spare) > first + 1024, "the spare after a command copied no more than the first"


def test_signals_to_a_runtime_client_reach_the_container(runtime, make_bundle, runtime_root):
    code, out, err = terminated(
        [runtime, "--root", runtime_root, "run", "--bundle", make_bundle(TRAPS_TERM), "signalled"],
        lambda: subprocess.run([runtime, "--root", runtime_root, "delete", "--force", "signalled"], timeout=60))
    assert (code, out) == (7, "got TERM\n"), err


def test_a_detached_runtime_run_is_not_served(runtime, make_bundle, runtime_root):
    """The caller of `run -d` (a shim) must stay the container's ancestor: it runs in the caller's process."""
    ours, proc = imports(runtime, "--root", runtime_root, "run", "-d", "--bundle", make_bundle(["true"]), "detached")
    try:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "mydocker.runtime.cli" in ours
    finally:
        subprocess.run([runtime, "--root", runtime_root, "delete", "--force", "detached"], check=True, timeout=60)


def test_a_runtime_client_in_another_cgroup_runs_it_itself(runtime, make_bundle, runtime_root):
    """A relative cgroupsPath hangs under the caller's cgroup, which a served child does not share."""
    base = "/sys/fs/cgroup/pids" if os.path.isdir("/sys/fs/cgroup/pids") else "/sys/fs/cgroup"
    group = os.path.join(base, f"mydocker-test-client-{os.getpid()}")
    os.mkdir(group)
    try:
        ours, proc = imports(runtime, "--root", runtime_root, "run", "--bundle", make_bundle(["echo", "hi"]), "moved",
                             prefix=("sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh"))
        assert (proc.returncode, proc.stdout) == (0, "hi\n"), proc.stderr[-2000:]
        assert "mydocker.runtime.cli" in ours  # declined: run in the client's own cgroup
    finally:
        wait_for(lambda: not open(f"{group}/cgroup.procs").read())
        os.rmdir(group)
