"""`mydocker stats`: live CPU, memory and PIDs of running containers (Docker's columns)."""

from __future__ import annotations

from mydocker.flags import Command

command = (
    Command("stats", "Display a live stream of container resource usage statistics",
            usage="stats [OPTIONS] [CONTAINER...]")
    .flag("--no-stream", help="print the first result and exit")
    .flag("--no-trunc", help="do not truncate the output")
)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return f"{n:.4g}GiB"


def table(rows, no_trunc: bool) -> str:
    from mydocker.cli.table import tabwrite
    lines = ["CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS"]
    for s in rows:
        mem = s.memory_usage / s.memory_limit * 100 if s.memory_limit else 0.0
        lines.append(f"{s.id if no_trunc else s.id[:12]}\t{s.name}\t{s.cpu_percent:.2f}%\t"
                     f"{_size(s.memory_usage)} / {_size(s.memory_limit)}\t{mem:.2f}%\t{s.pids}")
    return tabwrite(lines)


def handle(engine, opts, args: list[str]) -> int:
    import sys
    if opts.no_stream:
        sys.stdout.write(table(engine.containers.stats(args), opts.no_trunc))
        return 0
    clear = "\033[2J\033[H" if sys.stdout.isatty() else ""
    try:
        while True:
            rows = engine.containers.stats(args, interval=1.0)
            sys.stdout.write(clear + table(rows, opts.no_trunc))
            sys.stdout.flush()
            if args and not rows:
                return 0  # the containers asked for have stopped
    except KeyboardInterrupt:
        return 0
