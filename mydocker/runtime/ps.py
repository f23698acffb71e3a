"""`ps`: the processes of a container (its cgroup), as `ps` shows them or as a JSON list of pids."""

from __future__ import annotations

from mydocker.errors import Conflict
from mydocker.lazy import lazy_module
from mydocker.runtime import state_file as st

cgroups = lazy_module("mydocker.runtime.cgroups")
subprocess = lazy_module("subprocess")


def container_pids(root: str, container_id: str) -> list[int]:
    record = st.load(root, container_id)
    if record.cgroup_paths:
        return cgroups.cgroup_from_paths(record.cgroup_paths).pids()
    if st.status(root, record) in ("created", "running", "paused"):
        return [record.pid]
    return []


def ps_table(pids: list[int], ps_args: list[str]) -> str:
    """The host's `ps` output (default -ef) cut to the header and the container's processes."""
    out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise Conflict(f"ps {' '.join(ps_args)} failed: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return ""
    header = lines[0].split()
    if "PID" not in header:
        raise Conflict("ps output has no PID column: pass ps options that show it (e.g. -ef)")
    column = header.index("PID")
    wanted = set(pids)
    kept = [lines[0]] + [line for line in lines[1:]
                         if len(line.split()) > column and line.split()[column].isdigit()
                         and int(line.split()[column]) in wanted]
    return "\n".join(kept) + "\n"
