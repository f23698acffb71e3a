"""scripts/tun_window.py, the window in which /dev/net/tun is open to users, shared by test sessions
and benches: holders (separate processes, as sessions and benches are) on a stand-in device (a file
of this test's, mode 0600) and a record of this test's, never the real ones."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HOLDER = """
import sys
sys.path.insert(0, sys.argv[1])
from tun_window import signals_end_the_window, tun_for_users
with signals_end_the_window():
    with tun_for_users(sys.argv[2], sys.argv[3]):
        print("in", flush=True)
        sys.stdin.readline()   # EOF or a line: leave
"""


@pytest.fixture
def paths(tmp_path):
    device = tmp_path / "tun"
    device.write_text("")
    device.chmod(0o600)
    return str(device), str(tmp_path / "record")


def mode(path: str) -> int:
    return os.stat(path).st_mode & 0o7777


def holder(paths) -> subprocess.Popen:
    """A process in the window (it has entered when this returns)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, os.path.join(REPO, "scripts"), *paths],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "in\n", proc.stderr.read()
    return proc


def leave(proc: subprocess.Popen) -> int:
    proc.stdin.close()
    return proc.wait(30)


def test_the_last_one_out_restores_the_mode(paths):
    device, record = paths
    a = holder(paths)
    assert mode(device) == 0o666
    b = holder(paths)
    assert leave(a) == 0
    assert mode(device) == 0o666            # b is still in: not restored under it
    assert leave(b) == 0
    assert mode(device) == 0o600 and not os.path.exists(record)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT])
def test_a_signal_ends_the_window_with_the_restore(paths, sig):
    device, record = paths
    a = holder(paths)
    a.send_signal(sig)
    code = a.wait(30)
    expected = -sig if sig == signal.SIGINT else 128 + sig  # SIGINT: Python dies of it, after its finally blocks
    assert code == expected, (code, a.stderr.read())
    assert mode(device) == 0o600 and not os.path.exists(record)


def test_a_killed_holder_is_dropped_and_its_recorded_mode_kept(paths):
    device, record = paths
    a = holder(paths)
    b = holder(paths)
    a.kill()                                # no chance to leave
    a.wait(10)
    assert leave(b) == 0                    # b is the last one alive: it restores
    assert mode(device) == 0o600 and not os.path.exists(record)
    c = holder(paths)
    c.kill()                                # the last one killed: 0666 and its record stay ...
    c.wait(10)
    assert mode(device) == 0o666 and os.path.exists(record)
    d = holder(paths)                       # ... until the next one, which restores the recorded mode
    assert leave(d) == 0
    assert mode(device) == 0o600 and not os.path.exists(record)


def test_a_failing_body_restores_the_mode(paths):
    from scripts.tun_window import tun_for_users
    with pytest.raises(RuntimeError):
        with tun_for_users(*paths):
            assert mode(paths[0]) == 0o666
            raise RuntimeError("the body failed")
    assert mode(paths[0]) == 0o600 and not os.path.exists(paths[1])
