"""`create`: set up the container and leave its init blocked before the user's command."""

from __future__ import annotations

import datetime
import os

from mydocker.runtime import state as st
from mydocker.runtime.process import InitProcess, spawn_init
from mydocker.runtime.spec import Spec, load_spec


def create(root: str, container_id: str, bundle: str, spec: Spec | None = None,
           stdio: tuple[int, int, int] | None = None) -> tuple[st.State, InitProcess]:
    """Create container `container_id` from `bundle`; return its state and init (with any console fd)."""
    spec = spec or load_spec(bundle)
    directory = st.claim(root, container_id)
    record = st.State(id=container_id, bundle=os.path.abspath(bundle), annotations=spec.annotations,
                      rootfs=spec.root_path,
                      created=datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"))
    try:
        st.save(root, record)
        fifo = os.path.join(directory, "exec.fifo")
        os.mkfifo(fifo, 0o600)
        os.chown(fifo, _host_id(spec.linux.uid_mappings), _host_id(spec.linux.gid_mappings))

        def record_pid(pid: int) -> None:
            record.pid = pid
            record.pid_start = st.process_start_time(pid) or 0
            st.save(root, record)

        # Opened here, as the host's root, so an init in a user namespace needs no path to it.
        fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        try:
            init = spawn_init(spec, fifo_fd, before_go=record_pid, stdio=stdio)
        finally:
            os.close(fifo_fd)
    except BaseException:
        st.remove_dir(root, container_id)
        raise
    return record, init


def _host_id(mappings) -> int:
    """The host id of the container's root: the init opens the exec fifo as that user."""
    for m in mappings:
        if m.container_id <= 0 < m.container_id + m.size:
            return m.host_id - m.container_id
    return 0
