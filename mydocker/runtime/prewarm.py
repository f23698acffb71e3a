"""Start the kernel's wait for the cgroup attach lock early, in parallel with our own start-up."""

from __future__ import annotations

import os


def prewarm_attach_lock() -> int | None:
    """Fork a child that moves itself into its own cgroup (a no-op move), while we load and check.

    The container's first move into its cgroups takes the kernel's global threadgroup lock, whose
    first writer waits for an RCU grace period (10-15 ms here), but writers arriving while that
    period runs or just after it share it. Started here, in parallel with our imports, the wait is
    mostly over by the time `create` moves the container. Returns the child's pid, to reap."""
    try:
        with open("/proc/self/cgroup") as f:
            own = next((line.rstrip("\n").split(":", 2)[2] for line in f if line.startswith("0::")), None)
    except OSError:
        return None
    base = next((b for b in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")
                 if os.path.exists(b + "/cgroup.procs")), None)
    if own is None or base is None:
        return None
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(f"{base}{own.rstrip('/')}/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
            os.write(fd, b"0")
        finally:
            os._exit(0)
    return pid
