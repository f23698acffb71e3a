"""Start the kernel's wait for the cgroup attach lock early, in parallel with our own start-up."""

from __future__ import annotations

import os


def prewarm_attach_lock() -> int | None:
    """Start a child that moves itself into its own cgroup (a no-op move), while we load and check.

    The container's first move into its cgroups takes the kernel's global threadgroup lock, whose
    first writer waits for an RCU grace period (10-15 ms here), but writers arriving while that
    period runs or just after it share it. Started here, in parallel with our imports, the wait is
    mostly over by the time `create` moves the container. Returns the child's pid, to reap.

    The child is /bin/sh, spawned (vfork + exec), not a fork of this interpreter: after a fork every
    page either process writes faults to be copied, ours included, until the child is gone.
    Measured: docs/startup.md."""
    try:
        with open("/proc/self/cgroup") as f:
            own = next((line.rstrip("\n").split(":", 2)[2] for line in f if line.startswith("0::")), None)
    except OSError:
        return None
    base = next((b for b in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")
                 if os.path.exists(b + "/cgroup.procs")), None)
    if own is None or base is None:
        return None
    quiet = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_RDWR, 0) for fd in (0, 1, 2)]
    try:  # the path is the script's $0: never parsed by the shell
        return os.posix_spawn("/bin/sh", ["sh", "-c", 'echo 0 > "$0"', f"{base}{own.rstrip('/')}/cgroup.procs"],
                              {}, file_actions=quiet)
    except OSError:
        return None  # no /bin/sh: the container's first move waits the whole grace period
