"""A container's life after `create`: launch through the monitor, the truth about its state, stop,
kill, start, restart, wait, rm, rename, prune, top and exec. Mixed into ContainerService.

The record says what was last written; the processes say what is. `observe` reconciles them: a
record "running" whose init is gone is settled by its monitor within moments, or, if the monitor
is gone too (kill -9), marked exited with an unknown status (255) and an error saying why.
"""

from __future__ import annotations

import _signal as signal  # the constants without the Signals enum: `signal` imports enum
import os
import time

from mydocker.engine.records import ContainerRecord, now
from mydocker import jsonio
from mydocker.errors import (CommandNotExecutable, CommandNotFound, Conflict, InvalidArgument, MyDockerError,
                             NotFound, RuntimeFailure)

LOWERS = "lowers.json"      # the image layers of the container, to mount its rootfs again on `start`
LOCKS = "locks"             # under the run root: one lock file per container (container_lock)
UNKNOWN_EXIT = 255
LOST = "the container's monitor was gone when it exited, so its exit status is unknown"


class _LazyMonitor:
    """The monitor's client: only the commands that talk to it pay for loading it."""

    def __getattr__(self, name: str):
        from mydocker.engine import monitor_client as module
        return getattr(module, name)


monitor = _LazyMonitor()


def alive(monitor_identity: str) -> bool:
    """Is the process recorded as "pid:starttime" (a container's monitor) still running?"""
    from mydocker.runtime.api import process_start_time
    pid, _, start = monitor_identity.partition(":")
    return pid.isdigit() and process_start_time(int(pid)) == int(start or 0)


def identity(pid: int) -> str:
    """"pid:starttime": names one process for as long as the machine runs (pids are reused)."""
    from mydocker.runtime.api import process_start_time
    return f"{pid}:{process_start_time(pid)}"


def one_at_a_time(method):
    """For a ContainerService method taking a container id first: run it holding the container's
    lock (container_lock); once the container's record is gone, its lock file goes too."""
    def locked(self, container_id: str, *args, **kwargs):
        with self.container_lock(container_id) as lock:
            try:
                return method(self, container_id, *args, **kwargs)
            finally:
                if self.records.get_container(container_id) is None:
                    lock.remove()
    locked.__doc__ = method.__doc__
    return locked


_ERRORS = {"notfound": CommandNotFound, "notexec": CommandNotExecutable, "invalid": InvalidArgument,
           "conflict": Conflict}


# --- Docker's Config and HostConfig, recorded at create -----------------------------------------

def parse_restart(value: str | None) -> dict:
    name, _, count = (value or "no").partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy {value!r}: use no, always, unless-stopped or on-failure[:N]")
    if count and (name != "on-failure" or not count.isdigit()):
        raise InvalidArgument(f"invalid restart policy {value!r}: only on-failure takes a count, e.g. on-failure:3")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def parse_log_opts(values: list[str]) -> dict:
    out = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or key not in ("max-size", "max-file"):
            raise InvalidArgument(f"invalid --log-opt {item!r}: json-file takes max-size=SIZE and max-file=N")
        if key == "max-file" and (not value.isdigit() or int(value) < 1):
            raise InvalidArgument(f"invalid --log-opt {item!r}: max-file needs a whole number of at least 1")
        if key == "max-size":
            from mydocker.engine.logs import parse_size
            parse_size(value)
        out[key] = value
    return out


def host_config(opts) -> dict:
    policy = parse_restart(opts.restart)
    if opts.remove and policy["Name"] != "no":
        raise InvalidArgument("conflicting options: --restart and --rm; choose one")
    return {"AutoRemove": opts.remove, "RestartPolicy": policy, "Binds": list(opts.volumes),
            "LogConfig": {"Type": "json-file", "Config": parse_log_opts(opts.log_opts)},
            "NetworkMode": "none" if not getattr(opts, "network", None) else opts.network}


def docker_config(image_config: dict, opts, spec: dict) -> dict:
    cfg = image_config.get("config") or {}
    entrypoint = [opts.entrypoint] if opts.entrypoint else (cfg.get("Entrypoint") or None)
    cmd = opts.command or (None if opts.entrypoint else cfg.get("Cmd"))
    out = {"Hostname": spec.get("hostname", ""), "Domainname": "", "User": opts.user or cfg.get("User") or "",
           "AttachStdin": opts.interactive and not opts.detach, "AttachStdout": not opts.detach,
           "AttachStderr": not opts.detach, "Tty": opts.tty, "OpenStdin": opts.interactive,
           "StdinOnce": opts.interactive and not opts.detach, "Env": spec["process"]["env"], "Cmd": cmd,
           "Image": opts.image, "Volumes": cfg.get("Volumes"), "WorkingDir": opts.workdir or cfg.get("WorkingDir") or "",
           "Entrypoint": entrypoint, "Labels": cfg.get("Labels") or {}}
    if cfg.get("StopSignal"):
        out["StopSignal"] = cfg["StopSignal"]
    return out


