"""The keeper of a rootless container's slirp4netns (network/usermode.py starts both): a fork of the
engine that holds on as below for its first seconds (a `run --rm` is usually over by then, and pays for
no interpreter start), then execs this file as `python -IS slirp_keeper.py EXIT_FD STACK_PID GONE_FD
[PIN]`, which imports nothing but builtins: ~3.6 MB (PSS) per running container where the fork held
8-13 MB of the engine's memory.

It holds EXIT_FD, the write end of slirp4netns's --exit-fd, and lets go of it (slirp4netns then exits)
when GONE_FD says the network namespace is gone (an inotify fd on the pin's directory, PIN then being the
pin's path; or the pidfd of the process whose /proc/<pid>/ns/net the netns is), or when slirp4netns
(STACK_PID, its child: spawned before the exec) exits. Nothing else holds EXIT_FD, so however the keeper
ends, slirp4netns follows.
"""

import os
import select
import sys
import time

KEEPER = "md-slirp-keeper"  # its comm (15 characters at most)


def _pin_gone(gone_fd: int, pin: str) -> bool:
    """Drain the inotify events (non-blocking fd) and look at the pin itself."""
    try:
        while os.read(gone_fd, 1 << 16):
            pass
    except BlockingIOError:
        pass
    return not os.path.lexists(pin)


def hold(exit_fd: int, stack_pid: int, gone_fd: int, pin: str | None, timeout: float | None = None) -> bool:
    """Hold EXIT_FD until the netns or slirp4netns is gone, then let go and reap slirp4netns: True. False
    (still holding) once `timeout` seconds pass first."""
    stack = os.pidfd_open(stack_pid)  # our child: a zombie until we reap it, so never a reused pid
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = select.select([gone_fd, stack], [], [], left)[0]
            if not ready:
                return False
            if stack in ready or pin is None or _pin_gone(gone_fd, pin):
                break
    finally:
        os.close(stack)
    os.close(exit_fd)  # slirp4netns sees the hang-up and exits
    os.waitpid(stack_pid, 0)
    return True


def main(argv: list[str]) -> None:
    with open("/proc/self/comm", "w") as f:
        f.write(KEEPER)
    hold(int(argv[0]), int(argv[1]), int(argv[2]), argv[3] if len(argv) > 3 else None)


if __name__ == "__main__":
    main(sys.argv[1:])
