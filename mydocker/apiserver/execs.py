"""The exec endpoints (create, start, resize, inspect) and the container's resize, over the engine
interface. An exec instance is the engine's (a record under its run root): the request that creates it,
the hijacked one that runs it and those that inspect or resize it may each reach another worker.
"""

from __future__ import annotations

import socket

from mydocker.apiserver.convert import _strings, _typed
from mydocker.apiserver.handlers import _ID, MULTIPLEXED, RAW, Context, _writer, table
from mydocker.apiserver.http import HTTPError
from mydocker.errors import InvalidArgument, MyDockerError
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")

_EXEC_FIELDS = {"AttachStdin", "AttachStdout", "AttachStderr", "DetachKeys", "Tty", "ConsoleSize", "Env", "Cmd",
                "Privileged", "User", "WorkingDir",
                "Detach", "Container"}  # sent by the CLI and docker-py, unused here


def exec_options(body):
    """A POST /containers/{id}/exec body as ExecOptions. Privileged is accepted and ignored (the exec
    gets the container's own privileges)."""
    if not isinstance(body, dict):
        raise InvalidArgument("invalid exec config: a JSON object was expected")
    unknown = sorted(set(body) - _EXEC_FIELDS)
    if unknown:
        raise InvalidArgument(f"invalid exec config: unknown field {unknown[0]!r}")
    size = body.get("ConsoleSize")
    if size is not None and (not isinstance(size, list) or len(size) != 2
                             or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in size)):
        raise InvalidArgument("invalid exec config: ConsoleSize must be [height, width]")
    return api.ExecOptions(command=_strings(body, "Cmd", "ExecConfig"), env=_strings(body, "Env", "ExecConfig"),
                           user=_typed(body, "User", str, "ExecConfig") or None,
                           workdir=_typed(body, "WorkingDir", str, "ExecConfig") or None,
                           tty=_typed(body, "Tty", bool, "ExecConfig", False),
                           interactive=_typed(body, "AttachStdin", bool, "ExecConfig", False),
                           console_size=tuple(size) if size and all(size) else None,
                           detach_keys=_typed(body, "DetachKeys", str, "ExecConfig") or None)


def exec_create(ctx: Context) -> None:
    opts = exec_options(ctx.req.json(default=None))
    ctx.json(201, {"Id": ctx.api.containers.exec_create(ctx.req.params["id"], opts)})


def exec_inspect(ctx: Context) -> None:
    ctx.json(200, ctx.api.containers.exec_inspect(ctx.req.params["id"]))


def exec_start(ctx: Context) -> None:
    """Detached: 200 once it runs. Else hijacked (101 with `Upgrade: tcp`, 200 without): the client's
    bytes are the process's stdin, its output comes back raw (tty) or in Docker's 8-byte frames."""
    body = ctx.req.json(default={})
    if not isinstance(body, dict):
        raise InvalidArgument("invalid exec start config: a JSON object was expected")
    exec_id = ctx.req.params["id"]
    doc = ctx.api.containers.exec_inspect(exec_id)  # a 404 before the hijack
    if _typed(body, "Detach", bool, "ExecStartConfig", False):
        ctx.api.containers.exec_start(exec_id, detach=True)
        return ctx.empty(200)
    tty = doc["ProcessConfig"]["tty"]
    sock = _hijack(ctx, RAW if tty else MULTIPLEXED)
    fd = sock.fileno()
    streams = api.Streams(stdin=fd if doc["OpenStdin"] else None, stdout=fd, stderr=fd, sig_proxy=False,
                          on_detach=lambda: _detached(sock))
    write = _writer(sock.sendall, tty)
    try:
        ctx.api.containers.exec_start(exec_id, streams, write=None if tty else write)
    except MyDockerError as e:  # it did not start (the exit code is recorded): the client prints why
        write("stderr", f"{e}\n".encode())
    finally:
        _close_output(sock)


def _hijack(ctx: Context, content_type: str) -> socket.socket:
    """The connection as a raw stream: blocking (a process may read it as its stdin)."""
    ctx.answered = ctx.hijacked = True
    if "upgrade" in ctx.req.headers.get("connection", "").lower():
        sock = ctx.conn.upgrade(ctx.headers(), content_type)
    else:
        ctx.conn._head(200, {**ctx.headers(), "Content-Type": content_type})
        sock = ctx.conn.sock
    sock.setblocking(True)
    return sock


def _detached(sock: socket.socket) -> bool:
    """The client detached from a tty exec (or left): its stream ends; the worker stays, draining the
    process's console until it exits, so its exit code is recorded (Docker's exec runs on)."""
    _close_output(sock)
    return True


def _close_output(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)  # the client's read ends: the stream is over
    except OSError:
        pass


def _size(ctx: Context) -> tuple[int, int]:
    h, w = ctx.req.int_arg("h"), ctx.req.int_arg("w")
    if h is None or w is None:
        raise HTTPError(400, "resize needs h and w: the height and width in characters")
    return h, w


def exec_resize(ctx: Context) -> None:
    ctx.api.containers.exec_resize(ctx.req.params["id"], *_size(ctx))
    ctx.empty(200)


def container_resize(ctx: Context) -> None:
    ctx.api.containers.resize(ctx.req.params["id"], *_size(ctx))
    ctx.empty(200)


ROUTES = table([
    (("POST",), f"/containers/{_ID}/resize", container_resize),
    (("POST",), f"/containers/{_ID}/exec", exec_create),
    (("POST",), f"/exec/{_ID}/start", exec_start),
    (("POST",), f"/exec/{_ID}/resize", exec_resize),
    (("GET",), f"/exec/{_ID}/json", exec_inspect),
])
