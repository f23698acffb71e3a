"""What a user asks of `run`, already parsed from the command line but not yet validated."""

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


@record
class BuildOptions:
    context: str
    dockerfile: str | None = None           # path; default CONTEXT/Dockerfile
    tags: list[str] = factory(list)
    build_args: list[str] = factory(list)   # K=V (or K: taken from the environment)
    no_cache: bool = False
    quiet: bool = False
    network: str | None = None              # for RUN: bridge (default), none, host or a network
