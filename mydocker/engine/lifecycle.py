"""A container's life after `create`: launch through the monitor (and, in the monitor's worker,
create, start and record the exit), start, stop, kill, wait, restart, rm, rename, prune, top.

A collaborator of ContainerService (engine/containers.py), which hands it what it needs: the records,
the paths, the observation of containers, the network service and the teardown.
"""

from __future__ import annotations

import _signal as signal  # the constants without the Signals enum: `signal` imports enum
import os
import time

from mydocker.lazy import lazy_module

events = lazy_module("mydocker.engine.events")  # loaded by the first verb that tells an event (not by ps)
from mydocker.engine.container_paths import LOWERS, ContainerPaths
from mydocker.engine.observation import UNKNOWN_EXIT, Observation
from mydocker.engine.database import ContainerRecord, Records, now
from mydocker import jsonio
from mydocker.errors import (CommandNotExecutable, CommandNotFound, Conflict, InvalidArgument, MyDockerError,
                             NotFound, RuntimeFailure)

docker_config = lazy_module("mydocker.engine.docker_config")
engine_resources = lazy_module("mydocker.engine.resources")
monitor = lazy_module("mydocker.engine.monitor_client")  # only the commands that talk to it load it
health = lazy_module("mydocker.engine.health")
logs = lazy_module("mydocker.engine.logs")
api = lazy_module("mydocker.runtime.api")
snapshot = lazy_module("mydocker.image.snapshot")
names = lazy_module("mydocker.engine.names")
subprocess = lazy_module("subprocess")
userns = lazy_module("mydocker.engine.userns")
fs = lazy_module("mydocker.linux.fs")

WAIT_CONDITIONS = ("not-running", "next-exit", "removed")   # Docker's `wait --condition`



_ERRORS = {"notfound": CommandNotFound, "notexec": CommandNotExecutable, "invalid": InvalidArgument,
           "conflict": Conflict}


# --- `update`'s limits -------------------------------------------------------------------

def update_resources(opts) -> dict:
    """The `linux.resources` of the flags `update` was given, and only those (no defaults)."""
    return engine_resources.resources_from_options(opts.resources, defaults=False)


# --- the lifecycle --------------------------------------------------------------------------

