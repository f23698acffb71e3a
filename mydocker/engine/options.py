"""The option records of the engine's interface (engine/api.py): what a front end asks, already parsed
from a command line or a request but not yet validated; and the caller's streams."""

from __future__ import annotations

from mydocker.record import factory, record


@record
class SecurityOptions:
    """Capabilities, seccomp, --privileged, --read-only, ulimits, --init: engine/security.py applies them."""
    cap_add: list[str] = factory(list)
    cap_drop: list[str] = factory(list)
    privileged: bool = False
    security_opt: list[str] = factory(list)
    read_only: bool = False
    ulimits: list[str] = factory(list)
    init: bool = False


@record
class RunOptions:
    image: str
    command: list[str] = factory(list)
    name: str | None = None
    env: list[str] = factory(list)
    tty: bool = False
    interactive: bool = False
    stdin_once: bool | None = None        # close its input when the attached client's ends (None: -i without -d)
    remove: bool = False
    hostname: str | None = None
    workdir: str | None = None
    user: str | None = None
    entrypoint: str | None = None
    detach: bool = False                  # -d: the monitor owns the container (engine/monitor.py)
    restart: str = "no"                   # --restart no|on-failure[:N]|always|unless-stopped
    log_opts: list[str] = factory(list)   # --log-opt max-size=10m, max-file=3
    volumes: list[str] = factory(list)   # -v arguments as typed; engine/volumes.py parses them
    # resource flags as typed (None: absent); engine/resources.py turns them into linux.resources
    memory: str | None = None
    memory_swap: str | None = None
    memory_reservation: str | None = None
    cpus: str | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None
    cgroup_parent: str | None = None   # the container's cgroups go under <parent>/<id> (default /mydocker)
    security: SecurityOptions | None = None  # engine/security.py: caps, seccomp, --privileged, --init...
    network: str | None = None       # engine/networks.py: bridge (default) | none | host | container:<ref> | <network>
    publish: list[str] = factory(list)  # -p specs as typed; network/ports.py parses them
    ip: str | None = None
    userns: str | None = None        # --userns host (default) | remap[:<host-uid>:<size>]; engine/specbuild.py
    pull: str = "missing"            # --pull missing (default) | never: a missing image is an error (NoSuchImage)


@record
class BuildOptions:
    context: str
    dockerfile: str | None = None           # path; default CONTEXT/Dockerfile
    tags: list[str] = factory(list)
    build_args: list[str] = factory(list)   # K=V (or K: taken from the environment)
    no_cache: bool = False
    quiet: bool = False
    network: str | None = None              # for RUN: bridge (default), none, host or a network
    stdin: bytes | None = None              # what the caller read for `build -` (context "-": a Dockerfile,
                                            # or a tar of the context) or `-f -` (dockerfile "-": the Dockerfile)


@record
class Streams:
    """The caller's side of a container's standard streams (fds: a terminal, pipes or a socket)."""
    stdin: int | None               # the container's input; None: none (it reads /dev/null)
    stdout: int
    stderr: int
    raw: bool = False               # stdin is a terminal to put in raw mode while attached (-ti)
    terminal: int | None = None     # a terminal whose window size the container's console follows
    resize: int | None = None       # an fd carrying "ROWS COLS" lines: resize events (an HTTP resize request)
    sig_proxy: bool = True          # the signals this process gets go to the container (docker --sig-proxy)


@record
class StopOptions:
    timeout: int | None = None      # seconds before SIGKILL; None: the container's StopTimeout (10)
    signal: str | None = None       # None: the container's StopSignal (SIGTERM)


@record
class RemoveOptions:
    force: bool = False
    volumes: bool = False           # also its anonymous volumes


@record
class ListOptions:
    all: bool = False
    filters: dict = factory(dict)   # Docker's: {"status": ["exited"], "label": ["a=b"], ...}
    last: int = -1                  # the N last created (-1: no limit)
    latest: bool = False


@record
class ExecOptions:
    command: list[str] = factory(list)
    env: list[str] = factory(list)
    user: str | None = None
    workdir: str | None = None
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    console_size: tuple[int, int] | None = None  # (rows, cols) of the tty at start (no terminal of the caller's)


@record
class LogsOptions:
    follow: bool = False
    since: int | None = None        # ns since the epoch
    until: int | None = None
    tail: int | None = None         # None: all
    timestamps: bool = False


@record
class CommitOptions:
    reference: str | None = None    # repository[:tag] of the new image
    changes: list[str] = factory(list)
    message: str = ""
    author: str = ""


@record
class PullOptions:
    platform: str | None = None
    tls_verify: bool | None = None


@record
class NetworkCreateOptions:
    name: str
    driver: str = "bridge"
    subnet: str | None = None
    gateway: str | None = None
    internal: bool = False
    labels: dict = factory(dict)
