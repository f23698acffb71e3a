"""Link checks for leak assertions.

A removed container's veth is not deleted by `rm`: its host end is taken down and the kernel deletes
the pair with the container's network namespace, which `rm` unpins (docs/startup.md, "Kernel waits").
That happens asynchronously, tens of ms later (longer on a loaded host), so a check for leftover
links waits for it: a link that is still there after GRACE seconds is a leak.
"""

from __future__ import annotations

import os
import time

GRACE = 5.0  # the kernel's netns clean-up is a workqueue item behind RCU grace periods


def links_named(prefix: str) -> set[str]:
    return {n for n in os.listdir("/sys/class/net") if n.startswith(prefix)}


def settled_links(current, expected: set[str], grace: float = GRACE) -> set[str]:
    """`current()` (a set of link names) once it is no more than `expected`, or at the deadline."""
    deadline = time.monotonic() + grace
    found = current()
    while found - expected and time.monotonic() < deadline:
        time.sleep(0.02)
        found = current()
    return found
