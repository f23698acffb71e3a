"""Start the kernel's wait for the cgroup attach lock early, in parallel with our own work, for an
init that `create` moves into its cgroups by pid."""

# posix, not os (0.9 ms to import with -S, __future__ 0.1 ms: docs/startup.md): a cheap module to load.
import posix
import sys

# Moving a process into a cgroup by pid takes the kernel's global threadgroup lock, whose first
# writer waits for an RCU grace period (10-15 ms here), but writers arriving while that period runs
# or just after it share it. Started early, the wait is mostly over by the time `create` moves the
# container. A direct init needs no such move (runtime/process.py: cloned into its cgroup2 directory,
# joining v1 itself), so `create` kicks the prewarm only for an init it moves by pid (one in a user
# namespace, or a runtime with a thread). Measured: docs/startup.md.


def own_procs_file() -> str | None:
    """The cgroup.procs file of the cgroup2 group we are in, or None (no cgroup2 mount)."""
    try:
        with open("/proc/self/cgroup") as f:
            own = next((line.rstrip("\n").split(":", 2)[2] for line in f if line.startswith("0::")), None)
    except OSError:
        return None
    base = next((b for b in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup") if _exists(b + "/cgroup.procs")), None)
    if own is None or base is None:
        return None
    return f"{base}{own.rstrip('/')}/cgroup.procs"


def _exists(path: str) -> bool:
    try:
        posix.stat(path)
    except OSError:
        return False
    return True


_kick = None  # the write end of this process's shell's stdin (prewarm_attach_lock): each line moves it

# one move per line read, exit 0 at the end of its stdin (1 if the kernel refused a move); the path
# is the script's $0: never parsed by the shell
_MOVER = 'while read -r _; do echo 0 > "$0" || exit 1; done'


def prewarm_attach_lock(move: bool = True) -> int | None:
    """Spawn this process's prewarm shell, which moves itself into its own cgroup (a no-op move) at
    each line on its stdin: one now with `move`, then one at each kick(), until finish() (or our
    exit) ends its stdin. Returns its pid, to reap; None if this process has one already (kick it).
    Without `move` it waits, parked, for the first kick: a long-lived process spawns it ahead (the
    monitor, an API worker forked ahead of its request), so that a launch or a `create` pays a
    write instead of a spawn (1.2-2 ms here).

    The child is /bin/sh, spawned (vfork + exec), not a fork of this interpreter: after a fork every
    page either process writes faults to be copied, ours included, until the child is gone. For a
    process that may unshare its mount namespace itself (the engine); the runtime uses a thread.
    The shell waits in read(2) between moves: it costs no CPU, and a kick is one write of ours. A
    process forked from ours shares the shell: its kicks move it too."""
    global _kick
    procs = own_procs_file()
    if procs is None or _kick is not None:
        return None
    read_end, write_end = posix.pipe2(posix.O_CLOEXEC)  # the write end stays ours: EOF when we close it
    actions = [(posix.POSIX_SPAWN_DUP2, read_end, 0),
               *((posix.POSIX_SPAWN_OPEN, fd, "/dev/null", posix.O_RDWR, 0) for fd in (1, 2))]
    try:
        pid = posix.posix_spawn("/bin/sh", ["sh", "-c", _MOVER, procs], {}, file_actions=actions)
    except OSError:
        posix.close(write_end)
        return None  # no /bin/sh: the container's first move waits the whole grace period
    finally:
        posix.close(read_end)
    _kick = write_end
    if move:
        kick()
    return pid


def kick() -> bool:
    """Have this process's shell move now (or start the thread `defer` held back); False without
    either. When our start-up took longer than the lock stays warm after its last move (about one
    grace period), this starts the wait again, in parallel with what is left before the container's
    move."""
    global _kick, _deferred
    if _deferred:
        _deferred = False
        return prewarm_in_thread()
    if _kick is None:
        return False
    try:
        posix.write(_kick, b"\n")
    except OSError:  # the shell is gone: only a head start is lost
        posix.close(_kick)
        _kick = None
        return False
    return True


# How often the thread moves again, and for how long at most (a created container is placed well
# within it). After a writer leaves, the next one shares its grace period only until the kernel's
# callback, one more grace period later, puts the lock back to idle: moving again every few ms keeps
# it warm until the container's move, however late our start-up gets to it under load.
_EVERY = 0.004
_MOVES = 60

_stop = None  # a lock the thread waits on between moves; released by finish()
_deferred = False  # defer(): the thread starts at kick(), if `create` moves the container by pid at all


def _keep_warm(fd: int, stop, switch_interval: float) -> None:
    sys.setswitchinterval(switch_interval)  # we have the GIL: the main thread's usual share again
    try:
        for _ in range(_MOVES):
            posix.write(fd, b"0")  # "0": this thread's process, into the group it is in already
            if stop.acquire(timeout=_EVERY):
                break
    except OSError:
        pass  # only a head start is lost
    finally:
        posix.close(fd)


def prewarm_in_thread() -> bool:
    """The same no-op move, written by a thread of this process, again every few ms until finish()
    (or 240 ms): no process to spawn (a shell's exec and dynamic linking cost more than the thread),
    nothing to reap. The thread blocks every signal, so that none meant for us is taken by it while
    our main thread waits in a system call. It needs the GIL for a moment before its first write
    (which runs without it): a short switch interval hands it over at once instead of after the
    default 5 ms, and the thread puts the interval back.

    Only for a process that unshares neither its mount nor its user namespace while the thread may
    live (the kernel refuses both to a multi-threaded process): the runtime's children do that, after
    their fork. Once per process (the command line defers it to `create`'s kick: `defer`). True when
    a thread was started."""
    global _stop
    if _stop is not None:
        return False
    import _thread
    _stop = _thread.allocate_lock()
    _stop.acquire()
    procs = own_procs_file()
    if procs is None:
        return False
    try:
        fd = posix.open(procs, posix.O_WRONLY | posix.O_CLOEXEC)
    except OSError:
        return False
    import _signal
    interval = sys.getswitchinterval()
    mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, _signal.valid_signals())
    try:  # the thread inherits the blocked mask; ours is restored at once
        sys.setswitchinterval(1e-5)
        _thread.start_new_thread(_keep_warm, (fd, _stop, interval))
    except RuntimeError:
        sys.setswitchinterval(interval)
        posix.close(fd)
        return False
    finally:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
    return True


def defer() -> None:
    """The runtime's `create` and `run`: the thread starts at `kick()`, which `create` sends only when
    it will move the container by pid; a direct init, cloned into its cgroup2 directory and joining
    the rest itself, takes no global lock, and a thread would only keep clone3 from being used."""
    global _deferred
    if _stop is None:  # no thread yet
        _deferred = True


def finish() -> None:
    """The container has joined its cgroups: the thread stops moving, the shell leaves (no-op when
    neither runs)."""
    global _kick
    if _stop is not None and _stop.locked():
        _stop.release()
    if _kick is not None:
        posix.close(_kick)
        _kick = None
