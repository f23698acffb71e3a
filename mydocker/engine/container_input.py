"""A container's input from an attaching client (`docker attach`, `docker run -i`): the bytes read
from the caller's fd go to the container's stdin pipe or console, which its monitor hands out.

The relay is a forked child of the caller (whose own work, the output, goes on meanwhile): it waits
until the container runs (`docker run -i` attaches before the start), then copies until the caller's
fd ends. A fork, not a thread: the processes that use it fork containers too.
"""

from __future__ import annotations

import os
import time

from mydocker.engine import monitor_client
from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

signal = lazy_module("signal")
select = lazy_module("select")

_POLL = 0.02      # seconds between asks while the container is not running yet


DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
DETACHED = 3      # the relay's exit status once it read the detach keys
_CTRL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(text: str | None) -> bytes:
    """Docker's --detach-keys / detachKeys: comma-separated keys, each one character or ctrl-<a-z @ [ \\ ] ^ _>
    ("ctrl-p,ctrl-q", Docker's default when `text` is empty). InvalidArgument for anything else."""
    out = bytearray()
    for key in (text or DEFAULT_DETACH_KEYS).split(","):
        lower = key.lower()
        if len(key) == 1:
            out.append(ord(key))
        elif lower.startswith("ctrl-") and len(key) == 6 and ("a" <= lower[5] <= "z" or lower[5] in _CTRL):
            out.append(ord(lower[5]) - ord("a") + 1 if "a" <= lower[5] <= "z" else _CTRL[lower[5]])
        else:
            raise InvalidArgument(f"Invalid detach keys ({text}) provided: give keys like ctrl-p,ctrl-q (a character, "
                                  "or ctrl- and one of a-z @ [ \\ ] ^ _, separated by commas)")
    return bytes(out)


class DetachScanner:
    """Docker's escape proxy: the input passes through, except the detach sequence. Bytes that may be
    its start are held back until the next ones tell; then they pass on, or the input ends there."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(the bytes to pass on, whether the sequence is complete: nothing after it passes)."""
        out = bytearray()
        for byte in data:
            key = bytes([byte])
            if not self.keys.startswith(self.held + key):
                out += self.held  # not the sequence after all: what was held passes on
                self.held = b""
                if not self.keys.startswith(key):
                    out += key
                    continue
            self.held += key
            if self.held == self.keys:
                self.held = b""
                return bytes(out), True
        return bytes(out), False


class Relay:
    """The input relay child (see the module's doc); stop() once the attach is over."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.status: int | None = None

    def ended(self) -> bool:
        """Whether the relay is over: the client's input ended (or gave the detach keys)."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                return False
            self.status = status
        return True

    def detached(self) -> bool:
        """Whether the relay ended because it read the detach keys (the attach is over, the container runs on)."""
        return self.ended() and os.WIFEXITED(self.status) and os.WEXITSTATUS(self.status) == DETACHED

    def stop(self) -> None:
        if self.status is not None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.status = os.waitpid(self.pid, 0)[1]


def start_relay(runroot: str, container_id: str, source: int, detach_keys: bytes = b"") -> Relay:
    """The relay child: stop it with Relay.stop once the attach is over. With `detach_keys`, reading
    them ends it (Relay.detached) and they do not reach the container."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = DETACHED if _relay(runroot, container_id, source, detach_keys) else 0
        except BaseException:  # noqa: BLE001 - the client or the container went away
            pass
        finally:
            os._exit(code)
    return Relay(pid)


def _relay(runroot: str, container_id: str, source: int, detach_keys: bytes) -> bool:
    """Copy until the source ends (False) or gives the detach keys (True)."""
    target = monitor_client.request_input(runroot, container_id)
    while target is None:
        time.sleep(_POLL)
        target = monitor_client.request_input(runroot, container_id)
    scanner = DetachScanner(detach_keys) if detach_keys else None
    detached = False
    while not detached:
        data = os.read(source, 65536)
        if not data:
            break
        if scanner is not None:
            data, detached = scanner.feed(data)
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(target, view):]
            except BlockingIOError:  # the console is non-blocking (the monitor reads it)
                select.select([], [target], [])
    if not detached:
        os.close(target)  # with StdinOnce ours was the pipe's last write end: the container reads EOF
    return detached
