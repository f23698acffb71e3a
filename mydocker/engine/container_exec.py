"""`exec`: a process started in a running container's namespaces and cgroup, attached to the caller's streams.

An exec instance of the Docker API (created by one request, started by another, inspected by a third,
each maybe from another process) is a small JSON file under <runroot>/execs/: the engine's state, not a
front end's. Its output goes to the caller's fds, or, without a tty, to a `write(stream, data)` callback
(the API frames it).
"""

from __future__ import annotations

import os

from mydocker import jsonio
from mydocker.engine.container_paths import ContainerPaths
from mydocker.engine.observation import Observation
from mydocker.errors import Conflict, InvalidArgument, MyDockerError, NotFound
from mydocker.lazy import lazy_module

runtime = lazy_module("mydocker.runtime.api")
bundle_config = lazy_module("mydocker.engine.bundle_config")
secrets = lazy_module("secrets")
options = lazy_module("mydocker.engine.options")
tty = lazy_module("mydocker.linux.tty")
fs = lazy_module("mydocker.linux.fs")
users = lazy_module("mydocker.engine.users")
container_input = lazy_module("mydocker.engine.container_input")

EXECS = "execs"  # under the run root: <exec id>.json


class ContainerExec:
    def __init__(self, observation: Observation, paths: ContainerPaths) -> None:
        self.observation = observation
        self.paths = paths

    def exec(self, ref: str, opts, streams, write=None, started=None) -> int:
        """Run `opts.command` (api.ExecOptions) in the container's namespaces and cgroup, attached to the
        caller's `streams` (api.Streams); its exit code (0 with detach). `write(stream, data)`: without a
        tty, the output goes there instead of streams.stdout/stderr. `started(pid)`: once it runs."""
        rec = self.observation.find(ref)
        if rec.status == "paused":
            raise Conflict(f"container {rec.name} is paused, unpause the container before exec")
        if rec.status != "running":
            raise Conflict(f"container {rec.name} is not running: start it before exec")
        process = self._process(rec.id, opts)
        terminal = streams.terminal if opts.tty and streams is not None else None
        if terminal is not None:
            rows, cols = tty.get_winsize(terminal)
            process["consoleSize"] = {"height": rows, "width": cols}
        elif opts.tty and opts.console_size:
            process["consoleSize"] = {"height": opts.console_size[0], "width": opts.console_size[1]}
        stdin = streams.stdin if opts.interactive and not opts.detach else None
        devnull = None
        if stdin is None:
            devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        pipes, theirs = [], []
        if write is not None and not opts.tty and not opts.detach:
            for stream in ("stdout", "stderr"):
                r, w = os.pipe2(os.O_CLOEXEC)
                pipes.append((r, None, stream))
                theirs.append(w)
        if opts.detach:
            stdio = (devnull, devnull, devnull)
        elif pipes:
            stdio = (devnull if stdin is None else stdin, theirs[0], theirs[1])
        else:
            stdio = (devnull if stdin is None else stdin, streams.stdout, streams.stderr)
        try:
            proc = runtime.exec_process(self.paths.runtime_root, rec.id, process, stdio=stdio, detach=opts.detach)
        except BaseException:
            for r, _, _ in pipes:
                os.close(r)
            raise
        finally:
            for fd in theirs + ([devnull] if devnull is not None else []):
                os.close(fd)
        if started is not None:
            started(proc.pid)
        if opts.detach:
            if proc.console_fd is not None:
                os.close(proc.console_fd)
            return 0
        # a tty exec the caller may detach from (Docker's detach keys), leaving it running
        scanner = container_input.DetachScanner(container_input.parse_detach_keys(opts.detach_keys)) \
            if proc.console_fd is not None and stdin is not None and streams.on_detach is not None else None
        try:
            return runtime.run_foreground(proc.pid, proc.console_fd, stdin=stdin, stdout=streams.stdout,
                                          raw=streams.raw, terminal=terminal, sig_proxy=streams.sig_proxy,
                                          resize=streams.resize, tee=write if pipes else None, pipes=pipes or None,
                                          # a socket's end is the client leaving, not a ^D typed (Docker's)
                                          eof_as_ctrl_d=scanner is None or terminal is not None,
                                          detach=scanner.feed if scanner else None,
                                          on_detach=streams.on_detach if scanner else None)
        finally:
            for r, _, _ in pipes:
                os.close(r)
            if proc.console_fd is not None:
                os.close(proc.console_fd)

    def _process(self, container_id: str, opts) -> dict:
        """The OCI process object of the exec: the container's, with the exec's command, env, user, cwd."""
        config = jsonio.load_file(os.path.join(self.paths.container_dir(container_id), "config.json"))
        base = config["process"]
        process = {k: v for k, v in base.items() if k not in ("args", "terminal", "consoleSize")}
        process["args"] = opts.command
        process["terminal"] = opts.tty
        process["env"] = bundle_config.merge_env(base.get("env") or [], (["TERM=xterm"] if opts.tty else [])
                                                 + bundle_config.validate_env(opts.env or []))
        if opts.user:
            resolved = users.resolve_user(os.path.join(self.paths.container_dir(container_id), "rootfs"), opts.user)
            process["user"] = {"uid": resolved.uid, "gid": resolved.gid, "additionalGids": resolved.additional_gids}
        if opts.workdir:
            if not opts.workdir.startswith("/"):
                raise InvalidArgument(f"the working directory {opts.workdir!r} is invalid: "
                                      "it needs to be an absolute path")
            process["cwd"] = opts.workdir
        return process

    # --- exec instances (the Docker API's create / start / inspect / resize) ----------------------

    def _record_path(self, exec_id: str) -> str:
        if not exec_id or not all(c in "0123456789abcdef" for c in exec_id):
            raise NotFound(f"No such exec instance: {exec_id}")
        return os.path.join(self.paths.runroot, EXECS, exec_id + ".json")

    def _save(self, doc: dict) -> None:
        path = self._record_path(doc["ID"])
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fs.write_atomic(path, jsonio.dumps(doc))  # readers see the old record or the new one, never half of one

    def _load(self, exec_id: str) -> dict:
        try:
            return jsonio.load_file(self._record_path(exec_id))
        except FileNotFoundError:
            raise NotFound(f"No such exec instance: {exec_id}") from None

    def create(self, ref: str, opts) -> str:
        """An exec instance of `opts` in the running container `ref`, not started; its id."""
        if not opts.command:
            raise InvalidArgument("No exec command specified")
        rec = self.observation.find(ref)
        if rec.status == "paused":
            raise Conflict(f"container {rec.id} is paused, unpause the container before exec")
        if rec.status != "running":
            raise Conflict(f"container {rec.id} is not running")
        self._process(rec.id, opts)  # a bad user, workdir or env fails here, not at start
        container_input.parse_detach_keys(opts.detach_keys)  # and bad detach keys
        self._prune()
        exec_id = secrets.token_hex(32)
        self._save({"ID": exec_id, "ContainerID": rec.id, "Options": _options_doc(opts), "Running": False,
                    "Started": False, "ExitCode": None, "Pid": 0, "PidStart": None})
        return exec_id

    def _prune(self) -> None:
        """Forget the exec instances of containers that were removed (Docker drops them with the container)."""
        directory = os.path.join(self.paths.runroot, EXECS)
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return
        for name in names:
            path = os.path.join(directory, name)
            try:
                if not os.path.isdir(self.paths.container_dir(jsonio.load_file(path)["ContainerID"])):
                    os.unlink(path)
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a temp file being renamed, or one another process removed first

    def inspect(self, exec_id: str) -> dict:
        """Docker's exec inspect document."""
        doc = self._load(exec_id)
        o = doc["Options"]
        running = doc["Running"] and doc["Pid"] > 0 and runtime.process_start_time(doc["Pid"]) == doc["PidStart"]
        return {"ID": doc["ID"], "ContainerID": doc["ContainerID"], "Running": running, "ExitCode": doc["ExitCode"],
                "Pid": doc["Pid"], "CanRemove": False, "DetachKeys": o.get("detach_keys") or "",
                "OpenStdin": o["interactive"],
                "OpenStdout": True, "OpenStderr": True,
                "ProcessConfig": {"tty": o["tty"], "entrypoint": o["command"][0], "arguments": o["command"][1:],
                                  "privileged": False, "user": o["user"] or ""}}

    def start(self, exec_id: str, streams, write=None, detach: bool = False) -> int:
        """Run the exec instance (once); its exit code, recorded before this returns (0 with detach)."""
        doc = self._load(exec_id)
        if doc["Started"]:
            raise Conflict(f"exec {exec_id} has already been started")
        doc["Started"] = True
        self._save(doc)
        opts = options.ExecOptions(**{**doc["Options"], "detach": detach})

        def started(pid: int) -> None:
            doc.update(Running=True, Pid=pid, PidStart=runtime.process_start_time(pid))
            self._save(doc)

        code = None
        failed = 126  # dockerd's code for an exec that could not start
        try:
            code = self.exec(doc["ContainerID"], opts, streams, write=write, started=started)
            return code
        except MyDockerError as e:
            if e.exit_code in (126, 127):  # as `mydocker exec` (and `run`) say: 127 for a command not found
                failed = e.exit_code
            raise
        finally:
            if not detach:
                doc.update(Running=False, ExitCode=failed if code is None and not doc["Pid"] else code)
                self._save(doc)

    def resize(self, exec_id: str, rows: int, cols: int) -> None:
        doc = self._load(exec_id)
        if not doc["Options"]["tty"]:
            return  # Docker accepts it and does nothing
        self._resize_process(doc["Pid"], doc["PidStart"], rows, cols, f"exec {exec_id}")

    def resize_container(self, ref: str, rows: int, cols: int) -> None:
        """The console of a running container with a tty, resized from any process."""
        rec = self.observation.find(ref)
        if rec.status not in ("running", "paused"):
            raise Conflict(f"container {rec.id} is not running")
        pid = runtime.state(self.paths.runtime_root, rec.id).pid
        self._resize_process(pid, runtime.process_start_time(pid), rows, cols, f"container {rec.id}")

    @staticmethod
    def _resize_process(pid: int, start_time, rows: int, cols: int, what: str) -> None:
        if rows <= 0 or cols <= 0:
            raise InvalidArgument(f"invalid size {rows}x{cols}: height and width must be positive")
        if not pid:
            raise Conflict(f"{what} is not running: start it before resizing it")
        runtime.resize_terminal(pid, start_time, rows, cols)


def _options_doc(opts) -> dict:
    return {"command": list(opts.command), "env": list(opts.env), "user": opts.user, "workdir": opts.workdir,
            "tty": opts.tty, "interactive": opts.interactive,
            "console_size": list(opts.console_size) if opts.console_size else None, "detach_keys": opts.detach_keys}
