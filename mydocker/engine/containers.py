"""Containers: the composition of their collaborators, and their making: create one from an image and
options, run it attached to the caller's streams, tear it down.

    ContainerService
      .observation  the record corrected by the processes: find, list, wait for an exit, logs, inspect
      .lifecycle    launch through the monitor, start, stop, kill, wait, restart, rm, rename, prune, top
      .execs        exec in a running container

Every step is recorded before the thing it names is created, and teardown undoes each step
whether or not it happened, so a failure at any point leaves nothing behind.
"""

from __future__ import annotations

import os
import stat

from mydocker.lazy import lazy_module

events = lazy_module("mydocker.engine.events")  # loaded by the first verb that tells an event (not by ps)
from mydocker.engine.container_paths import LOWERS, ContainerPaths
from mydocker.engine.observation import Observation, identity as _identity
from mydocker.engine.options import RunOptions, Streams
from mydocker.engine.reports import RunReport
from mydocker.engine.database import ContainerRecord, Records, now
from mydocker.errors import InvalidArgument, NotFound, NotSupported
from mydocker.recordclass import lazy
from mydocker import jsonio

# ps, stop, rm... do not need what only `run` uses: these load on first use (start-up time is a feature).
container_exec = lazy_module("mydocker.engine.container_exec")
runtime = lazy_module("mydocker.runtime.api")
engine_lifecycle = lazy_module("mydocker.engine.lifecycle")  # not on `run`'s path (docker_config is)
docker_config = lazy_module("mydocker.engine.docker_config")
names = lazy_module("mydocker.engine.names")
bundle_config = lazy_module("mydocker.engine.bundle_config")
snapshot = lazy_module("mydocker.image.snapshot")
archive = lazy_module("mydocker.engine.archive")
signal = lazy_module("signal")
security = lazy_module("mydocker.engine.security")
volumes = lazy_module("mydocker.engine.volumes")
userns = lazy_module("mydocker.engine.userns")
fs = lazy_module("mydocker.linux.fs")
logs = lazy_module("mydocker.engine.logs")
shift = lazy_module("mydocker.image.shift")
copy_mounts = lazy_module("mydocker.engine.copy_mounts")
container_input = lazy_module("mydocker.engine.container_input")
engine_inspect = lazy_module("mydocker.engine.inspect")


def one_at_a_time(method):
    """For a ContainerService method taking a container id first: run it holding the container's
    lock (ContainerPaths.container_lock); once the container's record is gone, its lock file goes too."""
    def locked(self, container_id: str, *args, **kwargs):
        with self.paths.container_lock(container_id) as lock:
            try:
                return method(self, container_id, *args, **kwargs)
            finally:
                if self.records.get_container(container_id) is None:
                    lock.remove()
    locked.__doc__ = method.__doc__
    return locked


