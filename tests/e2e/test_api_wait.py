"""`POST /containers/{id}/wait?condition=removed` of an AutoRemove container, as `docker run --rm`
asks it: the exit code, even when the container is torn down and removed before the waiter reads
its record (issue 20 made that teardown fast enough to happen on a user network: the wait then
answered 255, and `docker run --rm` exited 255)."""

from __future__ import annotations

import json
import threading
import time

from tests.e2e.test_api_service import service  # noqa: F401 - the fixture


def test_waiting_for_removal_reports_the_exit_code_however_fast_the_removal(service):  # noqa: F811
    status, body = service.request("POST", "/v1.50/networks/create", json.dumps({"Name": "waitnet"}).encode(),
                                   {"Content-Type": "application/json"})
    assert status == 201, body
    try:
        for attempt in range(8):
            config = {"Image": "busybox", "Cmd": ["sh", "-c", f"exit {attempt + 3}"],
                      "HostConfig": {"AutoRemove": True, "NetworkMode": "waitnet"}}
            status, body = service.request("POST", "/v1.50/containers/create", json.dumps(config).encode(),
                                           {"Content-Type": "application/json"})
            assert status == 201, body
            cid = json.loads(body)["Id"]
            answer = {}
            waiter = threading.Thread(target=lambda: answer.update(
                reply=service.request("POST", f"/v1.50/containers/{cid}/wait?condition=removed")))
            waiter.start()
            time.sleep(0.2)  # the wait is in place before the start, as the docker CLI has it
            status, body = service.request("POST", f"/v1.50/containers/{cid}/start")
            assert status == 204, body
            waiter.join(timeout=30)
            status, body = answer["reply"]
            assert status == 200 and json.loads(_chunked(body))["StatusCode"] == attempt + 3
    finally:
        service.request("DELETE", "/v1.50/networks/waitnet")


def _chunked(payload: bytes) -> bytes:
    """The body of a chunked response."""
    out = b""
    while payload:
        size, _, rest = payload.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out += rest[:n]
        payload = rest[n + 2:]
    return out
