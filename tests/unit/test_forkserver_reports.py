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


def test_a_child_whose_client_left_with_its_status_is_not_killed_and_its_pages_reach_the_server(tmp_path):
    """A served child tells its client the exit code, then the server which pages it wrote
    (forkserver_pages, for the next spare). The client leaves at once: the server must not take that
    hang-up for a killed client and kill the child before it has said so."""
    server = _server(tmp_path)
    ours, theirs = socket.socketpair()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        socket.send_fds(server.report_w, [b"T" + os.getpid().to_bytes(4, sys.byteorder)], [theirs.fileno()])
        forkserver._report_exit(theirs, 0, os.getpid(), server.report_w)  # X, the status, then W
        # the bookkeeping after the status ran at the lowest priority: the client's CPU first
        os.write(ready_w, b"." if os.getpriority(os.PRIO_PROCESS, 0) == 19 else b"!")
        os._exit(0)
    os.close(ready_w)
    theirs.close()
    ours.settimeout(5)
    assert ours.recv(5)[:1] == forkserver_client.EXITED
    server._take_reports()  # the child's connection, registered
    ours.close()  # the client leaves
    server._client_gone(next(iter(server.by_fd)))
    said = os.read(ready_r, 1)
    assert said, "the server killed a child whose client had its status"
    assert said == b".", "the child's bookkeeping after the status kept the command's priority"
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    server._report_exits()
    assert server.written and len(server.written) % 16 == 0
    assert not server.leaving and not server.clients