class ContainerService:
    def __init__(self, records: Records, images, networks, containers_dir: str, runtime_root: str,
                 rootless=None) -> None:
        """images, networks: the services, or functions making them (stop, rm, ps never need images).
        rootless: engine/rootless.Rootless when an ordinary user runs the engine."""
        self.records = records
        self.rootless = rootless
        self._images = images
        self._networks = networks
        self.paths = ContainerPaths(containers_dir, runtime_root)
        self.containers_dir, self.runtime_root = containers_dir, runtime_root
        self.observation = Observation(records, self.paths)

    @lazy
    def lifecycle(self):
        return engine_lifecycle.Lifecycle(self.records, self.paths, self.observation, lambda: self.networks,
                                          self.teardown)

    @lazy
    def execs(self):
        return container_exec.ContainerExec(self.observation, self.paths)

    @property
    def images(self):
        if callable(self._images):
            self._images = self._images()
        return self._images

    @property
    def networks(self):
        if callable(self._networks):
            self._networks = self._networks()
        return self._networks

    def container_dir(self, container_id: str) -> str:
        return self.paths.container_dir(container_id)

    def run(self, opts: RunOptions, streams: Streams, progress=None) -> RunReport:
        """Run a container attached to the caller's `streams` until it exits."""

        # holding the container's lock: `rm -f` waits until it runs; with --rm its rootfs is volatile.
        # This process reaps it (recorded with its config: one transaction fewer, each one waits on the disk)
        record, config = self._create(opts, progress, volatile=opts.remove, monitor=_identity(os.getpid()))
        directory = self.container_dir(record.id)
        console = devnull = log = None
        pipes: list[tuple[int, int, str]] = []  # (our read end, the caller's fd, stream)
        lock = self.paths.container_lock(record.id)

        def start_it() -> None:
            runtime.start(self.runtime_root, record.id)
            # recorded while its process runs already (the writes overlap its start), before `rm -f` may look
            self.records.update_container(record.id, status="running", pid=init.pid, started_at=now())
            events.volume_mounts(self.paths.runroot, self.paths.volumes_dir, record.id, config["mounts"], "mount")
            events.container(self.paths.runroot, record, "start")
            lock.release()
            if record.config.get("Healthcheck"):  # probed by the monitor while this process relays
                self.lifecycle.watch_health(record.id, init.pid, record.config)

        try:
            stdin = streams.stdin if opts.interactive else None
            if stdin is None:
                devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            stdout, stderr = streams.stdout, streams.stderr
            if not opts.remove:  # Docker logs every container; one removed on exit has no log to read
                log = logs.writer_for(self.paths.log_path(record.id), record.host_config.get("LogConfig") or {})
                if not opts.tty:  # the output goes through us, to the caller and to the log
                    (r1, stdout), (r2, stderr) = os.pipe2(os.O_CLOEXEC), os.pipe2(os.O_CLOEXEC)
                    pipes = [(r1, streams.stdout, "stdout"), (r2, streams.stderr, "stderr")]
            runtime.become_subreaper()
            try:
                _state, init = runtime.create(self.runtime_root, record.id, directory, config,  # built by _create
                                              stdio=(devnull if stdin is None else stdin, stdout, stderr), checked=True)
            finally:
                for fd in (stdout, stderr) if pipes else ():
                    os.close(fd)  # the container holds the write ends: EOF when it is gone
            console = init.console_fd
            # -it: the caller may detach (Docker's detach keys), leaving it running (streams.on_detach)
            scanner = container_input.DetachScanner(container_input.parse_detach_keys(opts.detach_keys)) \
                if console is not None and stdin is not None and streams.on_detach is not None else None
            code = runtime.run_foreground(init.pid, console, start_it, stdin=stdin, stdout=streams.stdout,
                                          raw=streams.raw, terminal=streams.terminal, sig_proxy=streams.sig_proxy,
                                          resize=streams.resize, tee=log.feed if log else None, pipes=pipes,
                                          detach=scanner.feed if scanner else None,
                                          on_detach=streams.on_detach if scanner else None)
            # Docker's State.OOMKilled: the OOM killer killed one of its processes in this run (read
            # before teardown removes the cgroup). It ended the container only if its main process died
            # of that SIGKILL (or passed a killed child's 137 on as its own exit code).
            oom = runtime.oom_killed(self.runtime_root, record.id)
            self.records.update_container(record.id, unless_status=("removing",), status="exited", exit_code=code,
                                          finished_at=now(), pid=0, oom_killed=oom)
            events.container(self.paths.runroot, record, "die", exitCode=code)
            events.volume_mounts(self.paths.runroot, self.paths.volumes_dir, record.id, config["mounts"], "unmount")
            # an `rm -f` that killed it records nothing of it, and removes it
            return RunReport(record.id, code, oom, oom and code == 137, _memory_limit(config))
        finally:
            for fd in (console, devnull, *(r for r, _, _ in pipes)):
                if fd is not None:
                    os.close(fd)
            if log is not None:
                log.close()
            if lock.held:  # it never started
                lock.release()
            # with --rm its files go in a detached child: this process exits the moment the record is gone
            self.teardown(record.id, remove=opts.remove, files_later=opts.remove)

    def create(self, opts: RunOptions, progress=None) -> str:
        """`create`: the container recorded, its rootfs and config.json made; not started."""
        # with --rm its writable layer is volatile, as podman makes it: removed at exit, never synced
        record, _config = self._create(opts, progress, volatile=opts.remove)
        self.paths.container_lock(record.id).release()
        return record.id

    def _create(self, opts: RunOptions, progress=None, volatile: bool = False,
                monitor: str = "") -> tuple[ContainerRecord, dict]:
        """Record the container, then make its rootfs and config.json (record before create).
        `volatile`: its writable layer is never synced (snapshot.prepare): a container removed when it exits.
        `monitor`: the process that will reap it, recorded."""
        if opts.pull not in ("missing", "never"):
            raise InvalidArgument(f"invalid pull policy {opts.pull!r}: use missing or never")
        if self.rootless is not None:  # before anything is made: limits without a cgroup, --userns remap
            self.rootless.check_options(opts)
        image = self.images.get(opts.image, progress=progress, pull=opts.pull == "missing")
        host = docker_config.host_config(opts)
        record = ContainerRecord(id=os.urandom(32).hex(),
                                 name=names.check_name(opts.name) if opts.name else names.generate_name(),
                                 image=opts.image, image_id=image.manifest_digest, created=now(), status="created",
                                 host_config=host)
        lock = self.paths.container_lock(record.id)
        lock.acquire()  # held until the container is made (`run` holds it on until it runs): `rm` waits
        try:
            self.records.add_container(record)
        except BaseException:  # a name in use: nothing was made
            lock.remove()
            lock.release()
            raise
        events.container(self.paths.runroot, record, "create")
        directory = self.container_dir(record.id)
        try:
            os.makedirs(directory, mode=0o700)
            remap, lowers = bundle_config.userns_remap(opts.userns), image.layer_dirs
            if remap:  # --userns remap: layers shifted to the mapped ids, the container's dirs owned by its root
                lowers = shift.shifted_layers(lowers, *remap)
                for path in (directory, *(os.path.join(directory, d) for d in ("upper", "work", "rootfs"))):
                    os.makedirs(path, exist_ok=True)
                    os.chown(path, remap[0], remap[0])
            # a foreground `run --rm` mounts its layer once and removes it: no file to write and remove.
            # Others keep it, so that a volatile layer found unmounted (a reboot) says why it cannot start.
            if not (volatile and monitor):
                with open(os.path.join(directory, LOWERS), "w") as f:
                    f.write(jsonio.dumps(lowers))  # `start` mounts the same layers again
            rootfs = snapshot.prepare(lowers, directory, volatile=volatile)
            config = bundle_config.build_spec(image.config, opts, rootfs, hostname=opts.hostname or record.id[:12],
                                              container_id=record.id)
            security.apply_security(config, opts.security or security.SecurityOptions())
            if self.rootless is not None:
                self.rootless.adjust_spec(config)
            if remap:  # made and pinned before the netns, which must belong to it (its own sysfs)
                userns.pin(config, userns.path_for(self.paths.runroot, record.id))
            config["mounts"] += volumes.for_container(self.records, self.containers_dir, record.id, opts, image.config,
                                                      rootfs, self.paths.runroot)
            # netns joined by path (as CNI), /etc files, -p
            self.networks.configure(record.id, record.name, opts, config,
                                    docker_config.exposed_ports(image.config, opts))
            if remap:  # the mapped root must walk to its rootfs and the engine's bind sources (/etc files)
                for path in [rootfs, *(m["source"] for m in config["mounts"] if m.get("type") == "bind"
                                      and m["source"].startswith(self.paths.root + os.sep))]:
                    shift.reachable(path, remap[0], self.paths.root)
            with open(os.path.join(directory, "config.json"), "w") as f:
                f.write(jsonio.dumps(config))  # compact, as Docker writes it: pretty-printing in Python costs 1 ms
            record.config = docker_config.docker_config(image.config, opts, config)
            # for the list: no config.json read
            record.mounts = volumes.docker_mounts(config["mounts"], self.paths.root)
            self.records.update_container(record.id, config=record.config, mounts=record.mounts,
                                          **({"monitor": monitor} if monitor else {}))
        except BaseException:
            try:
                self.teardown(record.id, remove=True)  # an invalid config makes no container, as in Docker
            finally:
                lock.release()
            raise
        return record, config

    def run_detached(self, opts: RunOptions, progress=None) -> str:
        """`run -d`: create the container and hand it to the monitor; return its id once it runs."""
        record, _config = self._create(opts, progress, volatile=opts.remove)
        self.paths.container_lock(record.id).release()  # an `rm` from here on is seen by the monitor's launch worker
        try:
            self.lifecycle.launch_via_monitor(record.id)
        except BaseException:
            if opts.remove:
                self.teardown(record.id, remove=True)
            raise
        return record.id

    @one_at_a_time  # `rm -f` and the container's own `run` or monitor may both get here
    def teardown(self, container_id: str, remove: bool, remove_volumes: bool = True, files_later: bool = False) -> None:
        """Undo whatever exists of the container: its process, runtime state, rootfs mount, files.

        `remove_volumes`: also delete its anonymous volumes (Docker: `run --rm` does, `rm` only with -v).
        `files_later` (with `remove`): its directory, once unmounted, is moved into the root's trash (one
        rename) and emptied by a detached child (fs.clear_detached), for a process that exits next (a
        foreground `run --rm`, the monitor's exit worker of an AutoRemove one): as containerd's garbage
        collector removes a snapshot after its record (docs/startup.md).
        """
        runtime.delete(self.runtime_root, container_id, force=True)  # nothing to delete is fine when forced
        directory = self.container_dir(container_id)
        snapshot.release(directory)
        # unmounted, its directory can go aside at once: nothing below finds it (its /etc files are gone with it)
        moved = fs.move_into(directory, self.paths.trash_dir) if remove and files_later else None
        self.networks.release(container_id, forget=remove)  # veth, netns, address, rules; forgotten on rm
        if remove:
            volumes.release_container(self.records, self.containers_dir, container_id, remove_anonymous=remove_volumes,
                                      runroot=self.paths.runroot)
            userns.remove(userns.path_for(self.paths.runroot, container_id))  # after the netns that belongs to it
            if moved is None:
                fs.remove_tree(directory, parallel=True)  # its subdirectories side by side: rmdirs wait on the disk
            gone = self.records.get_container(container_id)
            self.records.remove_container(container_id)
            if gone is not None:
                events.container(self.paths.runroot, gone, "destroy")
            if moved is not None:  # last: after a fork, each page this process writes is copied first
                fs.clear_detached(self.paths.trash_dir)

    # the container's filesystem

    def export(self, ref: str, out) -> None:
        rec = self.records.find_container(ref)
        self.images.export_container(self.paths.container_dir(rec.id), rec.image_id, out)

    def changes(self, ref: str) -> list[dict]:
        """Docker's diff: each path of the writable layer, C (0) if the image has it, A (1) if not,
        D (2) for overlay's whiteouts (a character device 0:0)."""
        rec = self.records.find_container(ref)
        directory = self.paths.container_dir(rec.id)
        if snapshot.driver_of(directory) == "vfs":
            raise NotSupported("changes need the overlay storage driver: vfs keeps no separate writable layer")
        upper = snapshot.writable_dir(directory)
        if not os.path.isdir(upper):
            raise NotFound(f"container {ref} has no filesystem left: it was removed")
        lowers = self.images.layer_dirs(rec.image_id)
        out = []
        for top, dirs, files in os.walk(upper):
            for name in sorted(dirs + files):
                full = os.path.join(top, name)
                inside = "/" + os.path.relpath(full, upper)
                st = os.lstat(full)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    kind = 2
                else:
                    kind = 0 if any(os.path.lexists(os.path.join(lower, inside.lstrip("/"))) for lower in lowers) else 1
                out.append({"Path": inside, "Kind": kind})
        # the runtime's mount points (Docker's init layer, which its diff leaves out), and a directory
        # changed only by holding them
        kept = [c for c in out if not _init_path(c["Path"])]
        paths = {c["Path"] for c in kept}
        return sorted((c for c in kept if c["Kind"] != 0 or not os.path.isdir(os.path.join(upper, c["Path"][1:]))
                       or any(p.startswith(c["Path"] + "/") for p in paths)
                       or not any(_init_path(f"{c['Path']}/{n}")
                                  for n in os.listdir(os.path.join(upper, c["Path"][1:])))),
                      key=lambda c: c["Path"])

    def archive_stat(self, ref: str, path: str):
        with self._rootfs_fd(ref) as root_fd:
            return archive.stat_of(root_fd, path)

    def archive_get(self, ref: str, path: str, out, on_stat=None):
        with self._rootfs_fd(ref) as root_fd:
            return archive.write_tar(root_fd, path, out, on_stat)

    def archive_put(self, ref: str, path: str, stream, no_overwrite_dir_non_dir: bool = False,
                    copy_owner: bool = False) -> None:
        with self._rootfs_fd(ref) as root_fd:
            archive.extract_tar(root_fd, path, stream, no_overwrite_dir_non_dir, copy_owner)

    def _rootfs_fd(self, ref: str):
        """A context: an fd of the container's root filesystem. A running container's mounted rootfs
        as it is; a stopped one's mounted for the copy (holding its lock: a start waits) and unmounted after."""
        return _RootfsFd(self, self.observation.find(ref))

    def commit(self, ref: str, opts) -> str:
        """A new image from the container's changes (api.CommitOptions); its id."""
        rec = self.records.find_container(ref)
        directory = self.paths.container_dir(rec.id)
        writable = snapshot.writable_dir(directory)
        if not os.path.isdir(writable):
            raise NotFound(f"container {ref} has no filesystem left to commit: it was removed")
        if snapshot.driver_of(directory) == "vfs":
            # vfs keeps no separate changes: the whole root filesystem becomes one layer on nothing
            return self.images.import_dir(writable, opts.reference, opts.changes, opts.message)
        return self.images.commit(writable, rec.image_id, opts.reference, opts.changes, message=opts.message,
                                  author=opts.author, created_by=f"mydocker commit {rec.name}",
                                  container_config=rec.config)


