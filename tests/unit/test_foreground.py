"""runtime/foreground.run_foreground, the one foreground run behind `mydocker run`/`exec` and
`mydocker-runtime run`/`exec`: real child processes and a real pty, no container needed."""

from __future__ import annotations

import os
import signal

from mydocker.runtime.foreground import run_foreground


def _child(body) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            body()
        finally:
            os._exit(99)
    return pid


def test_start_releases_the_process_and_its_exit_code_comes_back():
    gate_r, gate_w = os.pipe()
    pid = _child(lambda: (os.read(gate_r, 1), os._exit(7)))
    os.close(gate_r)
    started = []
    code = run_foreground(pid, None, lambda: (started.append(True), os.write(gate_w, b"x")), sig_proxy=False)
    os.close(gate_w)
    assert (code, started) == (7, [True])


def test_the_console_is_relayed_to_the_callers_stdout_fd():
    master, slave = os.openpty()
    out_r, out_w = os.pipe()

    def body():
        os.close(master)
        os.write(slave, b"hello from the pty\n")
        os._exit(0)

    pid = _child(body)
    os.close(slave)
    code = run_foreground(pid, master, stdin=None, stdout=out_w, sig_proxy=False)
    os.close(master)
    os.close(out_w)
    data = os.read(out_r, 4096)
    os.close(out_r)
    assert code == 0 and data.replace(b"\r\n", b"\n") == b"hello from the pty\n"


def test_our_signals_go_to_the_process_and_are_restored_after():
    gate_r, gate_w = os.pipe()
    pid = _child(lambda: (os.read(gate_r, 1), signal.pause()))
    os.close(gate_r)
    before = signal.getsignal(signal.SIGTERM)
    code = run_foreground(pid, None, lambda: (os.write(gate_w, b"x"), os.kill(os.getpid(), signal.SIGTERM)))
    os.close(gate_w)
    assert code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_resize_events_from_the_caller_set_the_console_size():
    """A front end without a terminal (an HTTP resize request) sends "ROWS COLS" lines."""
    import time

    from mydocker.linux.tty import get_winsize
    master, slave = os.openpty()
    out_r, out_w = os.pipe()
    resize_r, resize_w = os.pipe()

    def body():
        os.close(master)
        deadline = time.monotonic() + 10
        while get_winsize(slave) != (33, 111) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.write(slave, b"%d %d\n" % get_winsize(slave))
        os._exit(0)

    pid = _child(body)
    os.close(slave)
    os.write(resize_w, b"junk\n33 1")  # a bad line is skipped; a line cut short waits for its end
    os.write(resize_w, b"11\n")
    code = run_foreground(pid, master, stdin=None, stdout=out_w, sig_proxy=False, resize=resize_r)
    for fd in (master, out_w, resize_r, resize_w):
        os.close(fd)
    data = os.read(out_r, 4096)
    os.close(out_r)
    assert code == 0 and data.strip() == b"33 111"
