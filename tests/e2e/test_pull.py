"""pull / push / login / logout as a user types them: errors are one line with exit 125."""

from __future__ import annotations

import pytest

from tests.registry import free_port, scoped_cli  # noqa: F401 - leaks checked under this test only


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("args,words", [
    (["pull"], ["requires at least 1 argument"]),
    (["pull", "Bad/Name"], ["invalid reference format"]),
    (["pull", "--platform", "linux/", "busybox"], ["invalid platform", "os/arch"]),
    (["pull", "--tls-verify=maybe", "busybox"], ["--tls-verify"]),
    (["push", "127.0.0.1:5000/never/tagged:v1"], ["never/tagged", "not found locally"]),
    (["push", "busybox@sha256:" + "a" * 64], ["not found locally"]),
    (["login", "127.0.0.1:5000"], ["-u"]),
    (["login", "-u", "x", "-p", "y", "--password-stdin", "127.0.0.1:5000"], ["mutually exclusive"]),
])
def test_bad_input(mydocker, args, words):
    line = one_line(mydocker(*args, rc=125).err)
    for word in words:
        assert word in line


def test_unreachable_registry_is_one_clear_line(mydocker):
    port = free_port()   # nothing listens there
    line = one_line(mydocker("pull", f"127.0.0.1:{port}/x/y:z", rc=125).err)
    assert f"127.0.0.1:{port}" in line and "connection refused" in line


def test_run_of_an_unreachable_image_says_not_found(mydocker):
    port = free_port()
    line = one_line(mydocker("run", "--rm", f"127.0.0.1:{port}/x/y", "true", rc=125).err)
    assert "not found locally" in line and "connection refused" in line


def test_logout_when_not_logged_in(mydocker, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    assert "Not logged in to 127.0.0.1:5000" in mydocker("logout", "127.0.0.1:5000").out