_INIT_PATHS = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/mtab", "/.dockerenv", "/dev", "/proc", "/sys")


def _init_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in _INIT_PATHS)


class _RootfsFd:
    """`with _RootfsFd(service, record) as fd`: see ContainerService._rootfs_fd."""

    def __init__(self, service: "ContainerService", rec: ContainerRecord) -> None:
        self.service, self.rec = service, rec
        self.lock = None
        self.mounted = False
        self.binds: list[str] = []  # copy_mounts' mounts, for a stopped container
        self.fd = -1

    def __enter__(self) -> int:
        directory = self.service.paths.container_dir(self.rec.id)
        rootfs = os.path.join(directory, "rootfs")
        if not os.path.isdir(directory):
            raise NotFound(f"container {self.rec.name} has no filesystem left: it was removed")
        if self.rec.status in ("running", "paused") and self.rec.pid:
            fd = self._running_root()
            if fd >= 0:
                self.fd = fd
                return fd
        self.lock = self.service.paths.container_lock(self.rec.id)  # not running: a start waits for the copy
        self.lock.acquire()
        fresh = self.service.records.get_container(self.rec.id)
        if fresh is not None and fresh.status in ("running", "paused") and fresh.pid:  # started meanwhile
            self.lock.release()
            self.lock, self.rec = None, fresh
            return self.__enter__()
        try:
            if not os.path.ismount(rootfs) and snapshot.driver_of(directory) != "vfs":
                lowers = self.service.images.layer_dirs(self.rec.image_id)
                snapshot.prepare(lowers, directory)
                self.mounted = True
        except BaseException:
            self.lock.release()
            raise
        try:
            self.fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            # its binds and volumes too, as Docker mounts them for a copy
            self.binds = copy_mounts.mount_all(self.fd, engine_inspect.container_mounts(directory))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.fd

    def _running_root(self) -> int:
        """An fd of the running container's root as its processes see it (its volumes and /etc binds
        included), or -1 once it has exited. The pidfd pins the process: a recycled PID is noticed."""
        try:
            pidfd = os.pidfd_open(self.rec.pid)
        except ProcessLookupError:
            return -1
        try:
            fd = os.open(f"/proc/{self.rec.pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                signal.pidfd_send_signal(pidfd, 0)  # still the same process: the root is its
                if self.service.observation.find(self.rec.id).pid != self.rec.pid:
                    raise ProcessLookupError
            except (ProcessLookupError, NotFound):
                os.close(fd)
                return -1
            return fd
        except (FileNotFoundError, ProcessLookupError):
            return -1
        finally:
            os.close(pidfd)

    def __exit__(self, *exc) -> bool:
        copy_mounts.unmount_all(self.binds)
        if self.fd >= 0:
            os.close(self.fd)
        if self.mounted:
            snapshot.release(self.service.paths.container_dir(self.rec.id))
        if self.lock is not None:
            self.lock.release()
        return False


def _memory_limit(config: dict) -> int | None:
    return ((config.get("linux") or {}).get("resources") or {}).get("memory", {}).get("limit")
