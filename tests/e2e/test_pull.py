"""pull / push / login / logout as a user types them: errors are one line with exit 125."""

from __future__ import annotations

import pytest

from tests.registry import free_port, scoped_cli  # noqa: F401 - leaks checked under this test only


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("args,words,rc", [  # Docker's CLI: 125 for a refused flag, 1 for the rest
    (["pull"], ["requires at least 1 argument"], 1),
    (["pull", "Bad/Name"], ["invalid reference format"], 1),
    (["pull", "--platform", "linux/", "busybox"], ["invalid platform", "os/arch"], 1),
    (["pull", "--tls-verify=maybe", "busybox"], ["--tls-verify"], 125),
    (["push", "127.0.0.1:5000/never/tagged:v1"], ["never/tagged", "not found locally"], 1),
    (["push", "busybox@sha256:" + "a" * 64], ["not found locally"], 1),
    (["login", "127.0.0.1:5000"], ["-u"], 1),
    (["login", "-u", "x", "-p", "y", "--password-stdin", "127.0.0.1:5000"], ["mutually exclusive"], 1),
])
def test_bad_input(mydocker, args, words, rc):
    line = one_line(mydocker(*args, rc=rc).err)
    for word in words:
        assert word in line


def test_unreachable_registry_is_one_clear_line(mydocker):
    port = free_port()   # nothing listens there
    line = one_line(mydocker("pull", f"127.0.0.1:{port}/x/y:z", rc=1).err)
    assert f"127.0.0.1:{port}" in line and "connection refused" in line


def test_run_of_an_unreachable_image_says_not_found(mydocker):
    port = free_port()
    line = one_line(mydocker("run", "--rm", f"127.0.0.1:{port}/x/y", "true", rc=125).err)
    assert "not found locally" in line and "connection refused" in line


def test_logout_when_not_logged_in(mydocker, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    assert "Not logged in to 127.0.0.1:5000" in mydocker("logout", "127.0.0.1:5000").out
