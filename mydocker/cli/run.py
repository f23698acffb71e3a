"""`mydocker run`."""

from __future__ import annotations

from mydocker.flags import Command

command = (
    Command("run", "Create and run a new container from an image",
            usage="run [OPTIONS] IMAGE [COMMAND] [ARG...]", min_args=1, interspersed=False)
    .flag("-i", "--interactive", help="keep stdin open")
    .flag("-t", "--tty", help="allocate a pseudo-terminal")
    .flag("--rm", help="remove the container when it exits")
    .flag("-d", "--detach", help="run the container in the background and print its ID")
    .flag("--restart", kind="str", metavar="POLICY", default="no", help="no, on-failure[:N], always, unless-stopped")
    .flag("--log-opt", kind="list", metavar="K=V", help="json-file log options: max-size=10m, max-file=3")
    .flag("--name", kind="str", metavar="NAME", help="name the container")
    .flag("-e", "--env", kind="list", metavar="K=V", help="set an environment variable")
    .flag("-h", "--hostname", kind="str", metavar="NAME", help="container host name")
    .flag("-w", "--workdir", kind="str", metavar="DIR", help="working directory inside the container")
    .flag("-u", "--user", kind="str", metavar="USER", help="user[:group] or uid[:gid]")
    .flag("--entrypoint", kind="str", metavar="CMD", help="override the image's entrypoint")
    .flag("-v", "--volume", kind="list", metavar="SRC:DST[:ro]", help="bind mount a host path or a named volume")
    .flag("-m", "--memory", kind="str", metavar="BYTES", help="memory limit (e.g. 64m)")
    .flag("--memory-swap", kind="str", metavar="BYTES", help="memory plus swap limit; -1 for unlimited swap")
    .flag("--memory-reservation", kind="str", metavar="BYTES", help="memory soft limit")
    .flag("--cpus", kind="str", metavar="N", help="number of CPUs (e.g. 0.5)")
    .flag("-c", "--cpu-shares", kind="int", metavar="N", help="relative CPU weight")
    .flag("--cpuset-cpus", kind="str", metavar="LIST", help="CPUs the container may use (0-2,4)")
    .flag("--cpuset-mems", kind="str", metavar="LIST", help="memory nodes the container may use")
    .flag("--pids-limit", kind="int", metavar="N", help="process limit (default 2048; -1 for unlimited)")
    .flag("--cgroup-parent", kind="str", metavar="PATH", help="parent cgroup for the container (default /mydocker)")
    .flag("--cap-add", kind="list", metavar="CAP", help="add a Linux capability (or ALL)")
    .flag("--cap-drop", kind="list", metavar="CAP", help="drop a Linux capability (or ALL)")
    .flag("--privileged", help="all capabilities and devices, no seccomp, writable /sys")
    .flag("--security-opt", kind="list", metavar="OPT", help="no-new-privileges, seccomp=unconfined|PROFILE.json")
    .flag("--read-only", help="mount the container's root filesystem read-only")
    .flag("--ulimit", kind="list", metavar="NAME=SOFT[:HARD]", help="set a resource limit (nofile=1024:2048)")
    .flag("--init", help="run a tiny init as PID 1 that reaps zombies and forwards signals")
    .flag("--network", "--net", kind="str", metavar="NET", help="bridge (default), none, host, container:NAME or a network")
    .flag("-p", "--publish", kind="list", metavar="[IP:][HOST:]PORT[/PROTO]", help="publish a container port on the host")
    .flag("--ip", kind="str", metavar="IP", help="IPv4 address on a user-defined network")
    .flag("--userns", kind="str", metavar="MODE", help="host (default), or remap[:HOST-UID:SIZE]: root in the container is an unprivileged uid on the host")
)


def handle(engine, opts, args: list[str]) -> int:
    from mydocker.cli.terminal import stdin_not_a_terminal, terminal_streams
    if stdin_not_a_terminal(opts):
        return 1  # Docker's code; nothing is made
    from mydocker.engine.api import RunOptions, SecurityOptions
    run_opts = RunOptions(image=args[0], command=args[1:], name=opts.name, env=opts.env, tty=opts.tty,
                          interactive=opts.interactive, remove=opts.rm, hostname=opts.hostname,
                          workdir=opts.workdir, user=opts.user, entrypoint=opts.entrypoint, volumes=opts.volume,
                          memory=opts.memory, memory_swap=opts.memory_swap, memory_reservation=opts.memory_reservation,
                          cpus=opts.cpus, cpu_shares=opts.cpu_shares, cpuset_cpus=opts.cpuset_cpus,
                          cpuset_mems=opts.cpuset_mems, pids_limit=opts.pids_limit, cgroup_parent=opts.cgroup_parent,
                          network=opts.network, publish=opts.publish, ip=opts.ip, userns=opts.userns,
                          security=SecurityOptions(cap_add=opts.cap_add, cap_drop=opts.cap_drop,
                                                   privileged=opts.privileged, security_opt=opts.security_opt,
                                                   read_only=opts.read_only, ulimits=opts.ulimit, init=opts.init))
    run_opts.detach, run_opts.restart, run_opts.log_opts = opts.detach, opts.restart, opts.log_opt
    if opts.detach:  # the monitor owns it from here (engine/monitor.py)
        print(engine.containers.run(run_opts, progress=_pull_progress).id)
        return 0
    report = engine.containers.run(run_opts, terminal_streams(), progress=_pull_progress)
    if report.oom_killed:
        import sys
        limit = f" (limit {report.memory_limit / 1048576:g}MiB)" if report.memory_limit else ""
        what = "container" if report.ended_by_oom else "a process in the container"  # which went on
        print(f"mydocker: {what} was killed: out of memory{limit}", file=sys.stderr)
    return report.exit_code


_progress = None


def _pull_progress(*args, **kwargs) -> None:
    """Docker's pull display on stderr, loaded only when `run` has to pull: start-up is a feature."""
    global _progress
    if _progress is None:
        import sys

        from mydocker.cli.progress import Progress
        _progress = Progress(sys.stderr)
    _progress(*args, **kwargs)
