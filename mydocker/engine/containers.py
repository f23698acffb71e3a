"""Containers: create one from an image and options, run it attached, tear it down.

Every step is recorded before the thing it names is created, and teardown undoes each step
whether or not it happened, so a failure at any point leaves nothing behind.
"""

from __future__ import annotations

import json
import os
from mydocker.record import record

from mydocker.engine import attach
from mydocker.engine.images import ImageService, now
from mydocker.engine.names import check_name, generate_name
from mydocker.engine.options import RunOptions
from mydocker.engine.records import ContainerRecord, Records
from mydocker.engine.specbuild import build_spec
from mydocker.image import snapshot
from mydocker.linux import syscalls as sc
from mydocker.runtime.process import wait_for_exit


@record
class Stdio:
    """The caller's side of the container's standard streams."""
    stdin: int = 0
    stdout: int = 1
    stderr: int = 2


class ContainerService:
    def __init__(self, records: Records, images: ImageService, containers_dir: str, runtime_root: str) -> None:
        self.records = records
        self.images = images
        self.containers_dir = containers_dir
        self.runtime_root = runtime_root

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.containers_dir, container_id)

    def run(self, opts: RunOptions, stdio: Stdio | None = None) -> int:
        """Run a container attached to the caller; return its exit code as Docker reports it."""
        from mydocker.runtime.create import create
        from mydocker.runtime.spec import Spec
        from mydocker.runtime.start import start

        stdio = stdio or Stdio()
        image = self.images.get(opts.image)
        record = ContainerRecord(id=os.urandom(32).hex(), name=check_name(opts.name) if opts.name else generate_name(),
                                 image=opts.image, image_id=image.manifest_digest, created=now(), status="created")
        self.records.add_container(record)
        directory = self.container_dir(record.id)
        console = devnull = None
        try:
            os.makedirs(directory, mode=0o700)
            rootfs = snapshot.prepare(image.layer_dirs, directory)
            config = build_spec(image.config, opts, rootfs, hostname=opts.hostname or record.id[:12])
            with open(os.path.join(directory, "config.json"), "w") as f:
                json.dump(config, f, indent=1)
            if not opts.interactive:
                devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # the init is reparented to us: we reap it
            _state, init = create(self.runtime_root, record.id, directory, spec=Spec.from_dict(config, directory),
                                  stdio=(devnull if devnull is not None else stdio.stdin, stdio.stdout, stdio.stderr))
            console = init.console_fd
            self.records.update_container(record.id, status="running", pid=init.pid, started_at=now(),
                                          config={"args": config["process"]["args"], "tty": opts.tty})
            code = self._attach(init.pid, console, opts, stdio, lambda: start(self.runtime_root, record.id))
            self.records.update_container(record.id, status="exited", exit_code=code, finished_at=now(), pid=0)
            return code
        finally:
            for fd in (console, devnull):
                if fd is not None:
                    os.close(fd)
            self.teardown(record.id, remove=opts.remove)

    def _attach(self, pid: int, console: int | None, opts: RunOptions, stdio: Stdio, start) -> int:
        terminal = attach.terminal_of(stdio.stdin, stdio.stdout) if console is not None else None
        with attach.forward_signals(pid, console, terminal):
            if console is None:
                start()
                return wait_for_exit(pid)
            attach._copy_winsize(terminal, console)
            with attach.raw_mode(stdio.stdin if opts.interactive and os.isatty(stdio.stdin) else None):
                start()
                attach.relay_console(console, stdio.stdin if opts.interactive else None, stdio.stdout)
            return wait_for_exit(pid)

    def teardown(self, container_id: str, remove: bool) -> None:
        """Undo whatever exists of the container: its process, runtime state, rootfs mount, files."""
        from mydocker.errors import NotFound
        from mydocker.runtime.delete import delete
        try:
            delete(self.runtime_root, container_id, force=True)
        except NotFound:
            pass
        directory = self.container_dir(container_id)
        snapshot.release(directory)
        if remove:
            import shutil
            shutil.rmtree(directory, ignore_errors=True)
            self.records.remove_container(container_id)