def command_line(rec: ContainerRecord) -> list[str]:
    return [*(rec.config.get("Entrypoint") or []), *(rec.config.get("Cmd") or [])]


# --- the lifecycle --------------------------------------------------------------------------

class Lifecycle:
    """Needs: records, runtime_root, containers_dir, container_dir(), teardown()."""

    @property
    def root(self) -> str:
        return os.path.dirname(self.containers_dir)

    @property
    def runroot(self) -> str:
        return os.path.dirname(self.runtime_root)

    def container_lock(self, container_id: str):
        """Held while a container is made and started, while `rm` decides, and during its teardown:
        `rm -f` and the container's own `run` or monitor never work on it at the same moment."""
        from mydocker.linux.fs import Flock
        return Flock(os.path.join(self.runroot, LOCKS, container_id))

    def log_path(self, container_id: str) -> str:
        from mydocker.engine.logs import log_path
        return log_path(self.container_dir(container_id), container_id)

    # truth

    def find(self, ref: str) -> ContainerRecord:
        return self.observe(self.records.find_container(ref))

    def list(self, all: bool = False) -> list[ContainerRecord]:
        found = [self.observe(r) for r in self.records.containers()]
        return [r for r in found if all or r.status in ("running", "restarting", "paused")]

    def process_alive(self, rec: ContainerRecord) -> bool:
        from mydocker.runtime import api as runtime
        try:
            state = runtime.state(self.runtime_root, rec.id)
        except (NotFound, ValueError, OSError):
            return False
        return state.pid == rec.pid and runtime.status(self.runtime_root, state) in ("created", "running", "paused")

    def observe(self, rec: ContainerRecord) -> ContainerRecord:
        """The record, corrected by what the processes say (monitor or CLI killed, crash)."""
        if rec.status == "running" and not self.process_alive(rec):
            deadline = time.monotonic() + 3
            while alive(rec.monitor) and time.monotonic() < deadline:
                time.sleep(0.01)  # its monitor is recording the exit right now
                fresh = self.records.get_container(rec.id)
                if fresh is None or fresh.status != "running" or fresh.pid != rec.pid:
                    return fresh or rec
            return self._record_lost(rec, UNKNOWN_EXIT, LOST)
        if rec.status == "restarting" and not alive(rec.monitor):
            return self._record_lost(rec, rec.exit_code if rec.exit_code is not None else UNKNOWN_EXIT, LOST)
        return rec

    def _record_lost(self, rec: ContainerRecord, code: int, error: str) -> ContainerRecord:
        values = dict(status="exited", exit_code=code, finished_at=now(), pid=0, error=error)
        self.records.update_container(rec.id, **values)
        for key, value in values.items():
            setattr(rec, key, value)
        return rec

    # launching (the CLI side, then the monitor's worker)

    def launch_via_monitor(self, container_id: str) -> int:
        from mydocker.engine.logs import parse_size
        rec = self.records.get_container(container_id)
        log = (rec.host_config.get("LogConfig") or {}).get("Config") or {}
        reply = monitor.request(self.root, self.runroot, {
            "op": "launch", "id": container_id, "tty": bool(rec.config.get("Tty")),
            "interactive": bool(rec.config.get("OpenStdin")), "log_path": self.log_path(container_id),
            "log": {"max_size": parse_size(log["max-size"]) if log.get("max-size") else 0,
                    "max_file": int(log.get("max-file", 1))}})
        if "error" in reply:
            raise _ERRORS.get(reply["error"], RuntimeFailure)(reply["message"])
        return reply["pid"]

    def launch(self, container_id: str, stdio: list[int], channel, me: str) -> dict:
        """In a monitor's worker: create and start the container with the monitor's pipes."""
        from mydocker.runtime.api import create, start
        rec = self.records.get_container(container_id)
        if rec is None or rec.status == "removing" or rec.manually_stopped:  # `start` clears the flag first
            if rec is not None and rec.status == "restarting":
                self.records.update_container(container_id, status="exited")
            return {"error": "conflict", "message": f"container {container_id} is being removed or was stopped"}
        directory = self.container_dir(container_id)
        devnull = os.open(os.devnull, os.O_RDWR)
        stdio = [devnull if fd < 0 else fd for fd in stdio]
        try:
            self.delete_runtime(container_id)  # what a crash or the last run left
            self.mount_rootfs(container_id)
            config = jsonio.load_file(os.path.join(directory, "config.json"))
            from mydocker.engine import userns  # --userns remap: pinned again after a reboot, before its netns
            userns.restore(config, self.runroot, container_id)
            from mydocker.engine.networks import NetworkService  # attached again after a stop (config.json paths stay)
            NetworkService(self.records, self.root, self.runroot).ensure_attached(container_id)
            _state, init = create(self.runtime_root, container_id, directory, config, stdio=tuple(stdio))
            fds = [init.console_fd] if init.console_fd is not None else None
            channel.send({"type": "started", "pid": init.pid}, fds)
            try:
                start(self.runtime_root, container_id)
            except ProcessLookupError:
                # runtime.start opens a pidfd after releasing the init: a command as quick as `true`
                # can be gone, and reaped by the monitor, by then. It ran: the monitor has its status.
                pass
            recorded = self.records.update_container(container_id, unless_status=("removing",), status="running",
                                                     pid=init.pid, started_at=now(), monitor=me, error="",
                                                     exit_code=0, oom_killed=False)
            now_rec = self.records.get_container(container_id)
            if not recorded or now_rec is None:  # `rm -f` came while we started: finish its job
                self.teardown(container_id, remove=True)
                return {"error": "conflict", "message": f"container {container_id} was removed while it started"}
            if now_rec.manually_stopped:  # `stop` came while we started
                self._signal(now_rec, signal.SIGKILL)
            return {"pid": init.pid}
        except BaseException as exc:  # noqa: BLE001 - reported to the CLI, recorded for inspect
            error = exc if isinstance(exc, MyDockerError) else RuntimeFailure(
                f"{exc.strerror or exc}{f': {exc.filename}' if getattr(exc, 'filename', None) else ''}"
                if isinstance(exc, OSError) else str(exc) or type(exc).__name__)
            try:
                self.teardown(container_id, remove=False)
            finally:
                code = error.exit_code if error.exit_code in (126, 127) else 128
                self.records.update_container(container_id, unless_status=("removing",),
                                              status="exited" if rec.started_at else "created",
                                              error=str(error), exit_code=code, pid=0)
            kind = {CommandNotFound: "notfound", CommandNotExecutable: "notexec", InvalidArgument: "invalid",
                    Conflict: "conflict"}.get(type(error), "runtime")
            return {"error": kind, "message": str(error)}

    def delete_runtime(self, container_id: str) -> None:
        from mydocker.runtime.api import delete
        delete(self.runtime_root, container_id, force=True)  # nothing to delete is fine when forced

    def mount_rootfs(self, container_id: str) -> None:
        from mydocker.image import snapshot
        directory = self.container_dir(container_id)
        if os.path.ismount(os.path.join(directory, "rootfs")):
            return
        try:
            lowers = jsonio.load_file(os.path.join(directory, LOWERS))
        except FileNotFoundError:
            raise Conflict(f"container {container_id} has no record of its image layers: remove it and run a new one") from None
        snapshot.prepare(lowers, directory)

    def exited(self, container_id: str, code: int) -> bool:
        """In a monitor's worker: record the exit, tear down; True if the restart policy restarts it."""
        from mydocker.runtime.api import oom_killed
        rec = self.records.get_container(container_id)
        if rec is None or rec.status == "removing":
            return False  # `rm` is tearing it down
        try:
            oom = oom_killed(self.runtime_root, container_id)  # before the cgroup goes
        except MyDockerError:
            oom = False  # no runtime state left: nothing to tell
        policy = rec.host_config.get("RestartPolicy") or {}
        name, limit = policy.get("Name", "no"), policy.get("MaximumRetryCount", 0)
        restart = not rec.manually_stopped and (
            name in ("always", "unless-stopped")
            or (name == "on-failure" and code != 0 and (not limit or rec.restart_count < limit)))
        error = ""
        try:
            self.teardown(container_id, remove=bool(rec.host_config.get("AutoRemove")) and not restart)
        except BaseException as exc:
            error, restart = f"teardown after the exit failed: {exc}", False
            raise
        finally:  # recorded after the teardown: whoever sees "exited" finds it torn down
            self.records.update_container(container_id, unless_status=("removing",),
                                          status="restarting" if restart else "exited", exit_code=code, finished_at=now(), pid=0, oom_killed=oom, error=error,
                                          restart_count=rec.restart_count + (1 if restart else 0))
        return restart

    # verbs

    def start(self, ref: str) -> ContainerRecord:
        rec = self.find(ref)
        if rec.status == "running":
            return rec
        if rec.status == "removing":
            raise Conflict(f"container {rec.name} is being removed: it cannot be started")
        self.teardown(rec.id, remove=False)
        self.records.update_container(rec.id, manually_stopped=False)
        self.launch_via_monitor(rec.id)
        return rec

    def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> ContainerRecord:
        """StopSignal (or `sig`), `timeout` seconds, then SIGKILL; returns once the exit is recorded."""
        from mydocker.runtime.api import parse_signal
        rec = self.find(ref)
        self.records.update_container(rec.id, manually_stopped=True)
        if rec.status != "running":
            if rec.status == "restarting":
                self._record_lost(rec, rec.exit_code or 0, "")
            return rec
        sig = parse_signal(sig or rec.config.get("StopSignal") or "SIGTERM")
        timeout = rec.config.get("StopTimeout", 10) if timeout is None else timeout
        self._signal(rec, sig)
        if not self._wait_gone(rec, max(timeout, 0)):
            self._signal(rec, signal.SIGKILL)
            self._wait_gone(rec, None)
            sig = signal.SIGKILL
        return self._await_record(rec, 128 + sig)

    def kill(self, ref: str, sig: str = "KILL") -> ContainerRecord:
        from mydocker.runtime.api import parse_signal
        number = parse_signal(sig)
        rec = self.find(ref)
        if rec.status != "running":
            raise Conflict(f"container {rec.name} is not running: only a running container can be signalled")
        self._signal(rec, number)
        return rec

    def wait(self, ref: str) -> int:
        rec = self.find(ref)
        while rec.status in ("running", "restarting"):
            if rec.status == "running":
                self._wait_gone(rec, None)
                rec = self._await_record(rec, UNKNOWN_EXIT)
            else:
                time.sleep(0.05)
                rec = self.find(rec.id)
        return rec.exit_code if rec.exit_code is not None else UNKNOWN_EXIT

    def restart(self, ref: str, timeout: int | None = None) -> ContainerRecord:
        rec = self.stop(ref, timeout)
        return self.start(rec.id)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> ContainerRecord:
        rec = self.find(ref)
        with self.container_lock(rec.id):  # an attached `run` holds it until its container runs
            rec = self.records.get_container(rec.id) or rec  # as it is now (gone: torn down already)
            if rec.status in ("running", "restarting", "paused") and not force:
                raise Conflict(f"cannot remove container {rec.name}: it is {rec.status}; stop it first or use rm -f")
            self.records.update_container(rec.id, status="removing")  # its monitor or run neither records nor restarts it now
        if rec.status == "running":
            self._signal(rec, signal.SIGKILL)
            self._wait_gone(rec, 10)
        self.teardown(rec.id, remove=True, remove_volumes=volumes)
        return rec

    def rename(self, ref: str, new_name: str) -> None:
        from mydocker.engine.names import check_name
        rec = self.records.find_container(ref)
        name = check_name(new_name)
        if name == rec.name:
            raise InvalidArgument(f"container {rec.name} already has that name: give a different one")
        self.records.rename_container(rec.id, name)

    def prune(self) -> list[str]:
        removed = []
        for rec in self.list(all=True):
            if rec.status in ("exited", "created", "dead"):
                try:
                    self.remove(rec.id)
                except (Conflict, NotFound):
                    continue
                removed.append(rec.id)
        return removed

    def top(self, ref: str, ps_args: list[str]) -> tuple[str, list[str]]:
        """The host's `ps` (default -ef), its lines limited to the container's processes."""
        import subprocess
        rec = self.find(ref)
        if rec.status != "running":
            raise Conflict(f"container {rec.name} is not running: top needs a running container")
        pids = self._pids(rec.pid)
        result = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True,
                                env={**os.environ, "COLUMNS": "65535"})  # not cut at 80 when piped
        if result.returncode != 0:
            raise InvalidArgument(f"ps {' '.join(ps_args)} failed: {result.stderr.strip()}")
        lines = result.stdout.splitlines()
        header = lines[0]
        try:
            column = header.split().index("PID")
        except ValueError:
            raise InvalidArgument(f"ps {' '.join(ps_args)} shows no PID column: keep PID in its output") from None
        return header, [line for line in lines[1:] if len(line.split()) > column
                        and line.split()[column].isdigit() and int(line.split()[column]) in pids]

    def exec(self, ref: str, command: list[str], env: list[str] | None = None, user: str | None = None,
             workdir: str | None = None, tty: bool = False, interactive: bool = False, detach: bool = False,
             stdio: tuple[int, int, int] = (0, 1, 2)) -> int:
        """Run `command` in the container's namespaces and cgroup; its exit code (0 with detach)."""
        from mydocker.engine import attach
        from mydocker.engine.specbuild import merge_env, validate_env
        from mydocker.runtime.api import exec_process, relay_console, wait_for_exit
        rec = self.find(ref)
        if rec.status != "running":
            raise Conflict(f"container {rec.name} is not running: start it before exec")
        config = jsonio.load_file(os.path.join(self.container_dir(rec.id), "config.json"))
        base = config["process"]
        process = {k: v for k, v in base.items() if k not in ("args", "terminal", "consoleSize")}
        process["args"] = command
        process["terminal"] = tty
        process["env"] = merge_env(base.get("env") or [], (["TERM=xterm"] if tty else []) + validate_env(env or []))
        if user:
            from mydocker.engine.users import resolve_user
            resolved = resolve_user(os.path.join(self.container_dir(rec.id), "rootfs"), user)
            process["user"] = {"uid": resolved.uid, "gid": resolved.gid, "additionalGids": resolved.additional_gids}
        if workdir:
            if not workdir.startswith("/"):
                raise InvalidArgument(f"the working directory {workdir!r} is invalid: it needs to be an absolute path")
            process["cwd"] = workdir
        terminal = attach.terminal_of(stdio[0], stdio[1]) if tty else None
        if tty and terminal is not None:
            from mydocker.linux.tty import get_winsize
            rows, cols = get_winsize(terminal)
            process["consoleSize"] = {"height": rows, "width": cols}
        devnull = None
        if not interactive or detach:
            devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            stdio = (devnull, *stdio[1:]) if not detach else (devnull, devnull, devnull)
        try:
            proc = exec_process(self.runtime_root, rec.id, process, stdio=stdio, detach=detach)
        finally:
            if devnull is not None:
                os.close(devnull)
        if detach:
            if proc.console_fd is not None:
                os.close(proc.console_fd)
            return 0
        console = proc.console_fd
        try:
            with attach.forward_signals(proc.pid, console, terminal):
                if console is not None:
                    attach._copy_winsize(terminal, console)
                    with attach.raw_mode(stdio[0] if interactive and os.isatty(stdio[0]) else None):
                        relay_console(console, stdio[0] if interactive else None, stdio[1])
                return wait_for_exit(proc.pid)
        finally:
            if console is not None:
                os.close(console)

    # helpers

    def _signal(self, rec: ContainerRecord, sig: int) -> None:
        from mydocker.runtime.api import kill
        try:
            kill(self.runtime_root, rec.id, sig)
        except (Conflict, NotFound, ProcessLookupError):
            pass  # it is gone already

    def _wait_gone(self, rec: ContainerRecord, timeout: float | None) -> bool:
        """Wait until the init has exited (a pidfd works for a process that is not our child)."""
        import select
        if not self.process_alive(rec):
            return True
        try:
            pidfd = os.pidfd_open(rec.pid)
        except ProcessLookupError:
            return True
        try:
            if not self.process_alive(rec):  # the pid was reused between the check and the open
                return True
            ready, _, _ = select.select([pidfd], [], [], timeout)
            return bool(ready)
        finally:
            os.close(pidfd)

    def _await_record(self, rec: ContainerRecord, fallback: int) -> ContainerRecord:
        """The exited init's record as its monitor writes it; `fallback` if no monitor is left."""
        deadline = time.monotonic() + 10
        while True:
            fresh = self.records.get_container(rec.id)
            if fresh is None or fresh.status != "running" or fresh.pid != rec.pid:
                return fresh or rec
            if not alive(rec.monitor) or time.monotonic() > deadline:
                return self._record_lost(fresh, fallback, LOST)
            time.sleep(0.001)  # a read of the record costs microseconds; the exit is ms away

    def _pids(self, init: int) -> set[int]:
        """The init and every process in its PID namespace."""
        try:
            ns = os.stat(f"/proc/{init}/ns/pid").st_ino
        except FileNotFoundError:
            return set()
        found = {init}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if os.stat(f"/proc/{name}/ns/pid").st_ino == ns:
                        found.add(int(name))
                except OSError:
                    continue
        if ns == os.stat("/proc/self/ns/pid").st_ino:  # no PID namespace of its own: the init alone
            return {init}
        return found
