"""The option records of the engine's interface (engine/api.py): what a front end asks, already parsed
from a command line or a request but not yet validated; and the caller's streams."""

from __future__ import annotations

from mydocker.recordclass import factory, record


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
class Mount:
    """One `--mount` (Docker's HostConfig.Mounts entry): engine/mounts.py checks and applies it."""
    type: str = "volume"            # bind | volume | tmpfs
    source: str = ""                # bind: absolute host path; volume: name ("" = anonymous); tmpfs: none
    target: str = ""                # absolute path in the container
    readonly: bool = False          # a read-only bind is read-only recursively (rro), as Docker 25+
    bind_propagation: str = ""      # "" = rprivate; private|rprivate|shared|rshared|slave|rslave
    volume_nocopy: bool = False     # do not fill a new volume from the image
    volume_labels: dict[str, str] = factory(dict)   # labels of a volume this mount creates
    tmpfs_size: int | None = None   # bytes (None: the kernel's default, half the RAM)
    tmpfs_mode: int | None = None   # permission bits of the tmpfs root (e.g. 0o1777)


@record
class Healthcheck:
    """Docker's Config.Healthcheck: fields left at zero take the image's HEALTHCHECK, then Docker's
    defaults (30s interval, 30s timeout, 3 retries, no start period). engine/health.py runs it."""
    test: list[str] = factory(list)   # ["CMD", arg...] | ["CMD-SHELL", "cmd"] | ["NONE"] (off) | [] (the image's)
    interval: int = 0                 # ns between probes
    timeout: int = 0                  # ns before a probe counts as failed
    retries: int = 0                  # consecutive failures that make it unhealthy
    start_period: int = 0             # ns after start when failures do not count


@record
class ResourceOptions:
    """The resource flags of `run`/`create` and `update` (Docker's Resources), as typed (None: absent);
    engine/resources.py turns them into linux.resources."""
    memory: str | None = None
    memory_swap: str | None = None
    memory_reservation: str | None = None
    cpus: str | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None


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
    detach_keys: str | None = None        # --detach-keys of an attached -it run (None: ctrl-p,ctrl-q)
    restart: str = "no"                   # --restart no|on-failure[:N]|always|unless-stopped
    log_opts: list[str] = factory(list)   # --log-opt max-size=10m, max-file=3
    volumes: list[str] = factory(list)   # -v arguments as typed; engine/volumes.py parses them
    resources: ResourceOptions = factory(ResourceOptions)  # -m, --cpus, --pids-limit...
    cgroup_parent: str | None = None   # the container's cgroups go under <parent>/<id> (default /mydocker)
    security: SecurityOptions | None = None  # engine/security.py: caps, seccomp, --privileged, --init...
    network: str | None = None       # engine/networks.py: bridge (default) | none | host | container:<ref> | <network>
    publish: list[str] = factory(list)  # -p specs as typed; network/ports.py parses them
    ip: str | None = None
    userns: str | None = None        # --userns host (default) | remap[:<host-uid>:<size>]; engine/bundle_config.py
    pull: str = "missing"            # --pull missing (default) | never: a missing image is an error (NoSuchImage)
    labels: dict[str, str] = factory(dict)   # --label/--label-file (Config.Labels): over the image's labels
    mounts: list[Mount] = factory(list)      # --mount (HostConfig.Mounts); engine/mounts.py
    tmpfs: dict[str, str] = factory(dict)    # --tmpfs PATH[:OPTS] (HostConfig.Tmpfs): path -> "size=64m,mode=1777"
    # name resolution (HostConfig.ExtraHosts, Dns, DnsSearch, DnsOptions); engine/resolution.py checks them
    extra_hosts: list[str] = factory(list)   # --add-host NAME:IP (or NAME:host-gateway)
    dns: list[str] = factory(list)           # --dns IP: nameservers replacing the host's
    dns_search: list[str] = factory(list)    # --dns-search DOMAIN ("." for none)
    dns_options: list[str] = factory(list)   # --dns-option OPT (ndots:2, ...)
    publish_all: bool = False                # -P: every exposed port (image's EXPOSE and `expose`) to a free host port
    expose: list[str] = factory(list)        # --expose PORT[/PROTO] or a range (Config.ExposedPorts)
    network_aliases: list[str] = factory(list)  # --network-alias: more names on its user network
    links: list[str] = factory(list)         # --link NAME[:ALIAS] (HostConfig.Links) on a user network: ALIAS
                                             # names that container for this one alone
    healthcheck: Healthcheck | None = None   # --health-* / --no-healthcheck (test ["NONE"]); None: the image's


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
    labels: dict[str, str] = factory(dict)  # --label: set on the final image (a LABEL step at the end)


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
    # the caller detached from a tty exec (its detach keys; a socket: its input ended) while the process runs
    # on: on_detach() answers whether this process stays to drain and wait (a service's worker) or leaves
    on_detach: object = None


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
    detach_keys: str | None = None  # Docker's --detach-keys / DetachKeys (None: ctrl-p,ctrl-q)


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


@record
class UpdateOptions:
    """`update`: new limits (None: unchanged; the flags and units of `run`) and a new --restart."""
    resources: ResourceOptions = factory(ResourceOptions)
    restart: str | None = None
