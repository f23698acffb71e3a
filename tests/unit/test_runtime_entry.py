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
