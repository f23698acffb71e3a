"""The fork server's bookkeeping (mydocker/forkserver.py): every child whose client it took is
reported to that client, also when the server reaps the child before it reads the child's report."""

from __future__ import annotations

import os
import socket
import sys

from mydocker import forkserver, forkserver_client


def _server(tmp_path) -> forkserver._Server:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lock = os.open(tmp_path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    front = forkserver.FrontEnd(forkserver_client.CLI, lambda: None, lambda: None)
    server = forkserver._Server(listener, str(tmp_path / "sock"), {}, lock, front)
    server.stopping = True  # no spare to fork: this test plays the children itself
    return server


def test_a_child_reaped_before_its_report_is_read_still_gets_its_client_a_status(tmp_path):
    server = _server(tmp_path)
    ours, theirs = socket.socketpair()  # the client's end, and the connection the child took
    pid = os.fork()
    if pid == 0:  # the child: reports its client, then leaves at once (as one that declined or died)
        socket.send_fds(server.report_w, [b"T" + os.getpid().to_bytes(4, sys.byteorder)], [theirs.fileno()])
        os._exit(3)
    theirs.close()
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, its report queued, not reaped yet
    real, calls = server._take_reports, []

    def late(*args):  # the race: the server looked for reports just before the child sent its own
        calls.append(1)
        if len(calls) > 1:
            real(*args)
    server._take_reports = late
    server._report_exits()
    ours.settimeout(5)
    status = ours.recv(5)
    assert status[:1] == forkserver_client.EXITED
    assert os.WEXITSTATUS(int.from_bytes(status[1:], sys.byteorder)) == 3
    assert not server.clients and not server.by_fd, "a client would wait for ever, and the server with it"
