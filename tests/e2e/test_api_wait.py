"""`POST /containers/{id}/wait` as `docker run --rm` uses it: asked before the start, with
condition=removed, for a container that is gone moments after it starts; the answer must still carry
its exit code (the docker CLI exits with it)."""

from __future__ import annotations

import json
import shutil
import socket

import pytest

from tests.e2e.test_api_service import service  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")


def send_wait(sock_path: str, cid: str, condition: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock_path)
    s.sendall(f"POST /v1.50/containers/{cid}/wait?condition={condition} HTTP/1.1\r\nHost: docker\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
    return s


def read_status_code(s: socket.socket) -> int:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split()[1] == b"200", data
    # chunked: the JSON document is the one line that starts with "{"
    doc = next(json.loads(line) for line in body.split(b"\r\n") if line.startswith(b"{"))
    assert doc["Error"] is None, doc
    return doc["StatusCode"]


@pytest.mark.parametrize("condition", ["removed", "next-exit"])
def test_wait_asked_before_the_start_of_an_auto_removed_container_gets_its_exit_code(service, condition):  # noqa: F811
    for attempt in range(8):  # the container's whole life fits between two of a polling wait's looks
        cid = service.docker("create", "--rm", "--network", "none", "busybox", "sh", "-c",
                             f"exit {attempt + 1}").stdout.strip()
        waiting = send_wait(service.sock, cid, condition)
        try:
            status, _ = service.request("POST", f"/v1.50/containers/{cid}/start")
            assert status == 204
        finally:
            code = read_status_code(waiting)
        assert code == attempt + 1, f"attempt {attempt}: StatusCode {code}"
