"""login / logout / push / pull against a registry with htpasswd basic auth."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.registry import Registry, scoped_cli  # noqa: F401

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    if not shutil.which("htpasswd"):
        pytest.skip("htpasswd is not installed (apt-get install apache2-utils)")
    base = str(tmp_path_factory.mktemp("mydocker-registry-auth"))
    users = os.path.join(base, "htpasswd")
    subprocess.run(["htpasswd", "-Bbc", users, "alice", "s3cret"], check=True, capture_output=True)
    reg = Registry(base, htpasswd=users)
    yield reg
    reg.stop()


@pytest.fixture
def auth_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    return tmp_path / "docker-config" / "config.json"


def test_login_push_pull_logout(mydocker, secured, auth_file):
    name = f"{secured.host}/alice/busybox:v1"
    mydocker("tag", "busybox", name)
    r = mydocker("push", name, rc=1)
    assert f"mydocker login {secured.host}" in r.err and len(r.err.strip().splitlines()) == 1
    r = mydocker("login", "-u", "alice", "--password-stdin", secured.host, input="wrong\n", rc=1)
    assert "alice" in r.err and not auth_file.exists()
    r = mydocker("login", "-u", "alice", "--password-stdin", secured.host, input="s3cret\n")
    assert "Login Succeeded" in r.out
    stored = json.loads(auth_file.read_text())["auths"][secured.host]["auth"]
    assert stored == "YWxpY2U6czNjcmV0"    # base64("alice:s3cret"), Docker's format
    assert oct(os.stat(auth_file).st_mode & 0o777) == "0o600"
    assert "Pushed" in mydocker("push", name).out
    mydocker("rmi", name)
    assert mydocker("run", "--rm", name, "echo", "authed").out == "authed\n"
    assert "Removing login credentials" in mydocker("logout", secured.host).out
    assert secured.host not in json.loads(auth_file.read_text())["auths"]
    r = mydocker("pull", name, rc=1)
    assert "login" in r.err


def test_credentials_written_by_docker_are_read(mydocker, secured, auth_file):
    auth_file.parent.mkdir()
    auth_file.write_text(json.dumps({"auths": {f"https://{secured.host}": {"auth": "YWxpY2U6czNjcmV0"}},
                                     "credsStore": ""}))
    name = f"{secured.host}/alice/fromdocker:v1"
    mydocker("tag", "busybox", name)
    mydocker("push", name)
