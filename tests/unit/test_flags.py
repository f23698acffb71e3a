from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as s

from mydocker.flags import Command, UsageError, check_args, parse


def run_command() -> Command:
    return (Command("run", "run", min_args=1, interspersed=False)
            .flag("-i", "--interactive").flag("-t", "--tty").flag("--rm")
            .flag("--name", kind="str").flag("-e", "--env", kind="list").flag("-h", "--hostname", kind="str")
            .flag("-n", "--count", kind="int", default=3))


@pytest.mark.parametrize("argv,expected,args", [
    (["-ti", "busybox", "sh"], {"tty": True, "interactive": True}, ["busybox", "sh"]),
    (["-it", "--rm", "img"], {"tty": True, "interactive": True, "rm": True}, ["img"]),
    (["--name=web", "img"], {"name": "web"}, ["img"]),
    (["--name", "web", "img"], {"name": "web"}, ["img"]),
    (["-e", "A=1", "-eB=2", "-e=C=3", "--env", "D=4", "img"], {"env": ["A=1", "B=2", "C=3", "D=4"]}, ["img"]),
    (["-h", "box", "img"], {"hostname": "box"}, ["img"]),
    (["img", "ls", "-l", "--rm"], {"rm": False}, ["img", "ls", "-l", "--rm"]),  # flags end at the image
    (["--", "-notaflag"], {}, ["-notaflag"]),
    (["--rm=false", "img"], {"rm": False}, ["img"]),
    (["-n", "5", "img"], {"count": 5}, ["img"]),
    (["img"], {"count": 3, "env": []}, ["img"]),
])
def test_parse(argv, expected, args):
    opts, positionals = parse(run_command(), argv, "mydocker")
    assert positionals == args
    for key, value in expected.items():
        assert opts[key] == value


@pytest.mark.parametrize("argv,message", [
    (["--bogus", "img"], "unknown flag: --bogus"),
    (["-x", "img"], "unknown flag: -x"),
    (["--name"], "flag needs an argument: --name"),
    (["-e"], "flag needs an argument: -e"),
    (["-n", "many", "img"], "whole number"),
    (["--rm=perhaps", "img"], "true or false"),
])
def test_errors_are_one_line(argv, message):
    with pytest.raises(UsageError) as err:
        parse(run_command(), argv, "mydocker")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_interspersed_and_arg_counts():
    rm = Command("rm", "remove", min_args=1).flag("-f", "--force")
    opts, args = parse(rm, ["a", "-f", "b"], "mydocker")
    assert opts.force and args == ["a", "b"]
    with pytest.raises(UsageError, match="requires at least 1 argument"):
        check_args(rm, [], "mydocker")
    one = Command("state", "state", min_args=1, max_args=1)
    with pytest.raises(UsageError, match="at most 1 argument"):
        check_args(one, ["a", "b"], "mydocker")


def test_help_flag():
    opts, _ = parse(run_command(), ["--help"], "mydocker")
    assert opts.help
    assert "--name" in run_command().help_text("mydocker")


@given(s.lists(s.sampled_from(["-t", "-i", "-ti", "--rm", "--name", "x", "-e", "A=1", "--", "img", "-",
                               "--name=", "-eZ", "--bogus", "-n", "7", "--count=2"]), max_size=10))
def test_fuzz_parses_or_fails_with_usage_error(argv):
    try:
        parse(run_command(), argv, "mydocker")
    except UsageError:
        pass
