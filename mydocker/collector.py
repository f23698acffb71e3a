"""Python's cyclic garbage collector: off while a command starts, on again for long-lived loops.

Around a fork every collection writes to the header of each object it walks, so parent and child
both take copy-on-write page faults for pages that would otherwise stay shared; at start-up,
collections also walk the objects of each newly imported module (measured: docs/startup.md).
A short command allocates little that is cyclic and frees everything at
exit, so it runs without; a loop that lives as long as a container calls `resume()`.
"""

import gc


def pause() -> None:
    gc.disable()


def resume() -> None:
    """Collect again, leaving start-up's objects (moved to the permanent generation) alone."""
    gc.freeze()
    gc.enable()
