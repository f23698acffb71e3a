"""`exec`: a process started in a running container's namespaces and cgroup, attached to the caller's streams."""

from __future__ import annotations

import os

from mydocker import jsonio
from mydocker.engine.container_paths import ContainerPaths
from mydocker.engine.observation import Observation
from mydocker.errors import Conflict, InvalidArgument


class ContainerExec:
    def __init__(self, observation: Observation, paths: ContainerPaths) -> None:
        self.observation = observation
        self.paths = paths

    def exec(self, ref: str, opts, streams) -> int:
        """Run `opts.command` (api.ExecOptions) in the container's namespaces and cgroup, attached to the
        caller's `streams` (api.Streams); its exit code (0 with detach)."""
        from mydocker.runtime import api as runtime
        from mydocker.engine.specbuild import merge_env, validate_env
        rec = self.observation.find(ref)
        if rec.status == "paused":
            raise Conflict(f"container {rec.name} is paused, unpause the container before exec")
        if rec.status != "running":
            raise Conflict(f"container {rec.name} is not running: start it before exec")
        config = jsonio.load_file(os.path.join(self.paths.container_dir(rec.id), "config.json"))
        base = config["process"]
        process = {k: v for k, v in base.items() if k not in ("args", "terminal", "consoleSize")}
        process["args"] = opts.command
        process["terminal"] = opts.tty
        process["env"] = merge_env(base.get("env") or [], (["TERM=xterm"] if opts.tty else []) + validate_env(opts.env or []))
        if opts.user:
            from mydocker.engine.users import resolve_user
            resolved = resolve_user(os.path.join(self.paths.container_dir(rec.id), "rootfs"), opts.user)
            process["user"] = {"uid": resolved.uid, "gid": resolved.gid, "additionalGids": resolved.additional_gids}
        if opts.workdir:
            if not opts.workdir.startswith("/"):
                raise InvalidArgument(f"the working directory {opts.workdir!r} is invalid: it needs to be an absolute path")
            process["cwd"] = opts.workdir
        terminal = streams.terminal if opts.tty and streams is not None else None
        if terminal is not None:
            from mydocker.linux.tty import get_winsize
            rows, cols = get_winsize(terminal)
            process["consoleSize"] = {"height": rows, "width": cols}
        stdin = streams.stdin if opts.interactive and not opts.detach else None
        devnull = None
        if stdin is None:
            devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        stdio = (devnull, devnull, devnull) if opts.detach else (
            devnull if stdin is None else stdin, streams.stdout, streams.stderr)
        try:
            proc = runtime.exec_process(self.paths.runtime_root, rec.id, process, stdio=stdio, detach=opts.detach)
        finally:
            if devnull is not None:
                os.close(devnull)
        if opts.detach:
            if proc.console_fd is not None:
                os.close(proc.console_fd)
            return 0
        try:
            return runtime.run_foreground(proc.pid, proc.console_fd, stdin=stdin, stdout=streams.stdout,
                                             raw=streams.raw, terminal=terminal, sig_proxy=streams.sig_proxy,
                                             resize=streams.resize)
        finally:
            if proc.console_fd is not None:
                os.close(proc.console_fd)
