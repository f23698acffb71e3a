"""Pull/push progress as Docker shows it: a live line per layer on a terminal, else one line per layer.

Events come from the engine as (id, status, current, total); id "" is a line about the whole image.
"""

from __future__ import annotations

import sys

FINAL = {"Already exists", "Pull complete", "Pushed", "Layer already exists"}


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.3g}{unit}"
        n /= 1000
    return ""


def bar(current: int, total: int, width: int = 50) -> str:
    if total <= 0:
        return ""
    filled = min(width, current * width // total)
    arrow = ">" if filled < width else ""
    return f"[{'=' * filled}{arrow}{' ' * (width - filled - len(arrow))}] {human(current)}/{human(total)}"


class Progress:
    """Callable sink: Progress(stream)(id, status, current=0, total=0)."""

    def __init__(self, stream=None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.order: list[str] = []       # layer ids in the order their lines were printed (tty)

    def __call__(self, lid: str, status: str, current: int = 0, total: int = 0) -> None:
        if not lid:
            self._write(f"{status}\n")
        elif self.tty:
            self._live(lid, status, current, total)
        elif status in FINAL or status.startswith("Mounted from"):
            self._write(f"{lid}: {status}\n")

    def _live(self, lid: str, status: str, current: int, total: int) -> None:
        show = status
        if status in ("Downloading", "Extracting", "Pushing") and total:
            show = f"{status} {bar(current, total)}"
        if lid not in self.order:
            self.order.append(lid)
            self._write(f"{lid}: {show}\n")
            return
        up = len(self.order) - self.order.index(lid)
        # up to the layer's line, rewrite it, come back down
        self._write(f"\x1b[{up}A\r\x1b[2K{lid}: {show}\x1b[{up}B\r")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
