"""`mydocker stats`: live CPU, memory and PIDs of running containers (Docker's columns)."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.lazy import lazy_module

cli_table = lazy_module("mydocker.cli.table")

command = (
    Command("stats", "Display a live stream of container resource usage statistics",
            usage="stats [OPTIONS] [CONTAINER...]")
    .flag("--no-stream", help="print the first result and exit")
    .flag("--no-trunc", help="do not truncate the output")
    .flag("--format", kind="str", metavar="FORMAT", help="table TEMPLATE, json, or a Go template")
)
DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.PIDs}}"
HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
           "PIDs": "PIDS"}


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return f"{n:.4g}GiB"


def table(rows, no_trunc: bool, fmt: str | None = None) -> str:
    """The readings through `--format` (Docker's names: {{.Name}}, {{.CPUPerc}}, {{.MemUsage}}...)."""
    items = []
    for s in rows:
        mem = s.memory_usage / s.memory_limit * 100 if s.memory_limit else 0.0
        short = s.id if no_trunc else s.id[:12]
        items.append({"Container": short, "ID": short, "Name": s.name, "CPUPerc": f"{s.cpu_percent:.2f}%",
                      "MemUsage": f"{_size(s.memory_usage)} / {_size(s.memory_limit)}", "MemPerc": f"{mem:.2f}%",
                      "NetIO": "--", "BlockIO": "--", "PIDs": str(s.pids)})
    return cli_table.render(fmt or DEFAULT, items, HEADERS)


def handle(engine, opts, args: list[str]) -> int:
    if opts.no_stream:
        sys.stdout.write(table(engine.containers.stats(args), opts.no_trunc, opts.format))
        return 0
    clear = "\033[2J\033[H" if sys.stdout.isatty() else ""
    try:
        while True:
            rows = engine.containers.stats(args, interval=1.0)
            sys.stdout.write(clear + table(rows, opts.no_trunc, opts.format))
            sys.stdout.flush()
            if args and not rows:
                return 0  # the containers asked for have stopped
    except KeyboardInterrupt:
        return 0
