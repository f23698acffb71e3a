"""The report records of the engine's interface (engine/api.py): what a verb hands back."""

from __future__ import annotations

from mydocker.recordclass import factory, record


@record
class RunReport:
    id: str
    exit_code: int | None = None    # None: detached, still running
    oom_killed: bool = False        # the OOM killer killed one of its processes (Docker's State.OOMKilled)
    ended_by_oom: bool = False      # ... and that ended it: its main process died of the SIGKILL
    memory_limit: int | None = None  # bytes, as asked with -m (for the message about the OOM kill)


@record
class PruneReport:
    deleted: list[str] = factory(list)
    space_reclaimed: int = 0


@record
class PullReport:
    reference: str                  # the canonical name pulled (docker.io/library/busybox:latest)
    manifest_digest: str = ""


@record
class NetworkListReport:
    networks: list = factory(list)  # engine/networks.Network records
    warnings: list[str] = factory(list)
