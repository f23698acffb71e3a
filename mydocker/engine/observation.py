"""Observation of containers: the record, corrected by what the processes say; waiting for an exit;
logs and inspect.

The record says what was last written; the processes say what is. `observe` reconciles them: a
record "running" whose init is gone is settled by its monitor within moments, or, if the monitor
is gone too (kill -9), marked exited with an unknown status (255) and an error saying why.
"""

from __future__ import annotations

import os
import time

from mydocker.engine.container_paths import ContainerPaths
from mydocker.engine.database import ContainerRecord, Records, now
from mydocker.errors import NotFound
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.runtime.api")
select = lazy_module("select")
engine_logs = lazy_module("mydocker.engine.logs")
engine_inspect = lazy_module("mydocker.engine.inspect")
inotify = lazy_module("mydocker.linux.inotify")

UNKNOWN_EXIT = 255
LOST = "the container's monitor was gone when it exited, so its exit status is unknown"


def alive(monitor_identity: str) -> bool:
    """Is the process recorded as "pid:starttime" (a container's monitor) still running?"""
    pid, _, start = monitor_identity.partition(":")
    return pid.isdigit() and api.process_start_time(int(pid)) == int(start or 0)


def identity(pid: int) -> str:
    """"pid:starttime": names one process for as long as the machine runs (pids are reused)."""
    return f"{pid}:{api.process_start_time(pid)}"


class Observation:
    def __init__(self, records: Records, paths: ContainerPaths) -> None:
        self.records = records
        self.paths = paths
        self._changes = None  # inotify.Watch, made on first use and kept (see changes())

    def find(self, ref: str) -> ContainerRecord:
        return self.observe(self.records.find_container(ref))

    def list(self, all: bool = False) -> list[ContainerRecord]:
        found = [self.observe(r) for r in self.records.containers()]
        return [r for r in found if all or r.status in ("running", "restarting", "paused")]

    def process_alive(self, rec: ContainerRecord) -> bool:
        try:
            state = api.state(self.paths.runtime_root, rec.id)
        except (NotFound, ValueError, OSError):
            return False
        return state.pid == rec.pid and api.status(self.paths.runtime_root, state) in ("created", "running", "paused")

    def observe(self, rec: ContainerRecord) -> ContainerRecord:
        """The record, corrected by what the processes say (monitor or CLI killed, crash)."""
        if rec.status in ("running", "paused") and not self.process_alive(rec):
            deadline = time.monotonic() + 3
            while alive(rec.monitor) and time.monotonic() < deadline:
                self.changes().wait(0.01)  # its monitor is recording the exit now: woken by its die event
                fresh = self.records.get_container(rec.id)
                if fresh is None or fresh.status != "running" or fresh.pid != rec.pid:
                    return fresh or rec
            return self.record_lost(rec, UNKNOWN_EXIT, LOST)
        if rec.status == "restarting" and not alive(rec.monitor):
            return self.record_lost(rec, rec.exit_code if rec.exit_code is not None else UNKNOWN_EXIT, LOST)
        return rec

    def record_lost(self, rec: ContainerRecord, code: int, error: str) -> ContainerRecord:
        values = dict(status="exited", exit_code=code, finished_at=now(), pid=0, error=error)
        self.records.update_container(rec.id, **values)
        for key, value in values.items():
            setattr(rec, key, value)
        return rec

    def wait_gone(self, rec: ContainerRecord, timeout: float | None) -> bool:
        """Wait until the init has exited (a pidfd works for a process that is not our child)."""
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

    def await_record(self, rec: ContainerRecord, fallback: int) -> ContainerRecord:
        """The exited init's record as its monitor writes it; `fallback` if no monitor is left."""
        deadline = time.monotonic() + 10
        while True:
            fresh = self.records.get_container(rec.id)
            if fresh is None or fresh.status != "running" or fresh.pid != rec.pid:
                return fresh or rec
            if not alive(rec.monitor) or time.monotonic() > deadline:
                return self.record_lost(fresh, fallback, LOST)
            time.sleep(0.001)  # a read of the record costs microseconds; the exit is ms away

    def logs(self, ref: str, opts, write, ready=None) -> None:
        """Its log entries (api.LogsOptions) to `write(stream, data)`; with follow, until it stops.
        `ready()` once the log has been read (before the first write)."""
        rec = self.find(ref)

        def running() -> bool:
            fresh = self.records.get_container(rec.id)
            # an init that has exited is not the end: its monitor writes its last output to the log,
            # then records the exit (observe waits for that, or records it itself if the monitor is gone)
            return fresh is not None and self.observe(fresh).status in ("running", "restarting", "created")

        engine_logs.read_logs(self.paths.log_path(rec.id), write, since=opts.since, until=opts.until, tail=opts.tail,
                              timestamps=opts.timestamps, follow=running if opts.follow else None, ready=ready)

    def changes(self, *paths: str):
        """This process's inotify Watch on the run root, whose events log is appended at every change
        of a container's state (start, die, destroy), and on `paths` from now on: a waiter wakes as
        they change. Kept open for the process's life: a close can take an RCU grace period, which a
        waiter would add to its answer (inotify.Watch)."""
        if self._changes is None:
            self._changes = inotify.watch([self.paths.runroot])
        for path in paths:
            self._changes.add(path)
        return self._changes

    def attach(self, ref: str, write, poll: float = 0.1, stop=None, ready=None) -> None:
        """The output the container writes from now on, to `write(stream, data)`, until its next exit
        (a container not started yet: until it has run). Read from its log, which its monitor writes
        (stdin is not attached yet), woken by the log's writes and the exit's event (`poll` bounds a
        missed wake-up, and how long a `stop()` turning true — the client detached — waits to be seen).
        The file stays open: `--rm` removes it as the container exits. `ready()` is called once it follows."""
        rec = self.find(ref)
        before = rec.finished_at
        path = self.paths.log_path(rec.id)

        def running() -> bool:
            fresh = self.records.get_container(rec.id)
            if fresh is None or (stop is not None and stop()):
                return False
            fresh = self.observe(fresh)
            return fresh.finished_at == before or fresh.status not in ("exited", "removing", "dead")

        engine_logs.follow_file(path, write, running, poll, ready, pause=self.changes(os.path.dirname(path)).wait)

    def inspect(self, ref: str, networks=None) -> dict:
        """Docker's inspect document; `networks` (the NetworkService) fills its network side."""
        rec = self.find(ref)
        network = networks.container_view(rec.id) if networks is not None else None
        return engine_inspect.container_json(rec, self.paths.container_dir(rec.id), self.paths.log_path(rec.id),
                                             network)
