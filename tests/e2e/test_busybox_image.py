"""The busybox image in default containers: ping without CAP_NET_RAW (the image's iputils ping uses
ICMP datagram sockets, which net.ipv4.ping_group_range opens), and names resolved from /etc/hosts
and through DNS by wget, ping, telnet and nslookup.

DNS is served by tests/e2e/dnsresponder.py run on 127.0.0.1:53 inside the container's own network
namespace (`--network none`: nothing leaves it).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

RESPONDER = os.path.join(os.path.dirname(__file__), "dnsresponder.py")
PING = ["ping", "-c", "1", "-W", "2"]


def test_ping_works_without_net_raw_for_root_and_other_users(mydocker):
    for user in ("root", "nobody"):
        out = mydocker("run", "--rm", "--network", "none", "-u", user, "busybox", "sh", "-c",
                       "ping -c 1 -W 2 127.0.0.1 && ping -c 1 -W 2 localhost"
                       " && ping -c 1 -W 2 $(hostname)").out
        assert out.count("1 received") == 3, (user, out)


def test_ping6_and_ping4_are_the_same_ping(mydocker):
    out = mydocker("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                   "ping4 -c 1 -W 2 127.0.0.1 && ping6 -c 1 -W 2 ::1 && ping -6 -c 1 -W 2 ::1").out
    assert out.count("1 received") == 3, out


def test_ping_uses_icmp_datagram_sockets(mydocker):
    out = mydocker("run", "--rm", "--network", "none", "busybox", "ping", "-v", "-c", "1", "-W", "2", "127.0.0.1")
    assert "sock4.fd: 3 (socktype: SOCK_DGRAM)" in out.err and "1 received" in out.out, out


@pytest.fixture
def dns_container(mydocker):
    """A sleeping container whose netns has a DNS responder on 127.0.0.1:53 knowing web.test and
    cached.test, its resolv.conf pointing there, and an httpd on 127.0.0.5:8080."""
    cid = mydocker("run", "-d", "--network", "none", "busybox", "sleep", "300").out.strip()
    responder = None
    try:
        pid = mydocker("inspect", "--format", "{{.State.Pid}}", cid).out.strip()
        responder = subprocess.Popen(["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, RESPONDER, "127.0.0.1",
                                      "web.test=127.0.0.5", "hosted.test=127.0.0.9"],
                                     stdout=subprocess.PIPE, text=True)
        assert responder.stdout.readline() == "ready\n"
        mydocker("exec", cid, "sh", "-c", "echo nameserver 127.0.0.1 > /etc/resolv.conf; "
                 "echo 127.0.0.5 hosted.test >> /etc/hosts; mkdir /www; echo hello > /www/index.html; "
                 "httpd -p 127.0.0.5:8080 -h /www")
        yield cid, responder
    finally:
        if responder:
            responder.kill()
            responder.wait()
        mydocker("rm", "-f", cid)


def test_names_resolve_through_dns_and_etc_hosts(mydocker, dns_container):
    cid, responder = dns_container
    ex = lambda *cmd: mydocker("exec", cid, *cmd, rc=None)  # noqa: E731
    wget = ex("wget", "-q", "-O-", "http://web.test:8080/")
    assert (wget.rc, wget.out) == (0, "hello\n"), wget
    assert "1 received" in ex(*PING, "web.test").out
    telnet = ex("sh", "-c", "telnet web.test 8080 </dev/null")
    assert "Connected to web.test" in telnet.out, telnet
    nslookup = ex("nslookup", "web.test")
    assert nslookup.rc == 0 and "Address: 127.0.0.5" in nslookup.out, nslookup
    # /etc/hosts comes before DNS (the responder would say 127.0.0.9)
    assert ex("wget", "-q", "-O-", "http://hosted.test:8080/").out == "hello\n"
    assert "(127.0.0.5)" in ex(*PING, "hosted.test").out
    missing = ex("wget", "-q", "-O-", "http://missing.test:8080/")
    assert missing.rc == 1 and "bad address 'missing.test:8080'" in missing.err, missing
    responder.kill()
    responder.wait()
    queried = {line.split()[0] for line in responder.stdout.read().splitlines()}
    assert {"web.test", "missing.test"} <= queried and "hosted.test" not in queried, queried
