"""Containers: create one from an image and options, run it attached, tear it down.

Every step is recorded before the thing it names is created, and teardown undoes each step
whether or not it happened, so a failure at any point leaves nothing behind.
"""

from __future__ import annotations

import os
from mydocker.record import record

from mydocker.engine.lifecycle import Lifecycle, LOWERS, identity as _identity, one_at_a_time
from mydocker.engine.options import RunOptions
from mydocker.engine.records import ContainerRecord, Records, now
from mydocker import jsonio
# ps, stop, rm... do not need what only `run` uses: attach, specbuild, names, runtime.process are
# imported in the functions that use them (start-up time is a feature).


@record
class Stdio:
    """The caller's side of the container's standard streams."""
    stdin: int = 0
    stdout: int = 1
    stderr: int = 2


class ContainerService(Lifecycle):
    def __init__(self, records: Records, images, containers_dir: str, runtime_root: str) -> None:
        self.records = records
        self._images = images  # the ImageService, or a function making it: stop, rm, ps never need it
        self.containers_dir = containers_dir
        self.runtime_root = runtime_root

    @property
    def images(self):
        if callable(self._images):
            self._images = self._images()
        return self._images

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.containers_dir, container_id)

    def run(self, opts: RunOptions, stdio: Stdio | None = None) -> int:
        """Run a container attached to the caller; return its exit code as Docker reports it."""
        from mydocker.runtime.api import create, oom_killed, start
        from mydocker.linux import syscalls as sc

        stdio = stdio or Stdio()
        record, config = self._create(opts)  # holding the container's lock: `rm -f` waits until it runs
        directory = self.container_dir(record.id)
        console = devnull = None
        lock = self.container_lock(record.id)

        def start_it() -> None:
            start(self.runtime_root, record.id)
            lock.release()

        try:
            if not opts.interactive:
                devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # the init is reparented to us: we reap it
            self.records.update_container(record.id, monitor=_identity(os.getpid()))
            _state, init = create(self.runtime_root, record.id, directory, config,
                                  stdio=(devnull if devnull is not None else stdio.stdin, stdio.stdout, stdio.stderr))
            console = init.console_fd
            self.records.update_container(record.id, status="running", pid=init.pid, started_at=now())
            code = self._attach(init.pid, console, opts, stdio, start_it)
            # Docker's State.OOMKilled: the OOM killer killed one of its processes in this run (read
            # before teardown removes the cgroup). It ended the container only if its main process died
            # of that SIGKILL (or passed a killed child's 137 on as its own exit code).
            self.oom_killed = oom_killed(self.runtime_root, record.id)
            self.killed_by_oom = self.oom_killed and code == 137  # 128 + SIGKILL
            self.records.update_container(record.id, unless_status=("removing",), status="exited", exit_code=code,
                                          finished_at=now(), pid=0, oom_killed=self.oom_killed)
            return code  # an `rm -f` that killed it records nothing of it, and removes it
        finally:
            for fd in (console, devnull):
                if fd is not None:
                    os.close(fd)
            if lock.held:  # it never started
                lock.release()
            self.teardown(record.id, remove=opts.remove)

    def _create(self, opts: RunOptions) -> tuple[ContainerRecord, dict]:
        """Record the container, then make its rootfs and config.json (record before create)."""
        from mydocker.engine.lifecycle import docker_config, host_config
        from mydocker.engine.names import check_name, generate_name
        from mydocker.engine.specbuild import build_spec
        image = self.images.get(opts.image)
        host = host_config(opts)
        record = ContainerRecord(id=os.urandom(32).hex(), name=check_name(opts.name) if opts.name else generate_name(),
                                 image=opts.image, image_id=image.manifest_digest, created=now(), status="created",
                                 host_config=host)
        lock = self.container_lock(record.id)
        lock.acquire()  # held until the container is made (`run` holds it on until it runs): `rm` waits
        try:
            self.records.add_container(record)
        except BaseException:  # a name in use: nothing was made
            lock.remove()
            lock.release()
            raise
        directory = self.container_dir(record.id)
        try:
            os.makedirs(directory, mode=0o700)
            from mydocker.image import snapshot
            from mydocker.engine.specbuild import userns_remap
            remap, lowers = userns_remap(opts.userns), image.layer_dirs
            if remap:  # --userns remap: layers shifted to the mapped ids, the container's dirs owned by its root
                from mydocker.image.shift import shifted_layers
                lowers = shifted_layers(lowers, *remap)
                for path in (directory, *(os.path.join(directory, d) for d in ("upper", "work", "rootfs"))):
                    os.makedirs(path, exist_ok=True)
                    os.chown(path, remap[0], remap[0])
            with open(os.path.join(directory, LOWERS), "w") as f:
                f.write(jsonio.dumps(lowers))  # `start` mounts the same layers again
            rootfs = snapshot.prepare(lowers, directory)
            config = build_spec(image.config, opts, rootfs, hostname=opts.hostname or record.id[:12], container_id=record.id)
            from mydocker.engine.security import SecurityOptions, apply_security  # Docker's defaults and flags
            apply_security(config, opts.security or SecurityOptions())
            if remap:  # made and pinned before the netns, which must belong to it (its own sysfs)
                from mydocker.engine import userns
                userns.pin(config, userns.path_for(self.runroot, record.id))
            from mydocker.engine.volumes import for_container  # volumes: bind mounts, named volumes filled from the image
            config["mounts"] += for_container(self.records, self.containers_dir, record.id, opts, image.config, rootfs)
            from mydocker.engine.networks import NetworkService  # netns joined by path (as CNI), /etc files, -p
            NetworkService(self.records, self.root, self.runroot).configure(record.id, record.name, opts, config)
            if remap:  # the mapped root must walk to its rootfs and the engine's bind sources (/etc files)
                from mydocker.image.shift import reachable
                for path in [rootfs, *(m["source"] for m in config["mounts"] if m.get("type") == "bind"
                                      and m["source"].startswith(self.root + os.sep))]:
                    reachable(path, remap[0], self.root)
            with open(os.path.join(directory, "config.json"), "w") as f:
                f.write(jsonio.dumps(config))  # compact, as Docker writes it: pretty-printing in Python costs 1 ms
            self.records.update_container(record.id, config=docker_config(image.config, opts, config))
        except BaseException:
            try:
                self.teardown(record.id, remove=True)  # an invalid config makes no container, as in Docker
            finally:
                lock.release()
            raise
        return record, config

    def run_detached(self, opts: RunOptions) -> str:
        """`run -d`: create the container and hand it to the monitor; return its id once it runs."""
        record, _config = self._create(opts)
        self.container_lock(record.id).release()  # an `rm` from here on is seen by the monitor's launch worker
        try:
            self.launch_via_monitor(record.id)
        except BaseException:
            if opts.remove:
                self.teardown(record.id, remove=True)
            raise
        return record.id

    def _attach(self, pid: int, console: int | None, opts: RunOptions, stdio: Stdio, start) -> int:
        from mydocker.engine import attach
        from mydocker.runtime.api import relay_console, wait_for_exit
        terminal = attach.terminal_of(stdio.stdin, stdio.stdout) if console is not None else None
        with attach.forward_signals(pid, console, terminal):
            if console is None:
                start()
                return wait_for_exit(pid)
            attach._copy_winsize(terminal, console)
            with attach.raw_mode(stdio.stdin if opts.interactive and os.isatty(stdio.stdin) else None):
                start()
                relay_console(console, stdio.stdin if opts.interactive else None, stdio.stdout)
            return wait_for_exit(pid)

    @one_at_a_time  # `rm -f` and the container's own `run` or monitor may both get here
    def teardown(self, container_id: str, remove: bool, remove_volumes: bool = True) -> None:
        """Undo whatever exists of the container: its process, runtime state, rootfs mount, files.

        `remove_volumes`: also delete its anonymous volumes (Docker: `run --rm` does, `rm` only with -v).
        """
        from mydocker.runtime.api import delete
        delete(self.runtime_root, container_id, force=True)  # nothing to delete is fine when forced
        from mydocker.engine.networks import NetworkService  # veth, netns, address, rules; forgotten on rm
        NetworkService(self.records, self.root, self.runroot).release(container_id, forget=remove)
        from mydocker.image import snapshot
        directory = self.container_dir(container_id)
        snapshot.release(directory)
        if remove:
            from mydocker.engine.volumes import release_container  # frees volumes; anonymous ones go
            release_container(self.records, self.containers_dir, container_id, remove_anonymous=remove_volumes)
            from mydocker.engine import userns
            userns.remove(userns.path_for(self.runroot, container_id))  # after the netns that belongs to it
            from mydocker.linux.fs import remove_tree
            remove_tree(directory)
            self.records.remove_container(container_id)
