"""`mydocker run -ti` driven through a real pseudo-terminal, as a person types."""

from __future__ import annotations

import time

import pexpect
import pytest


def spawn(mydocker, *args: str) -> pexpect.spawn:
    argv = mydocker.argv("run", *args)
    return pexpect.spawn(argv[0], argv[1:], encoding="utf-8", timeout=20, dimensions=(30, 100))


def test_interactive_shell(mydocker):
    child = spawn(mydocker, "-ti", "--rm", "--name", "box", "--hostname", "box", "busybox", "sh")
    child.expect(r"# ")
    child.sendline("echo pid=$$ host=$(hostname) tty=$(tty)")
    child.expect(r"pid=1 host=box tty=/dev/pts/0")
    child.sendline("ps -o pid,comm | sed -n 2p")
    child.expect(r"1 sh")
    child.sendline("stty size")
    child.expect(r"30 100")
    child.sendline("exit 5")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5


def test_ctrl_c_goes_to_the_container(mydocker):
    child = spawn(mydocker, "-ti", "--rm", "busybox", "sh")
    child.expect(r"# ")
    child.sendline("echo sleep-started; sleep 30; echo after-sleep")
    child.expect("sleep-started\r\n")
    time.sleep(0.5)  # until sleep is the terminal's foreground job
    child.sendintr()  # ^C in raw mode travels as a byte to the container's terminal
    child.expect(r"# ")
    assert "after-sleep" not in child.before
    child.sendline("echo still-here")
    child.expect(r"still-here")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_window_size_follows_the_terminal(mydocker):
    child = spawn(mydocker, "-ti", "--rm", "busybox", "sh")
    child.expect(r"# ")
    child.setwinsize(40, 120)
    child.sendline("stty size")
    child.expect(r"40 120")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()


def test_tty_without_i_prints_output(mydocker):
    child = spawn(mydocker, "-t", "--rm", "busybox", "echo", "no-input")
    child.expect("no-input")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize("verb", ["run", "exec"])
def test_it_with_a_stdin_that_is_not_a_terminal_is_refused(mydocker, verb):
    """Docker's CheckTty: -i -t attached needs a terminal on stdin (a pipe hung forever); exit 1, nothing made."""
    import subprocess
    if verb == "exec":
        mydocker("run", "-d", "--name", "target", "busybox", "sleep", "60")
    before = mydocker("ps", "-aq").out
    argv = ["run", "--rm", "-it", "busybox", "sh"] if verb == "run" else ["exec", "-it", "target", "sh"]
    try:
        r = mydocker(*argv, input="echo hi\n", rc=None, timeout=20)
    except subprocess.TimeoutExpired:
        r = None
    finally:
        after = mydocker("ps", "-aq").out
        for cid in after.split():
            mydocker("rm", "-f", cid, rc=None)
    assert r is not None, f"{verb} -it with a pipe on stdin hung"
    assert r.rc == 1 and r.err.strip().startswith("mydocker: the input device is not a TTY"), r
    assert after == before


def test_t_alone_with_a_stdin_that_is_not_a_terminal_runs(mydocker):
    r = mydocker("run", "--rm", "-t", "busybox", "echo", "piped", input="ignored\n")
    assert r.out.strip() == "piped"
