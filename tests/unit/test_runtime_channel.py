"""The runtime's channel to the init (a SEQPACKET socketpair): a message longer than one datagram
(the socket's send buffer, 208 KiB by default) arrives whole, with the fds it carries; and
inherited fds are marked close-on-exec in one step (issue 18, items 5 and 8)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

from mydocker.linux import syscalls as sc
from mydocker.runtime.channel import Channel


def roundtrip(msg: dict, fds: list[int] | None = None, sndbuf: int | None = None) -> tuple[dict | None, list[int]]:
    a, b = Channel.pair()
    try:
        if sndbuf:
            a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        sender = threading.Thread(target=a.send, args=(msg, fds))  # the receiver drains while it sends
        sender.start()
        got = b.recv()
        sender.join()
        return got
    finally:
        a.close()
        b.close()


def test_a_short_message_is_one_datagram():
    assert roundtrip({"type": "go", "n": 1}) == ({"type": "go", "n": 1}, [])


def test_a_message_over_one_datagram_arrives_whole_with_its_fds():
    env = [f"V{i}={'x' * 4000}" for i in range(200)]  # 800 KB
    r, w = os.pipe()
    try:
        msg, fds = roundtrip({"type": "go", "env": env}, [r], sndbuf=16 << 10)
        assert msg == {"type": "go", "env": env} and len(fds) == 1
        os.write(w, b"!")
        assert os.read(fds[0], 1) == b"!"
        os.close(fds[0])
    finally:
        os.close(r)
        os.close(w)


def test_a_closed_peer_reads_as_none():
    a, b = Channel.pair()
    a.close()
    assert b.recv() == (None, [])
    b.close()


def test_a_peer_gone_with_our_message_unread_still_delivers_what_it_sent():
    """The init fails and exits before it reads "placed": Linux reports ECONNRESET once, ahead of
    the init's error message, which must still reach the runtime (not "Connection reset by peer")."""
    a, b = Channel.pair()
    b.send({"type": "error", "message": "the mount on /data asks for rro"})
    a.send({"type": "placed"})  # never read
    b.close()
    assert a.recv() == ({"type": "error", "message": "the mount on /data asks for rro"}, [])
    assert a.recv() == (None, [])
    a.close()


def test_an_init_that_failed_before_go_is_heard_without_waiting():
    """A direct init is sent "go" without a round trip first: when that send, or the move into its
    cgroups, fails because the init is gone, its own error is what the runtime raises; while the init
    lives and has said nothing, the look returns at once."""
    from mydocker.errors import RuntimeFailure
    from mydocker.runtime.process import _queued_error
    a, b = Channel.pair()
    try:
        assert _queued_error(a) is None  # nothing sent yet: no wait
        b.send({"type": "error", "kind": "runtime", "message": "unshare: Operation not permitted"})
        b.close()
        err = _queued_error(a)
        assert isinstance(err, RuntimeFailure) and str(err) == "unshare: Operation not permitted"
        assert _queued_error(a) is None  # the peer is gone and nothing more is queued
    finally:
        a.close()


def test_cloexec_from_marks_every_fd_above_the_first():
    r, w = os.pipe()
    high = os.dup2(r, 1000)  # inheritable, far above the rest
    try:
        os.set_inheritable(r, True)
        os.set_inheritable(w, True)
        low, first = sorted((r, w))
        sc.cloexec_from(first)
        assert os.get_inheritable(low) and not os.get_inheritable(first) and not os.get_inheritable(high)
    finally:
        for fd in (r, w, high):
            os.close(fd)


def test_cloexec_from_walks_proc_without_close_range():
    """Where close_range is refused (seccomp, kernel < 5.11), the open fds are listed, not guessed."""
    script = ("import os, sys; sys.path.insert(0, sys.argv[1]); from mydocker.linux import syscalls as sc\n"
              "sc._SYS_CLOSE_RANGE = -1  # ENOSYS, as a kernel without it\n"
              "fd = os.dup2(0, 900); sc.cloexec_from(3); print(os.get_inheritable(fd))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", script, root], capture_output=True, text=True, check=True).stdout
    assert out == "False\n"
