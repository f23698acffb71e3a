"""`mydocker run`."""

from __future__ import annotations

import sys

from mydocker.flags import Command, Flag
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")
terminal = lazy_module("mydocker.cli.terminal")
progress = lazy_module("mydocker.cli.progress")

# The resource flags `run`, `create` and `update` take; each one's dest is a field of api.ResourceOptions.
RESOURCE_FLAGS = (
    Flag(("-m", "--memory"), kind="str", metavar="BYTES", help="memory limit (e.g. 64m)"),
    Flag(("--memory-swap",), kind="str", metavar="BYTES", help="memory plus swap limit; -1 for unlimited swap"),
    Flag(("--memory-reservation",), kind="str", metavar="BYTES", help="memory soft limit"),
    Flag(("--cpus",), kind="str", metavar="N", help="number of CPUs (e.g. 0.5)"),
    Flag(("-c", "--cpu-shares"), kind="int", metavar="N", help="relative CPU weight"),
    Flag(("--cpuset-cpus",), kind="str", metavar="LIST", help="CPUs the container may use (0-2,4)"),
    Flag(("--cpuset-mems",), kind="str", metavar="LIST", help="memory nodes the container may use"),
    Flag(("--pids-limit",), kind="int", metavar="N", help="process limit (-1 for unlimited)"),
)


def resource_flags(cmd: Command, pids_default: str = "") -> Command:
    """Add RESOURCE_FLAGS to `cmd` (the same records: nothing to build again on `run`'s start-up);
    `pids_default`: the limit a new container gets without --pids-limit, for its help."""
    for flag in RESOURCE_FLAGS:
        if pids_default and flag.names == ("--pids-limit",):
            flag = Flag(flag.names, kind=flag.kind, metavar=flag.metavar,
                        help=f"process limit (default {pids_default}; -1 for unlimited)")
        cmd.flags.append(flag)
    return cmd


def resource_options(opts):
    """The parsed RESOURCE_FLAGS as the engine's ResourceOptions."""
    return api.ResourceOptions(**{flag.dest: opts[flag.dest] for flag in RESOURCE_FLAGS})


def container_flags(cmd: Command) -> Command:
    """The flags `run` and `create` share: what the container is."""
    (cmd
        .flag("-i", "--interactive", help="keep stdin open")
        .flag("-t", "--tty", help="allocate a pseudo-terminal")
        .flag("--rm", help="remove the container when it exits")
        .flag("--restart", kind="str", metavar="POLICY", default="no",
              help="no, on-failure[:N], always, unless-stopped")
        .flag("--log-opt", kind="list", metavar="K=V", help="json-file log options: max-size=10m, max-file=3")
        .flag("--name", kind="str", metavar="NAME", help="name the container")
        .flag("-e", "--env", kind="list", metavar="K=V", help="set an environment variable")
        .flag("-h", "--hostname", kind="str", metavar="NAME", help="container host name")
        .flag("-w", "--workdir", kind="str", metavar="DIR", help="working directory inside the container")
        .flag("-u", "--user", kind="str", metavar="USER", help="user[:group] or uid[:gid]")
        .flag("--entrypoint", kind="str", metavar="CMD", help="override the image's entrypoint")
        .flag("-v", "--volume", kind="list", metavar="SRC:DST[:ro]", help="bind mount a host path or a named volume"))
    return (resource_flags(cmd, pids_default="2048")
        .flag("--cgroup-parent", kind="str", metavar="PATH", help="parent cgroup for the container (default /mydocker)")
        .flag("--cap-add", kind="list", metavar="CAP", help="add a Linux capability (or ALL)")
        .flag("--cap-drop", kind="list", metavar="CAP", help="drop a Linux capability (or ALL)")
        .flag("--privileged", help="all capabilities and devices, no seccomp, writable /sys")
        .flag("--security-opt", kind="list", metavar="OPT", help="no-new-privileges, seccomp=unconfined|PROFILE.json")
        .flag("--read-only", help="mount the container's root filesystem read-only")
        .flag("--ulimit", kind="list", metavar="NAME=SOFT[:HARD]", help="set a resource limit (nofile=1024:2048)")
        .flag("--init", help="run a tiny init as PID 1 that reaps zombies and forwards signals")
        .flag("--network", "--net", kind="str", metavar="NET",
              help="bridge (default), none, host, container:NAME or a network")
        .flag("-p", "--publish", kind="list", metavar="[IP:][HOST:]PORT[/PROTO]",
              help="publish a container port on the host")
        .flag("--ip", kind="str", metavar="IP", help="IPv4 address on a user-defined network")
        .flag("--userns", kind="str", metavar="MODE",
              help="host (default), or remap[:HOST-UID:SIZE]: root in the container is an unprivileged uid on the host")
        .flag("-l", "--label", kind="list", metavar="K=V", help="set metadata on the container")
        .flag("--label-file", kind="list", metavar="PATH", help="read labels from a file of K=V lines")
        .flag("--mount", kind="list", metavar="type=T,source=S,target=D",
              help="attach a mount: type=bind|volume|tmpfs, source, target, readonly, bind-propagation, "
                   "volume-nocopy, tmpfs-size, tmpfs-mode")
        .flag("--tmpfs", kind="list", metavar="PATH[:OPTS]", help="mount a tmpfs (e.g. /run:size=64m,mode=1777)")
        .flag("--add-host", kind="list", metavar="NAME:IP", help="add a line to /etc/hosts (IP may be host-gateway)")
        .flag("--dns", kind="list", metavar="IP", help="set a nameserver")
        .flag("--dns-search", kind="list", metavar="DOMAIN", help="set a search domain (. for none)")
        .flag("--dns-option", "--dns-opt", kind="list", metavar="OPT", help="set a resolv.conf option")
        .flag("--env-file", kind="list", metavar="PATH", help="read environment variables from a file of K=V lines")
        .flag("-P", "--publish-all", help="publish every exposed port to a free host port")
        .flag("--expose", kind="list", metavar="PORT[/PROTO]", help="expose a port or a range of ports")
        .flag("--network-alias", kind="list", metavar="NAME", help="another name for the container on its network")
        .flag("--health-cmd", kind="str", metavar="CMD",
              help="command (run by sh -c) that checks the container's health")
        .flag("--health-interval", kind="str", metavar="DURATION", help="time between checks (default 30s)")
        .flag("--health-timeout", kind="str", metavar="DURATION", help="time a check may take (default 30s)")
        .flag("--health-retries", kind="int", metavar="N", help="failures in a row that make it unhealthy (default 3)")
        .flag("--health-start-period", kind="str", metavar="DURATION", help="time to start before failures count")
        .flag("--no-healthcheck", help="disable the image's HEALTHCHECK")
    )