class Lifecycle:
    def __init__(self, records: Records, paths: ContainerPaths, observation: Observation, networks, teardown) -> None:
        """networks: the NetworkService, or a function making it; teardown(container_id, remove,
        files_later=False): the container service's undoing of whatever exists of a container."""
        self.records = records
        self.paths = paths
        self.observation = observation
        self._networks = networks
        self.teardown = teardown

    @property
    def networks(self):
        if callable(self._networks):
            self._networks = self._networks()
        return self._networks

    # launching (the CLI side, then the monitor's worker)

    def launch_via_monitor(self, container_id: str) -> int:
        rec = self.records.get_container(container_id)
        log = (rec.host_config.get("LogConfig") or {}).get("Config") or {}
        healthcheck = None
        if rec.config.get("Healthcheck"):
            healthcheck = health.active(rec.config)
        api.prewarm_kick()  # the monitor's worker creates it in a few ms
        reply = monitor.request(self.paths.root, self.paths.runroot, {
            "op": "launch", "id": container_id, "tty": bool(rec.config.get("Tty")),
            "health_interval": healthcheck["Interval"] / 1e9 if healthcheck else 0,
            "interactive": bool(rec.config.get("OpenStdin")), "stdin_once": bool(rec.config.get("StdinOnce")),
            "log_path": self.paths.log_path(container_id),
            "log": {"max_size": logs.parse_size(log["max-size"]) if log.get("max-size") else 0,
                    "max_file": int(log.get("max-file", 1))}})
        if "error" in reply:
            raise _ERRORS.get(reply["error"], RuntimeFailure)(reply["message"])
        return reply["pid"]

    def watch_health(self, container_id: str, pid: int, config: dict) -> None:
        """A foreground run's healthcheck: the monitor probes it until `pid` (its init) exits. Best
        effort: a container whose health cannot be watched still runs."""
        healthcheck = health.active(config)
        if healthcheck is None:
            return
        self.records.update_container(container_id, health=health.starting())
        try:
            monitor.request(self.paths.root, self.paths.runroot, {
                "op": "watch", "id": container_id, "pid": pid, "health_interval": healthcheck["Interval"] / 1e9})
        except MyDockerError:
            pass

    def launch(self, container_id: str, stdio: list[int], channel, me: str) -> dict:
        """In a monitor's worker: create and start the container with the monitor's pipes."""
        rec = self.records.get_container(container_id)
        if rec is None or rec.status == "removing" or rec.manually_stopped:  # `start` clears the flag first
            if rec is not None and rec.status == "restarting":
                self.records.update_container(container_id, status="exited")
            return {"error": "conflict", "message": f"container {container_id} is being removed or was stopped"}
        directory = self.paths.container_dir(container_id)
        devnull = os.open(os.devnull, os.O_RDWR)
        stdio = [devnull if fd < 0 else fd for fd in stdio]
        try:
            self.delete_runtime(container_id)  # what a crash or the last run left
            self.mount_rootfs(container_id)
            config = jsonio.load_file(os.path.join(directory, "config.json"))
            userns.restore(config, self.paths.runroot, container_id)
            self.networks.ensure_attached(container_id)  # attached again after a stop (config.json paths stay)
            _state, init = api.create(self.paths.runtime_root, container_id, directory, config, stdio=tuple(stdio),
                                      checked=True)  # the engine's own config.json
            fds = [init.console_fd] if init.console_fd is not None else None
            channel.send({"type": "started", "pid": init.pid}, fds)
            try:
                api.start(self.paths.runtime_root, container_id)
            except ProcessLookupError:
                # runtime.start opens a pidfd after releasing the init: a command as quick as `true`
                # can be gone, and reaped by the monitor, by then. It ran: the monitor has its status.
                pass
            recorded = self.records.update_container(container_id, unless_status=("removing",), status="running",
                                                     pid=init.pid, started_at=now(), monitor=me, error="",
                                                     exit_code=0, oom_killed=False,
                                                     health=health.starting() if health.active(rec.config) else {})
            now_rec = self.records.get_container(container_id)
            if recorded and now_rec is not None:
                events.volume_mounts(self.paths.runroot, self.paths.volumes_dir, container_id, config["mounts"],
                                     "mount")
                events.container(self.paths.runroot, now_rec, "start")
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
        api.delete(self.paths.runtime_root, container_id, force=True)  # nothing to delete is fine when forced

    def mount_rootfs(self, container_id: str) -> None:
        directory = self.paths.container_dir(container_id)
        if os.path.ismount(os.path.join(directory, "rootfs")):
            return
        try:
            lowers = jsonio.load_file(os.path.join(directory, LOWERS))
        except FileNotFoundError:
            raise Conflict(f"container {container_id} has no record of its image layers: "
                           "remove it and run a new one") from None
        snapshot.prepare(lowers, directory)

    def exited(self, container_id: str, code: int) -> bool:
        """In a monitor's worker: record the exit, tear down; True if the restart policy restarts it."""
        rec = self.records.get_container(container_id)
        if rec is None or rec.status == "removing":
            return False  # `rm` is tearing it down
        try:
            oom = api.oom_killed(self.paths.runtime_root, container_id)  # before the cgroup goes
        except MyDockerError:
            oom = False  # no runtime state left: nothing to tell
        policy = rec.host_config.get("RestartPolicy") or {}
        name, limit = policy.get("Name", "no"), policy.get("MaximumRetryCount", 0)
        restart = not rec.manually_stopped and (
            name in ("always", "unless-stopped")
            or (name == "on-failure" and code != 0 and (not limit or rec.restart_count < limit)))
        error = ""
        remove = bool(rec.host_config.get("AutoRemove")) and not restart
        mounts = self.paths.spec_mounts(container_id)  # its volumes' unmount events; --rm removes the file
        if remove:  # the record goes with the teardown: say the exit first (`wait --condition removed` reads it)
            self.records.update_container(container_id, unless_status=("removing",), status="removing",
                                          exit_code=code, finished_at=now(), pid=0, oom_killed=oom)
            # and tell it before the teardown, as Docker's die comes before its destroy: a waiter that
            # finds the record gone reads the exit code from this event
            self._told_exit(rec, code, mounts)
        try:
            # removed: its files go after the record, in a detached `rm`, as a foreground `run --rm`'s do
            # (this runs in a monitor's worker, which exits next; the monitor reaps the orphaned `rm`)
            self.teardown(container_id, remove=remove, files_later=remove)
        except BaseException as exc:
            error, restart = f"teardown after the exit failed: {exc}", False
            raise
        finally:  # recorded after the teardown: whoever sees "exited" finds it torn down
            self.records.update_container(container_id, unless_status=("removing",),
                                          status="restarting" if restart else "exited", exit_code=code,
                                          finished_at=now(), pid=0, oom_killed=oom, error=error,
                                          restart_count=rec.restart_count + (1 if restart else 0))
            if not remove:
                self._told_exit(rec, code, mounts)
        return restart

    def _told_exit(self, rec: ContainerRecord, code: int, mounts: list[dict]) -> None:
        """The events of a container's exit: its die, its volumes' unmount."""
        events.container(self.paths.runroot, rec, "die", exitCode=code)
        events.volume_mounts(self.paths.runroot, self.paths.volumes_dir, rec.id, mounts, "unmount")

    # verbs

    def start(self, ref: str) -> ContainerRecord:
        rec = self.observation.find(ref)
        if rec.status == "running":
            return rec
        if rec.status == "paused":
            raise Conflict(f"cannot start a paused container {rec.name}, try unpause instead")
        if rec.status == "removing":
            raise Conflict(f"container {rec.name} is being removed: it cannot be started")
        if rec.status != "created" or rec.started_at:  # a created one is set up as launch needs it: keep it
            self.teardown(rec.id, remove=False)
        if rec.manually_stopped:  # a write only after a `stop`: docker run's start (of a created one) has none
            self.records.update_container(rec.id, manually_stopped=False)
        try:
            self.launch_via_monitor(rec.id)
        except BaseException:
            # Docker removes an AutoRemove container whose start failed: the docker CLI's `run --rm`
            # waits for that removal (wait?condition=removed) and hung forever without it
            if rec.host_config.get("AutoRemove"):
                self.teardown(rec.id, remove=True)
            raise
        return rec

    def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> ContainerRecord:
        """StopSignal (or `sig`), `timeout` seconds, then SIGKILL; returns once the exit is recorded."""
        rec = self.observation.find(ref)
        self.records.update_container(rec.id, manually_stopped=True)
        if rec.status not in ("running", "paused"):  # a paused one is thawed once signalled, as Docker does
            if rec.status == "restarting":
                self.observation.record_lost(rec, rec.exit_code or 0, "")
            return rec
        sig = api.parse_signal(sig or rec.config.get("StopSignal") or "SIGTERM")
        timeout = rec.config.get("StopTimeout", 10) if timeout is None else timeout
        self._signal(rec, sig)
        if not self.observation.wait_gone(rec, max(timeout, 0)):
            self._signal(rec, signal.SIGKILL)
            self.observation.wait_gone(rec, None)
            sig = signal.SIGKILL
        done = self.observation.await_record(rec, 128 + sig)
        events.container(self.paths.runroot, rec, "stop")
        return done

    def kill(self, ref: str, sig: str = "KILL") -> ContainerRecord:
        number = api.parse_signal(sig)
        rec = self.observation.find(ref)
        if rec.status not in ("running", "paused"):
            raise Conflict(f"container {rec.name} is not running: only a running container can be signalled")
        self._signal(rec, number)
        events.container(self.paths.runroot, rec, "kill", signal=number)
        return rec

    def wait(self, ref: str, condition: str = "not-running") -> int:
        """The exit code once the container is not running (Docker's conditions: not-running, or
        next-exit: the exit of the run after this call; removed: once it is removed, too)."""
        if condition not in WAIT_CONDITIONS:
            raise InvalidArgument(f"invalid wait condition {condition!r}: use {', '.join(WAIT_CONDITIONS)}")
        if condition == "not-running":
            return self._wait_not_running(ref)
        since = time.time_ns()
        rec = self.observation.find(ref)
        before, code, seen = rec.finished_at, rec.exit_code, False
        # every change of state appends to the events log (start, die, destroy): woken by those appends,
        # the waiter answers when the change happens; the timeouts only bound a missed wake-up
        changes = self.observation.changes()
        while True:
            if rec.status in ("running", "paused"):
                self.observation.wait_gone(rec, 1.0)  # then the monitor records the exit in moments
            fresh = self.records.get_container(rec.id)
            if fresh is None:  # removed; an exit not seen here was told by its die event
                if not seen:
                    told = events.exit_code(self.paths.runroot, rec.id, since)
                    code = told if told is not None else code
                return code if code is not None else UNKNOWN_EXIT
            rec = self.observation.observe(fresh)
            if rec.finished_at != before and rec.status in ("exited", "removing", "dead"):
                code, seen = rec.exit_code, True
                if condition == "next-exit":
                    return code if code is not None else UNKNOWN_EXIT
            changes.wait(0.002 if rec.status == "running" else 0.1)

    def _wait_not_running(self, ref: str) -> int:
        rec = self.observation.find(ref)
        while rec.status in ("running", "restarting", "paused"):
            if rec.status in ("running", "paused"):
                self.observation.wait_gone(rec, None)
                rec = self.observation.await_record(rec, UNKNOWN_EXIT)
            else:
                time.sleep(0.05)
                rec = self.observation.find(rec.id)
        return rec.exit_code if rec.exit_code is not None else UNKNOWN_EXIT

    def restart(self, ref: str, timeout: int | None = None) -> ContainerRecord:
        rec = self.stop(ref, timeout)
        return self.start(rec.id)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> ContainerRecord:
        rec = self.observation.find(ref)
        with self.paths.container_lock(rec.id):  # an attached `run` holds it until its container runs
            rec = self.records.get_container(rec.id) or rec  # as it is now (gone: torn down already)
            if rec.status in ("running", "restarting", "paused") and not force:
                raise Conflict(f"cannot remove container {rec.name}: it is {rec.status}; stop it first or use rm -f")
            # its monitor or run neither records nor restarts it now
            self.records.update_container(rec.id, status="removing")
        if rec.status in ("running", "paused"):
            self._signal(rec, signal.SIGKILL)
            self.observation.wait_gone(rec, 10)
            # its monitor records nothing of a container being removed: its end is told here
            events.container(self.paths.runroot, rec, "kill", signal=int(signal.SIGKILL))
            self._told_exit(rec, 128 + int(signal.SIGKILL), self.paths.spec_mounts(rec.id))
        self.teardown(rec.id, remove=True, remove_volumes=volumes)
        return rec

    def rename(self, ref: str, new_name: str) -> None:
        rec = self.records.find_container(ref)
        name = names.check_name(new_name)
        if name == rec.name:
            raise InvalidArgument(f"container {rec.name} already has that name: give a different one")
        self.records.rename_container(rec.id, name)
        self.networks.rename(rec.id, name)
        old, rec.name = rec.name, name
        events.container(self.paths.runroot, rec, "rename", oldName="/" + old)

    def prune(self) -> list[str]:
        removed = []
        for rec in self.observation.list(all=True):
            if rec.status in ("exited", "created", "dead"):
                try:
                    self.remove(rec.id)
                except (Conflict, NotFound):
                    continue
                removed.append(rec.id)
        return removed

    def top(self, ref: str, ps_args: list[str]) -> tuple[str, list[str]]:
        """The host's `ps` (default -ef), its lines limited to the container's processes."""
        rec = self.observation.find(ref)
        if rec.status not in ("running", "paused"):
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

    # helpers

    def _signal(self, rec: ContainerRecord, sig: int) -> None:
        """Signal the init; a paused container is thawed after, so that it can act on it (Docker's way)."""
        try:
            api.kill(self.paths.runtime_root, rec.id, sig)
        except (Conflict, NotFound, ProcessLookupError):
            pass  # it is gone already
        if rec.status == "paused":
            self._thaw(rec)

    def _thaw(self, rec: ContainerRecord) -> None:
        try:
            api.resume(self.paths.runtime_root, rec.id)
        except (Conflict, NotFound):
            pass  # not paused in the runtime (any more), or gone
        self.records.update_container(rec.id, unless_status=("removing", "exited", "dead"), status="running")
        rec.status = "running" if rec.status == "paused" else rec.status

    def update(self, ref: str, opts, rootless=None) -> ContainerRecord:
        """`docker update`: the new limits go into the container's config.json (so every later start
        has them) and, while it runs, into its cgroups through the runtime; a new restart policy into
        its record. Refused as a whole before anything changes."""
        resources = update_resources(opts)
        policy = docker_config.parse_restart(opts.restart) if opts.restart is not None else None
        rec = self.observation.find(ref)
        if rootless is not None and resources:
            rootless.check_options(opts)
        with self.paths.container_lock(rec.id):
            rec = self.observation.observe(self.records.get_container(rec.id) or rec)
            if rec.status in ("removing", "dead"):
                raise Conflict(f"container {rec.name} is being removed: nothing to update")
            if policy is not None and policy["Name"] != "no" and rec.host_config.get("AutoRemove"):
                raise InvalidArgument("restart policy cannot be updated because AutoRemove is enabled "
                                      "for the container")
            if resources:
                path = os.path.join(self.paths.container_dir(rec.id), "config.json")
                config = jsonio.load_file(path)
                current = config.setdefault("linux", {}).setdefault("resources", {})
                for key, value in resources.items():
                    current[key] = {**(current.get(key) or {}), **value}
                if rec.status in ("running", "paused"):
                    api.update(self.paths.runtime_root, rec.id, resources)
                fs.write_atomic(path, jsonio.dumps(config))  # a `start` reading it sees the old or the new
            if policy is not None:
                self.records.update_container(rec.id, host_config={**rec.host_config, "RestartPolicy": policy})
        events.container(self.paths.runroot, rec, "update")
        return rec

    def pause(self, ref: str) -> ContainerRecord:
        """Freeze every process of the container (the freezer cgroup, through the runtime)."""
        rec = self.observation.find(ref)
        with self.paths.container_lock(rec.id):
            rec = self.observation.observe(self.records.get_container(rec.id) or rec)
            if rec.status == "paused":
                raise Conflict(f"container {rec.name} is already paused")
            if rec.status != "running":
                raise Conflict(f"container {rec.name} is not running")
            api.pause(self.paths.runtime_root, rec.id)
            self.records.update_container(rec.id, unless_status=("removing", "exited", "dead"), status="paused")
        events.container(self.paths.runroot, rec, "pause")
        return rec

    def unpause(self, ref: str) -> ContainerRecord:
        rec = self.observation.find(ref)
        with self.paths.container_lock(rec.id):
            rec = self.observation.observe(self.records.get_container(rec.id) or rec)
            if rec.status != "paused":
                raise Conflict(f"container {rec.name} is not paused")
            api.resume(self.paths.runtime_root, rec.id)
            self.records.update_container(rec.id, unless_status=("removing", "exited", "dead"), status="running")
        events.container(self.paths.runroot, rec, "unpause")
        return rec

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
