"""`pause` and `resume`: freeze and thaw every process of a running container (the freezer cgroup)."""

from __future__ import annotations

from mydocker.errors import Conflict
from mydocker.lazy import lazy_module
from mydocker.runtime import state_file as st

cgroups = lazy_module("mydocker.runtime.cgroups")


def pause(root: str, container_id: str) -> None:
    _set_paused(root, container_id, True)


def resume(root: str, container_id: str) -> None:
    _set_paused(root, container_id, False)


def _set_paused(root: str, container_id: str, paused: bool) -> None:
    record = st.load(root, container_id)
    current = st.status(root, record)
    wanted = "running" if paused else "paused"
    if current != wanted:  # runc's words: "container not running" / "container not paused"
        verb = "paused" if paused else "resumed"
        raise Conflict(f"container not {wanted if paused else 'paused'}: {container_id} is {current}; "
                       f"only a {wanted} container can be {verb}")
    if not record.cgroup_paths:
        raise Conflict(f"container {container_id} has no cgroups of its own (rootless, where the user may not "
                       f"create any): it cannot be {'paused' if paused else 'resumed'}")
    cgroup = cgroups.cgroup_from_paths(record.cgroup_paths)
    if paused:
        record.paused = True  # recorded first: `delete --force` thaws before it kills
        st.save(root, record)
        cgroup.freeze()
    else:
        # recorded first too: a thaw lets a pending SIGKILL end the container (`kill` of a paused one), and
        # its delete, in the monitor, would race a save made after it (a lost rename, or a directory left)
        record.paused = False
        st.save(root, record)
        try:
            cgroup.thaw()
        except BaseException:
            record.paused = True
            st.save(root, record)
            raise