command = container_flags(
    Command("run", "Create and run a new container from an image",
            usage="run [OPTIONS] IMAGE [COMMAND] [ARG...]", min_args=1, interspersed=False)
    .flag("-d", "--detach", help="run the container in the background and print its ID")
    .flag("--detach-keys", kind="str", metavar="KEYS",
          help="the keys that detach from a -it container (ctrl-p,ctrl-q)"))


def run_options(opts, args: list[str]):
    """The parsed flags of `run` or `create` as the engine's RunOptions."""
    run_opts = api.RunOptions(image=args[0], command=args[1:], name=opts.name, env=opts.env, tty=opts.tty,
                              interactive=opts.interactive, remove=opts.rm, hostname=opts.hostname,
                              workdir=opts.workdir, user=opts.user, entrypoint=opts.entrypoint, volumes=opts.volume,
                              resources=resource_options(opts), cgroup_parent=opts.cgroup_parent,
                              network=opts.network, publish=opts.publish, ip=opts.ip, userns=opts.userns,
                              security=api.SecurityOptions(cap_add=opts.cap_add, cap_drop=opts.cap_drop,
                                                       privileged=opts.privileged, security_opt=opts.security_opt,
                                                       read_only=opts.read_only, ulimits=opts.ulimit, init=opts.init))
    run_opts.detach, run_opts.restart, run_opts.log_opts = opts.get("detach", False), opts.restart, opts.log_opt
    run_opts.detach_keys = opts.get("detach_keys")
    # each parser is loaded only when its flags are given (start-up: docs/startup.md)
    if opts.label or opts.label_file:
        run_opts.labels = api.parse_labels(opts.label, opts.label_file)
    if opts.mount or opts.tmpfs:
        run_opts.mounts, run_opts.tmpfs = [api.parse_mount(m) for m in opts.mount], api.parse_tmpfs(opts.tmpfs)
    if opts.env_file:
        run_opts.env = [line for path in opts.env_file for line in api.read_env_file(path)] + list(opts.env)
    run_opts.extra_hosts, run_opts.dns, run_opts.dns_search = opts.add_host, opts.dns, opts.dns_search
    run_opts.dns_options, run_opts.network_aliases = opts.dns_option, opts.network_alias
    run_opts.publish_all, run_opts.expose = opts.publish_all, opts.expose
    health = (opts.health_cmd, opts.health_interval, opts.health_timeout, opts.health_retries,
              opts.health_start_period, opts.no_healthcheck)
    if any(value not in (None, False) for value in health):
        run_opts.healthcheck = api.healthcheck_from_flags(*health)
    return run_opts


def handle(engine, opts, args: list[str]) -> int:
    if terminal.stdin_not_a_terminal(opts):
        return 1  # Docker's code; nothing is made
    run_opts = run_options(opts, args)
    if opts.detach:  # the monitor owns it from here (engine/monitor.py)
        print(engine.containers.run(run_opts, progress=_pull_progress).id)
        return 0
    streams = terminal.terminal_streams()
    if run_opts.tty and run_opts.interactive:  # the detach keys can leave it running: we are its supervisor's waiter
        engine.containers.check_detach_keys(run_opts.detach_keys)
        code = terminal.detachable(streams)
        if code is not None:
            return code  # the waiter: the supervisor detached (0) or ended (its code)
    report = engine.containers.run(run_opts, streams, progress=_pull_progress)
    if report.oom_killed:
        limit = f" (limit {report.memory_limit / 1048576:g}MiB)" if report.memory_limit else ""
        what = "container" if report.ended_by_oom else "a process in the container"  # which went on
        print(f"mydocker: {what} was killed: out of memory{limit}", file=sys.stderr)
    return report.exit_code


_progress = None


def _pull_progress(*args, **kwargs) -> None:
    """Docker's pull display on stderr, loaded only when `run` has to pull: start-up is a feature."""
    global _progress
    if _progress is None:

        _progress = progress.Progress(sys.stderr)
    _progress(*args, **kwargs)
