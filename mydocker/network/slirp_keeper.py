"""The keeper of a rootless container's slirp4netns (network/usermode.py starts both): a script run as
`python -IS slirp_keeper.py EXIT_FD STACK_PID GONE_FD [PIN]`, importing nothing but builtins, so it
holds ~3 MB (PSS) per running container where a fork of the engine held 8-13 MB.

It holds EXIT_FD, the write end of slirp4netns's --exit-fd, and lets go of it (slirp4netns then exits)
when GONE_FD says the network namespace is gone (an inotify fd on the pin's directory, PIN then being the
pin's path; or the pidfd of the process whose /proc/<pid>/ns/net the netns is), or when slirp4netns
(STACK_PID, its child: spawned before the exec) exits. Nothing else holds EXIT_FD, so however the keeper
ends, slirp4netns follows.
"""

import os
import select
import sys

KEEPER = "md-slirp-keeper"  # its comm (15 characters at most)


def _pin_gone(gone_fd: int, pin: str) -> bool:
    """Drain the inotify events (non-blocking fd) and look at the pin itself."""
    try:
        while os.read(gone_fd, 1 << 16):
            pass
    except BlockingIOError:
        pass
    return not os.path.lexists(pin)


def main(argv: list[str]) -> None:
    with open("/proc/self/comm", "w") as f:
        f.write(KEEPER)
    exit_fd, stack_pid, gone_fd = int(argv[0]), int(argv[1]), int(argv[2])
    pin = argv[3] if len(argv) > 3 else None
    stack = os.pidfd_open(stack_pid)  # our child: a zombie until we reap it, so never a reused pid
    while True:
        ready = select.select([gone_fd, stack], [], [])[0]
        if stack in ready or pin is None or _pin_gone(gone_fd, pin):
            break
    os.close(exit_fd)  # slirp4netns sees the hang-up and exits
    os.waitpid(stack_pid, 0)


if __name__ == "__main__":
    main(sys.argv[1:])
