"""The API server's pieces without a service: a create body as RunOptions, HTTP parsing and its bounds,
the log follower that attach uses."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from mydocker.apiserver import http
from mydocker.apiserver.convert import image_summaries, run_options, update_options
from mydocker.errors import InvalidArgument, NotSupported


def test_a_docker_cli_create_body_becomes_run_options():
    body = {"Image": "busybox", "Cmd": ["echo", "hi"], "Entrypoint": ["/bin/sh", "-c"], "Env": ["A=1"],
            "Tty": True, "OpenStdin": False, "WorkingDir": "/tmp", "User": "1:1", "Hostname": "h", "Labels": {},
            "HostConfig": {"Binds": ["/a:/b:ro"], "AutoRemove": True, "NetworkMode": "default", "Memory": 64 << 20,
                           "MemorySwap": -1, "NanoCpus": 500_000_000, "PidsLimit": 0, "CapAdd": ["NET_ADMIN"],
                           "CapDrop": None, "Privileged": False, "ReadonlyRootfs": True,
                           "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                            "53/udp": [{"HostIp": "", "HostPort": ""}]},
                           "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2},
                           "LogConfig": {"Type": "", "Config": {"max-size": "1m"}},
                           "Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}]}}
    opts = run_options(body, "web")
    assert (opts.image, opts.name, opts.entrypoint, opts.command) == ("busybox", "web", "/bin/sh", ["-c", "echo", "hi"])
    assert (opts.env, opts.tty, opts.workdir, opts.user, opts.hostname) == (["A=1"], True, "/tmp", "1:1", "h")
    assert opts.volumes == ["/a:/b:ro"] and opts.remove and opts.network is None
    limits = opts.resources
    assert (limits.memory, limits.memory_swap, limits.cpus, limits.pids_limit) == (str(64 << 20), "-1", "0.5", None)
    assert sorted(opts.publish) == ["127.0.0.1:8080:80/tcp", "53/udp"]
    assert opts.restart == "on-failure:2" and opts.log_opts == ["max-size=1m"]
    assert opts.security.cap_add == ["NET_ADMIN"] and opts.security.read_only
    assert opts.security.ulimits == ["nofile=10:20"]
    assert opts.detach and opts.pull == "never"


@pytest.mark.parametrize("body, error", [
    ({"Cmd": ["true"]}, InvalidArgument),                         # no image
    ({"Image": "busybox", "Cmd": 5}, InvalidArgument),            # wrong type
    ({"Image": "busybox", "Env": ["A=1", 2]}, InvalidArgument),
    ({"Image": "busybox", "HostConfig": {"Memory": "1g"}}, InvalidArgument),
    ({"Image": "busybox", "HostConfig": {"Privileged": 1}}, InvalidArgument),
    ({"Image": "busybox", "StopSignal": "SIGINT"}, NotSupported),  # not honoured yet: refused, not dropped
    ({"Image": "busybox", "HostConfig": {"Devices": [{"PathOnHost": "/dev/fuse"}]}}, NotSupported),
    ({"Image": "busybox", "Labels": {"a": 1}}, InvalidArgument),
    ({"Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"a": {}, "b": {}}}}, NotSupported),
    ({"Image": "busybox", "HostConfig": {"NetworkMode": "a"}, "NetworkingConfig": {"EndpointsConfig": {"b": {}}}},
     InvalidArgument),
    ({"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "npipe", "Target": "/x"}]}}, NotSupported),
    ({"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "syslog"}}}, NotSupported),
    ([], InvalidArgument),
])
def test_bad_create_bodies_are_refused_by_name(body, error):
    with pytest.raises(error):
        run_options(body, None)


def test_an_update_body_reads_dockers_resources_as_a_create_body_does():
    resources = {"Memory": 64 << 20, "MemorySwap": -1, "NanoCpus": 500_000_000, "CpuShares": 512,
                 "CpusetCpus": "0", "CpusetMems": "", "PidsLimit": 50}
    update = update_options({**resources, "RestartPolicy": {"Name": "always"}})
    assert update.resources == run_options({"Image": "busybox", "HostConfig": resources}, None).resources
    assert (update.resources.memory, update.resources.cpus, update.resources.pids_limit) == (str(64 << 20), "0.5", 50)
    assert update.restart == "always"
    with pytest.raises(InvalidArgument, match=r"^invalid UpdateConfig\.Memory: -5 is negative$"):
        update_options({"Memory": -5})


def test_image_rows_are_grouped_per_image():
    rows = [{"ID": "sha256:a", "Repository": "x", "Tag": "1", "Created": "2024-01-01T00:00:00Z", "Size": 5},
            {"ID": "sha256:a", "Repository": "y", "Tag": "latest", "Created": "2024-01-01T00:00:00Z", "Size": 5},
            {"ID": "sha256:b", "Repository": "<none>", "Tag": "<none>", "Created": "bad", "Size": 1}]
    out = image_summaries(rows)
    assert [(i["Id"], i["RepoTags"]) for i in out] == [("sha256:a", ["x:1", "y:latest"]), ("sha256:b", [])]
    assert out[0]["Created"] == 1704067200 and out[1]["Created"] == 0


def _parse(raw: bytes):
    a, b = socket.socketpair()
    threading.Thread(target=lambda: (a.sendall(raw), a.close()), daemon=True).start()
    try:
        return http.Connection(b).read_request()
    finally:
        b.close()


def test_requests_with_length_chunked_and_keep_alive():
    req = _parse(b"POST /v1.44/containers/create?name=a%20b&all=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    assert (req.method, req.path, req.arg("name"), req.flag("all"), req.body, req.keep_alive) == \
        ("POST", "/v1.44/containers/create", "a b", True, b"{}", True)
    req = _parse(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                 b"3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n")
    assert req.body == b"abcd" and not req.keep_alive
    assert _parse(b"") is None


@pytest.mark.parametrize("raw, status", [
    (b"GET / HTTP/1.1\r\nX: " + b"a" * (http.MAX_LINE + 1) + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\n" + b"X: a\r\n" * (http.MAX_HEADERS + 1) + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (http.MAX_BODY + 1), 413),
    (b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
    (b"NONSENSE\r\n\r\n", 400),
])
def test_oversized_or_malformed_requests_are_refused(raw, status):
    with pytest.raises(http.HTTPError) as e:
        _parse(raw)
    assert e.value.status == status


def test_follow_file_sends_what_comes_after_the_start_until_told_to_stop(tmp_path):
    from mydocker.engine.logs import LogWriter, follow_file
    path = str(tmp_path / "c-json.log")
    writer = LogWriter(path)
    writer.feed("stdout", b"before\n")  # an earlier run's: not attached
    got, calls = [], []

    def running() -> bool:
        calls.append(1)
        if len(calls) == 2:
            writer.feed("stderr", b"during\n")
            writer.close()
            os.unlink(path)  # --rm: gone as the container goes; the open file is still read
        return len(calls) < 3

    follow_file(path, lambda stream, data: got.append((stream, data)), running, poll=0.001)
    assert got == [("stderr", b"during\n")]


def test_error_bodies_are_json_messages():
    a, b = socket.socketpair()
    http.Connection(a).send_json(404, {"message": "No such container: x"}, {"Api-Version": "1.50"})
    a.close()
    data = b.recv(4096)
    b.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 Not Found") and b"Api-Version: 1.50" in head
    assert json.loads(body) == {"message": "No such container: x"}


def test_engine_errors_get_dockers_status_codes():
    from mydocker.apiserver.handlers import status_of
    from mydocker.errors import Conflict, Forbidden, InvalidArgument, NotFound, NotSupported, RuntimeFailure
    assert [status_of(e("x")) for e in (InvalidArgument, Forbidden, NotFound, Conflict, NotSupported, RuntimeFailure)] \
        == [400, 403, 404, 409, 501, 500]  # Forbidden: `network rm bridge`, as dockerd answers it


def test_a_compose_create_body_maps_labels_mounts_resolution_and_the_network():
    """What docker-compose 1.29 and the docker CLI send: each field onto the engine's option."""
    body = {"Image": "busybox", "Labels": {"com.docker.compose.project": "p"}, "ExposedPorts": {"80/tcp": {}},
            "Volumes": {"/www": {}, "/anon": {}, "/t": {}, "/m": {}},
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000, "Retries": 2},
            "HostConfig": {"NetworkMode": "p_default", "Binds": ["p_data:/www:rw"], "Tmpfs": {"/t": "size=1m"},
                           "Mounts": [{"Type": "volume", "Source": "v", "Target": "/m", "ReadOnly": True,
                                       "VolumeOptions": {"NoCopy": True, "Labels": {"k": "v"}}}],
                           "ExtraHosts": ["h:10.0.0.1"], "Dns": ["1.1.1.1"], "DnsSearch": ["example.com"],
                           "DnsOptions": ["ndots:2"], "PublishAllPorts": True, "VolumesFrom": [], "Links": []},
            "NetworkingConfig": {"EndpointsConfig": {"p_default": {"Aliases": ["web"],
                                                                   "IPAMConfig": {"IPv4Address": "10.1.0.5"}}}}}
    opts = run_options(body, "p_web_1")
    assert opts.labels == {"com.docker.compose.project": "p"} and opts.expose == ["80/tcp"]
    assert opts.volumes == ["p_data:/www:rw", "/anon"]  # Config.Volumes repeats the bind, mount and tmpfs paths
    assert opts.tmpfs == {"/t": "size=1m"} and len(opts.mounts) == 1
    mount = opts.mounts[0]
    assert (mount.type, mount.source, mount.target, mount.readonly, mount.volume_nocopy, mount.volume_labels) == \
        ("volume", "v", "/m", True, True, {"k": "v"})
    assert (opts.extra_hosts, opts.dns, opts.dns_search, opts.dns_options, opts.publish_all) == \
        (["h:10.0.0.1"], ["1.1.1.1"], ["example.com"], ["ndots:2"], True)
    assert (opts.network, opts.network_aliases, opts.ip) == ("p_default", ["web"], "10.1.0.5")
    assert opts.healthcheck.test == ["CMD-SHELL", "true"] and opts.healthcheck.interval == 2_000_000_000
    assert opts.healthcheck.retries == 2
    # the network named by the endpoint alone (NetworkMode left out)
    only = run_options({"Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"n1": {"Aliases": ["a"]}}}}, None)
    assert (only.network, only.network_aliases) == ("n1", ["a"])
