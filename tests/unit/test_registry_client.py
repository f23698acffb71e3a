"""The registry client's logic: challenges, credentials, platforms, decoding, and the Bearer flow
against a small fake registry + token server on 127.0.0.1 (in-process)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import threading

import pytest
from hypothesis import given, strategies as st

from mydocker.errors import InvalidArgument, NotFound
from mydocker.image.registry import auth, media
from mydocker.image.registry.client import RegistryClient, Unauthorized, is_insecure


def test_parse_challenge():
    scheme, params = auth.parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull,push"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:library/busybox:pull,push"}
    assert auth.parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=':"\\'), min_size=1),
       st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_credentials_round_trip(tmp_path_factory, user, password):
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    import os
    os.environ["REGISTRY_AUTH_FILE"] = str(path)
    try:
        path.write_text(json.dumps({"auths": {}, "credsStore": "keep-me"}))
        auth.store("registry.example:5000", user, password)
        assert auth.credentials("registry.example:5000") == (user, password)
        assert json.loads(path.read_text())["credsStore"] == "keep-me"
        assert auth.erase("registry.example:5000")
        assert auth.credentials("registry.example:5000") is None
    finally:
        del os.environ["REGISTRY_AUTH_FILE"]


def test_docker_hub_credentials_use_dockers_key(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "c.json"))
    auth.store("docker.io", "u", "p")
    assert list(json.loads((tmp_path / "c.json").read_text())["auths"]) == ["https://index.docker.io/v1/"]
    assert auth.credentials("docker.io") == ("u", "p")


def test_insecure_by_default_only_on_loopback():
    assert is_insecure("localhost:5000") and is_insecure("127.0.0.1:5000") and is_insecure("[::1]:5000")
    assert not is_insecure("registry.example:5000") and not is_insecure("docker.io")
    assert is_insecure("registry.example:5000", ["registry.example:5000"])


def test_platforms():
    assert media.parse_platform("linux/arm64/v8") == ("linux", "arm64", "")
    assert media.parse_platform("linux/arm/v7") == ("linux", "arm", "v7")
    assert media.parse_platform(None) == media.host_platform()
    with pytest.raises(InvalidArgument):
        media.parse_platform("linux/")
    index = {"manifests": [
        {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
        {"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": "sha256:c", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:d", "platform": {"os": "unknown", "architecture": "unknown"}}]}
    assert media.select(index, ("linux", "arm", "v7"), "x")["digest"] == "sha256:b"
    assert media.select(index, ("linux", "amd64", ""), "x")["digest"] == "sha256:c"
    with pytest.raises(NotFound, match="linux/amd64, linux/arm/v6, linux/arm/v7"):
        media.select(index, ("linux", "riscv64", ""), "x")


def test_decoder_handles_concatenated_gzip_members():
    from mydocker.image.registry.blobs import _Layer
    plain = b"hello " * 1000 + b"world" * 1000
    blob = gzip.compress(plain[:3000]) + gzip.compress(plain[3000:])
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    layer = _Layer(digest, "sha256:" + hashlib.sha256(plain).hexdigest(), "/dev/null")
    for i in range(0, len(blob), 7):
        layer.feed(blob[i:i + 7])
    assert layer.verify() == "/dev/null"


def test_a_wrong_digest_is_named():
    from mydocker.image.registry.blobs import Corrupt, _Layer
    layer = _Layer("sha256:" + "0" * 64, "sha256:" + "0" * 64, "/dev/null")
    layer.feed(b"plain tar bytes")
    with pytest.raises(Corrupt, match="sha256:" + "0" * 64):
        layer.verify()


def test_progress_lines_when_not_a_terminal():
    from mydocker.cli.progress import Progress
    out = io.StringIO()
    p = Progress(out, tty=False)
    p("", "v1: Pulling from x")
    p("abc", "Downloading", 5, 10)
    p("abc", "Pull complete")
    p("def", "Already exists")
    assert out.getvalue() == "v1: Pulling from x\nabc: Pull complete\ndef: Already exists\n"
    tty = io.StringIO()
    p = Progress(tty, tty=True)
    p("abc", "Waiting")
    p("abc", "Downloading", 5, 10)
    assert "\x1b[1A" in tty.getvalue() and "5B/10B" in tty.getvalue()


class _FakeRegistry(http.server.BaseHTTPRequestHandler):
    """Docker Hub's flow: /v2/ answers 401 with a Bearer challenge; /token gives tokens
    (anonymous for pull, with alice's password for push)."""
    manifest = json.dumps({"schemaVersion": 2, "mediaType": media.OCI_MANIFEST, "layers": []}).encode()
    token_requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        host = self.headers["Host"]
        if self.path.startswith("/token"):
            creds = self.headers.get("Authorization", "")
            self.token_requests.append((self.path, creds))
            if creds and creds != "Basic " + base64.b64encode(b"alice:pw").decode():
                return self._send(401, b"{}")
            token = "push-token" if creds else "anon-token"
            return self._send(200, json.dumps({"token": token}).encode())
        if self.headers.get("Authorization") not in ("Bearer anon-token", "Bearer push-token"):
            return self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                              {"WWW-Authenticate": f'Bearer realm="http://{host}/token",service="fake"'})
        if self.path == "/v2/":
            return self._send(200, b"{}")
        if self.path == "/v2/lib/app/manifests/v1":
            return self._send(200, self.manifest, {"Content-Type": media.OCI_MANIFEST})
        return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')

    def _send(self, status, body, headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_registry():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeRegistry.token_requests = []
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_bearer_token_anonymous(fake_registry):
    client = RegistryClient(fake_registry, "lib/app", credentials=None)
    data, kind, _ = client.get_manifest("v1", media.ACCEPT)
    assert data == _FakeRegistry.manifest and kind == media.OCI_MANIFEST
    path, creds = _FakeRegistry.token_requests[0]
    assert "service=fake" in path and "scope=repository%3Alib%2Fapp%3Apull" in path and creds == ""
    with pytest.raises(NotFound, match="manifest unknown"):
        client.get_manifest("v2", media.ACCEPT)


def test_bearer_token_with_credentials(fake_registry):
    client = RegistryClient(fake_registry, "lib/app", actions="pull,push", credentials=("alice", "pw"))
    client.ping()
    assert client.authorization == "Bearer push-token"
    assert "pull%2Cpush" in _FakeRegistry.token_requests[0][0]
    with pytest.raises(Unauthorized, match="alice"):
        RegistryClient(fake_registry, "lib/app", credentials=("alice", "bad")).ping()
