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
