"""Which command lines `mydocker-runtime`'s entry point answers itself (`state`) and which go to cli.main."""

import pytest

from mydocker.runtime.entry import state_request
from mydocker.runtime.status import DEFAULT_ROOT


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
    (["kill", "c1", "9"], (DEFAULT_ROOT, "c1", 9)),
    (["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "c1", "15"], ("/r", "c1", 15)),
    (["kill", "c1", "64"], (DEFAULT_ROOT, "c1", 64)),
    (["kill", "c1"], None), (["kill", "c1", "KILL"], None), (["kill", "c1", "SIGTERM"], None),
    (["kill", "c1", "0"], None), (["kill", "c1", "65"], None), (["kill", "c1", "-9"], None),
    (["kill", "--all", "c1", "9"], None), (["kill", "-a", "c1", "9"], None), (["kill", "c1", "9", "x"], None),
    (["kill", "c1", "٩"], None), (["--bogus", "kill", "c1", "9"], None),
])
def test_kill_command_lines(argv, wanted):
    from mydocker.runtime.entry import kill_request
    assert kill_request(argv) == wanted


def _view(root, container_id: str, pid: int, pid_start: int, paused: bool = False) -> None:
    from mydocker.runtime.status import VIEW
    (root / container_id).mkdir()
    (root / container_id / VIEW).write_text(f"{pid} {pid_start} {int(paused)} 1\n{{}}")


def test_quick_kill_signals_the_init_it_recorded_and_nothing_else(tmp_path):
    """A live process with the recorded start time gets the signal; a pid whose start time differs
    (reused), a missing view and a dead init are left to cli.main, with nothing sent."""
    import signal
    import subprocess
    from mydocker.runtime.entry import quick_kill
    from mydocker.runtime.status import process_start_time
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
