"""The book's chapter 7 with real software: nginx, and flask + redis, built by `mydocker build` from
Debian packages on a debootstrap base (examples/). Slow: run with `-m slow` or the whole suite.

Network rule: build containers talk only to the host. RUN uses an --internal network this test
creates; apt inside it goes through examples/http-proxy.py, listening on that network's gateway, and
the proxy (a host process) fetches from the Debian mirror as the host's apt does.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples")
MIRROR = os.environ.get("MIRROR", "http://deb.debian.org/debian")
CACHE = os.environ.get("MYDOCKER_TEST_CACHE", "/var/tmp/mydocker-test-cache")
TARBALL = os.path.join(CACHE, "debian-bookworm.tar")  # shared by test modules and runs


def _mirror_reachable() -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(f"{MIRROR}/dists/bookworm/Release", method="HEAD"),
                               timeout=10).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def debian_tarball() -> str:
    """The debootstrap root filesystem tar, made once and kept in CACHE."""
    if os.path.exists(TARBALL):
        return TARBALL
    if not shutil.which("debootstrap"):
        pytest.skip("needs the Debian package debootstrap (apt-get install debootstrap)")
    if not _mirror_reachable():
        pytest.skip(f"the Debian mirror {MIRROR} is not reachable from this host")
    os.makedirs(CACHE, exist_ok=True)
    env = dict(os.environ, TARBALL=TARBALL, MYDOCKER="true")  # only make the tar here
    proc = subprocess.run([os.path.join(EXAMPLES, "debian-base.sh")], env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return TARBALL


@pytest.fixture
def debian(mydocker, debian_tarball) -> str:
    env = dict(os.environ, TARBALL=debian_tarball, MYDOCKER=" ".join(mydocker.argv()))
    proc = subprocess.run([os.path.join(EXAMPLES, "debian-base.sh")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return "debian:bookworm"


def _free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


@pytest.fixture
def build_proxy(mydocker):
    """(build flags) for RUN on an internal network whose only way out is a proxy on its gateway."""
    if not _mirror_reachable():
        pytest.skip(f"the Debian mirror {MIRROR} is not reachable from this host")
    name = f"b{os.getpid() % 100000}"
    mydocker("network", "create", "--internal", name)
    proxy = None
    try:
        net = json.loads(mydocker("network", "inspect", name).out)[0]
        gateway = net["IPAM"]["Config"][0]["Gateway"]
        port = _free_port(gateway)
        proxy = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "http-proxy.py"), gateway, str(port)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert "listening" in proxy.stdout.readline()
        yield ["--network", name, "--build-arg", f"http_proxy=http://{gateway}:{port}"]
    finally:
        if proxy:
            proxy.terminate()
            proxy.wait(10)
        mydocker("network", "rm", name, rc=None)


def fetch(url: str, timeout: float = 30) -> str:
    """GET `url` (loopback), retrying while the server starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return reply.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@contextlib.contextmanager
def removed_after(mydocker, *names: str):
    try:
        yield
    finally:
        mydocker("rm", "-f", *names, rc=None)


def test_nginx_builds_runs_with_p_and_rebuilds_from_cache(mydocker, debian, build_proxy):
    out = mydocker("build", *build_proxy, "-t", "mynginx", os.path.join(EXAMPLES, "nginx"), timeout=900).out
    assert "Successfully tagged mynginx:latest" in out
    again = mydocker("build", *build_proxy, "-t", "mynginx", os.path.join(EXAMPLES, "nginx"), timeout=300).out
    assert again.count("---> Using cache") == 5 and "Running in" not in again
    port = _free_port()
    with removed_after(mydocker, "web"):
        mydocker("run", "-d", "--name", "web", "-p", f"{port}:80", "mynginx")
        assert "Welcome to nginx on mydocker!" in fetch(f"http://127.0.0.1:{port}/")
        assert "GET / HTTP/1.1" in mydocker("logs", "web").out  # access log to stdout
    assert mydocker("ps", "-a", "-q").out.strip() == ""


def test_flask_counter_lives_in_redis_across_a_web_restart(mydocker, debian, build_proxy):
    ctx = os.path.join(EXAMPLES, "flask-redis")
    mydocker("build", *build_proxy, "-t", "myredis", "-f", os.path.join(ctx, "Dockerfile.redis"), ctx, timeout=900)
    mydocker("build", *build_proxy, "-t", "myflask:1", "-f", os.path.join(ctx, "Dockerfile.web"), ctx, timeout=900)
    net = f"app{os.getpid() % 100000}"
    mydocker("network", "create", net)
    port = _free_port()
    try:
        with removed_after(mydocker, "web", "redis"):
            mydocker("run", "-d", "--name", "redis", "--network", net, "myredis")
            mydocker("run", "-d", "--name", "web", "--network", net, "-p", f"{port}:5000", "myflask:1")
            url = f"http://127.0.0.1:{port}/"
            assert fetch(url) == "Hello! I have been seen 1 times.\n"
            assert fetch(url) == "Hello! I have been seen 2 times.\n"
            mydocker("restart", "web")
            assert fetch(url) == "Hello! I have been seen 3 times.\n"
            assert mydocker("exec", "web", "id", "-un").out == "web\n"  # USER from the Dockerfile
    finally:
        mydocker("network", "rm", net, rc=None)
