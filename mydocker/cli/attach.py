"""`mydocker attach`: this terminal's input, output and error on a running container, until it exits
(its exit code) or the detach keys are typed (ctrl-p,ctrl-q or --detach-keys; the container runs on, and
this exits 1 saying "read escape sequence", as the docker CLI does)."""

from __future__ import annotations

import os
import sys

from mydocker.errors import Conflict
from mydocker.flags import Command
from mydocker.lazy import lazy_module

termios = lazy_module("termios")
tty = lazy_module("tty")

command = (
    Command("attach", "Attach local standard input, output, and error streams to a running container",
            usage="attach [OPTIONS] CONTAINER", min_args=1, max_args=1)
    .flag("--detach-keys", kind="str", metavar="KEYS", help="the keys that detach from the container (ctrl-p,ctrl-q)")
    .flag("--no-stdin", help="do not attach stdin")
)


def handle(engine, opts, args: list[str]) -> int:
    containers = engine.containers
    doc = containers.inspect(args[0])
    if doc["State"]["Status"] != "running":
        raise Conflict("You cannot attach to a stopped container, start it first")
    containers.check_detach_keys(opts.detach_keys)
    stdin = None if opts.no_stdin else 0
    raw = bool(doc["Config"].get("Tty")) and stdin is not None and os.isatty(0)
    if doc["Config"].get("Tty") and os.isatty(1):
        rows, cols = os.get_terminal_size(1).lines, os.get_terminal_size(1).columns
        containers.resize(doc["Id"], rows, cols)

    def write(stream: str, data: bytes) -> None:
        fd = 2 if stream == "stderr" else 1
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    saved = termios.tcgetattr(0) if raw else None
    try:
        if raw:
            tty.setraw(0, termios.TCSANOW)  # not setraw's TCSAFLUSH: what was typed ahead reaches the container
        detached = containers.attach(doc["Id"], write, stdin=stdin, detach_keys=opts.detach_keys)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
    if detached:
        print("read escape sequence", file=sys.stderr)  # the docker CLI's words, and its exit code
        return 1
    sys.stdout.flush()
    return containers.wait(doc["Id"])
