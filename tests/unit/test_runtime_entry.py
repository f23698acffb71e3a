"""Which command lines `mydocker-runtime`'s entry point answers itself (`state`) and which go to cli.main."""

import pytest

from mydocker.runtime.entry import state_request
from mydocker.runtime.state_view import DEFAULT_ROOT


@pytest.mark.parametrize("argv, wanted", [
    (["state", "c1"], (DEFAULT_ROOT, "c1")),
    (["--root", "/r", "state", "c1"], ("/r", "c1")),
    (["--root=/r", "--log", "/l", "--log-format=json", "--debug", "--systemd-cgroup", "state", "c1"], ("/r", "c1")),
    (["--rootless", "false", "state", "c1"], (DEFAULT_ROOT, "c1")),
])
def test_state_command_lines_take_the_fast_path(argv, wanted):
    assert state_request(argv) == wanted


@pytest.mark.parametrize("argv", [
    [], ["state"], ["state", "a", "b"], ["list"], ["--root"], ["--root", "/r"], ["--debug=1", "state", "c"],
    ["--help", "state", "c"], ["-v"], ["--root", "/r", "kill", "c"], ["--unknown", "state", "c"],
    ["state", "--help"],
])
def test_everything_else_goes_to_the_full_parser(argv):
    assert state_request(argv) is None


@pytest.mark.parametrize("argv, wanted", [
    (["delete", "--force", "c1"], (DEFAULT_ROOT, "c1")),
    (["--root", "/r", "--log", "/l", "--log-format", "json", "delete", "-f", "c1"], ("/r", "c1")),
    (["delete", "c1"], None), (["delete", "--force"], None), (["delete", "--force", "-x"], None),
    (["delete", "--force", "a", "b"], None), (["--bogus", "delete", "--force", "c1"], None),
])
def test_forced_delete_command_lines(argv, wanted):
    from mydocker.runtime.entry import forced_delete_request
    assert forced_delete_request(argv) == wanted


def test_only_a_missing_container_is_gone(tmp_path):
    from mydocker.runtime.entry import gone
    (tmp_path / "there").mkdir()
    assert gone(str(tmp_path), "missing")
    assert not gone(str(tmp_path), "there")
    assert not gone(str(tmp_path), "../etc")  # an invalid id goes to cli.main, which says so


