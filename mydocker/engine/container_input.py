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
from mydocker.lazy import lazy_module

signal = lazy_module("signal")
select = lazy_module("select")

_POLL = 0.02      # seconds between asks while the container is not running yet


def start_relay(runroot: str, container_id: str, source: int) -> int:
    """The relay child's pid: stop it with stop_relay once the attach is over."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _relay(runroot, container_id, source)
            code = 0
        except BaseException:  # noqa: BLE001 - the client or the container went away
            pass
        finally:
            os._exit(code)
    return pid


def stop_relay(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)


def _relay(runroot: str, container_id: str, source: int) -> None:
    target = monitor_client.request_input(runroot, container_id)
    while target is None:
        time.sleep(_POLL)
        target = monitor_client.request_input(runroot, container_id)
    while True:
        data = memoryview(os.read(source, 65536))
        if not data:
            break
        while data:
            try:
                data = data[os.write(target, data):]
            except BlockingIOError:  # the console is non-blocking (the monitor reads it)
                select.select([], [target], [])
    os.close(target)  # with StdinOnce ours was the pipe's last write end: the container reads EOF
