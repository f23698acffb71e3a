"""Run jobs in parallel in forked worker processes, with their events read from pipes.

Why processes and not threads: `mydocker run` pulls a missing image and then forks the container
in the same process, and a process that forks containers must have no threads. Processes also put
both cores to work on hashing, decompressing and unpacking. Each worker reports JSON lines
({"event": ...} or {"error": ...}) over its pipe; the parent multiplexes them with a selector. When
one fails, no further job starts and the running ones finish (a worker killed mid-way would leave its
partial download and unpack directory behind); only an interruption of the parent (Ctrl-C) kills
them. A worker dies with its parent (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import json
import os
import selectors
import signal

from mydocker import errors
from mydocker.errors import MyDockerError, RuntimeFailure

PR_SET_PDEATHSIG = 1


def run(jobs: list, work, on_event, parallel: int = 3) -> list:
    """work(job, emit) in a child per job, at most `parallel` at once; on_event(index, event).

    Returns each job's result (what `work` returned, JSON-able); raises the first failure.
    """
    results: list = [None] * len(jobs)
    pending = list(range(len(jobs)))
    running: dict[int, tuple[int, int, bytearray]] = {}   # fd -> (index, pid, buffer)
    sel = selectors.DefaultSelector()
    failure: BaseException | None = None
    try:
        while pending or running:
            while pending and len(running) < parallel and failure is None:
                index = pending.pop(0)
                fd, pid = _spawn(jobs[index], work)
                running[fd] = (index, pid, bytearray())
                sel.register(fd, selectors.EVENT_READ)
            if not running:
                break  # a job failed: the rest are not started
            for key, _mask in sel.select():
                fd = key.fd
                index, pid, buf = running[fd]
                data = os.read(fd, 65536)
                buf += data
                *lines, rest = buf.split(b"\n")
                buf[:] = rest
                for line in lines:
                    msg = json.loads(line)
                    if "event" in msg:
                        on_event(index, msg["event"])
                    elif "result" in msg:
                        results[index] = msg["result"]
                    elif "error" in msg and failure is None:
                        cls = {c.__name__: c for c in _error_classes()}.get(msg.get("kind"), RuntimeFailure)
                        failure = cls(msg["error"])
                if not data:
                    sel.unregister(fd)
                    os.close(fd)
                    del running[fd]
                    _, status = os.waitpid(pid, 0)
                    if failure is None and results[index] is None and status != 0:
                        failure = RuntimeFailure(f"a download worker died ({_status(status)})")
    except BaseException as e:
        failure = failure or e
    finally:
        for fd, (_index, pid, _buf) in running.items():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            os.close(fd)
        sel.close()
    if failure is not None:
        raise failure
    return results


def _error_classes():
    return [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, MyDockerError)]


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _spawn(job, work) -> tuple[int, int]:
    r, w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        os.close(w)
        return r, pid
    # child: do the job, report over the pipe, never return into the parent's code
    code = 1
    try:
        os.close(r)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _die_with_parent(parent)

        def emit(event) -> None:
            _send(w, {"event": event})

        result = work(job, emit)
        _send(w, {"result": result if result is not None else True})
        code = 0
    except MyDockerError as e:
        _send_quietly(w, {"error": str(e), "kind": type(e).__name__})
    except BaseException as e:  # noqa: BLE001 - report anything, then exit
        _send_quietly(w, {"error": f"{type(e).__name__}: {e}", "kind": "RuntimeFailure"})
    finally:
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    try:
        from mydocker.linux.syscalls import prctl
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (ImportError, OSError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def _send(fd: int, msg: dict) -> None:
    data = (json.dumps(msg) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _send_quietly(fd: int, msg: dict) -> None:
    try:
        _send(fd, msg)
    except OSError:
        pass