@pytest.mark.parametrize("argv, wanted", [
    (["kill", "c1", "9"], (DEFAULT_ROOT, "c1", 9, False)),
    (["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "c1", "15"], ("/r", "c1", 15, False)),
    (["kill", "c1", "64"], (DEFAULT_ROOT, "c1", 64, False)),
    (["kill", "--all", "c1", "9"], (DEFAULT_ROOT, "c1", 9, True)),
    (["kill", "-a", "c1", "9"], (DEFAULT_ROOT, "c1", 9, True)),
    (["kill", "--all", "c1"], None), (["kill", "--all", "--all", "c1", "9"], None),
    (["kill", "c1", "--all", "9"], None),
    (["kill", "c1"], None), (["kill", "c1", "KILL"], None), (["kill", "c1", "SIGTERM"], None),
    (["kill", "c1", "0"], None), (["kill", "c1", "65"], None), (["kill", "c1", "-9"], None),
    (["kill", "c1", "9", "x"], None),
    (["kill", "c1", "٩"], None), (["--bogus", "kill", "c1", "9"], None),
])
def test_kill_command_lines(argv, wanted):
    from mydocker.runtime.entry import kill_request
    assert kill_request(argv) == wanted


def _view(root, container_id: str, pid: int, pid_start: int, paused: bool = False) -> None:
    from mydocker.runtime.state_view import VIEW
    (root / container_id).mkdir()
    (root / container_id / VIEW).write_text(f"{pid} {pid_start} {int(paused)} 1\n{{}}")


def test_quick_kill_signals_the_init_it_recorded_and_nothing_else(tmp_path):
    """A live process with the recorded start time gets the signal; a pid whose start time differs
    (reused), a missing view and a dead init are left to cli.main, with nothing sent."""
    import signal
    import subprocess
    from mydocker.runtime.entry import quick_kill
    from mydocker.runtime.state_view import process_start_time
    child = subprocess.Popen(["sleep", "30"])
    try:
        start = process_start_time(child.pid)
        _view(tmp_path, "reused", child.pid, start + 1)
        assert not quick_kill(str(tmp_path), "reused", signal.SIGTERM)
        assert not quick_kill(str(tmp_path), "missing", signal.SIGTERM)
        assert child.poll() is None
        _view(tmp_path, "paused", child.pid, start, paused=True)  # runc: queued, acts on thaw
        assert quick_kill(str(tmp_path), "paused", signal.SIGTERM)
        assert child.wait(timeout=10) == -signal.SIGTERM
        assert not quick_kill(str(tmp_path), "paused", signal.SIGTERM)  # stopped now
    finally:
        child.kill()
        child.wait()


def test_quick_kill_all_answers_only_a_stopped_container_with_empty_cgroups(tmp_path):
    """--all: exit 0 at once when the init is gone and its cgroup directories hold no process and no
    sub-group (or are gone); anything else, or no record to say where the cgroups are, is cli.main's."""
    import json
    import os
    import signal
    from mydocker.runtime.entry import quick_kill
    from mydocker.runtime.state_view import process_start_time
    groups = tmp_path / "groups"
    (groups / "empty").mkdir(parents=True)
    (groups / "empty" / "cgroup.procs").write_text("")
    (groups / "busy").mkdir()
    (groups / "busy" / "cgroup.procs").write_text("4242\n")
    (groups / "parent" / "child").mkdir(parents=True)
    (groups / "parent" / "cgroup.procs").write_text("")
    root = tmp_path / "root"
    root.mkdir()
    for name, dirs in (("empty", ["empty", "gone"]), ("busy", ["empty", "busy"]), ("parent", ["parent"])):
        _view(root, name, 999999, 1)  # a pid that no longer runs: stopped
        paths = {f"c{n}": str(groups / d) for n, d in enumerate(dirs)}
        (root / name / "state.json").write_text(json.dumps({"id": name, "cgroup_paths": paths}))
    assert quick_kill(str(root), "empty", signal.SIGKILL, every=True)
    assert not quick_kill(str(root), "busy", signal.SIGKILL, every=True)
    assert not quick_kill(str(root), "parent", signal.SIGKILL, every=True)
    _view(root, "norecord", 999999, 1)
    assert not quick_kill(str(root), "norecord", signal.SIGKILL, every=True)
    _view(root, "live", os.getpid(), process_start_time(os.getpid()))
    (root / "live" / "state.json").write_text(json.dumps({"id": "live", "cgroup_paths": {}}))
    assert not quick_kill(str(root), "live", signal.SIGKILL, every=True)  # running: cli.main signals the cgroup


@pytest.mark.parametrize("argv, wanted", [
    (["run", "c1"], True), (["create", "--bundle", "b", "c1"], True), (["--root", "/r", "--log=/l", "run", "c1"], True),
    (["start", "c1"], False), (["state", "c1"], False), (["--bogus", "run", "c1"], False), ([], False),
])
def test_create_and_run_open_the_code_cache_before_the_fast_paths(argv, wanted):
    from mydocker.runtime.entry import creates
    assert creates(argv) is wanted


@pytest.mark.parametrize("argv, wanted", [
    (["run", "c1"], True),
    (["--root", "/r", "--systemd-cgroup", "run", "--bundle", "/b", "--pid-file=p", "--keep", "c1"], True),
    (["run", "-b", ".", "--console-socket", "/s", "--no-pivot", "--no-new-keyring", "c1"], True),
    (["run", "--preserve-fds", "0", "c1"], True),
    (["run", "--preserve-fds=0", "c1"], True),
    (["run", "c1", "--bundle", "/b"], True),  # flags after the id, as the full parser takes them
    # what a fork server cannot do for the caller, or that the full parser should judge:
    (["run", "-d", "c1"], False),  # detached: the caller (a shim) must be the init's ancestor
    (["run", "--detach", "c1"], False),
    (["run", "--preserve-fds", "1", "c1"], False),  # the caller's own fds
    (["run", "--preserve-fds=2", "c1"], False),
    (["run", "--preserve-fds"], False),
    (["run"], False), (["run", "a", "b"], False), (["run", "--bundle"], False),
    (["run", "--keep=1", "c1"], False), (["run", "--bogus", "c1"], False), (["run", "--", "c1"], False),
    (["run", "--help"], False), (["create", "c1"], False), (["--bogus", "run", "c1"], False),
    (["state", "c1"], False),
])
def test_foreground_runs_are_the_ones_a_fork_server_may_run(argv, wanted):
    from mydocker.runtime.entry import foreground_run
    assert foreground_run(argv) is wanted
