"""`start`'s writes: a container that was stopped gets its manually_stopped flag cleared (its restart
policy counts again), and a created one, which has no flag to clear (docker run's start), costs no
write: each write transaction is a wait on the disk before the launch."""

from __future__ import annotations

from mydocker.engine.database import ContainerRecord, Records
from mydocker.engine.lifecycle import Lifecycle


class _Observation:
    def __init__(self, records: Records) -> None:
        self.records = records

    def find(self, ref: str) -> ContainerRecord:
        return self.records.find_container(ref)


def _lifecycle(tmp_path, **values) -> tuple[Lifecycle, Records, list[str]]:
    records = Records(str(tmp_path / "mydocker.db"))
    records.add_container(ContainerRecord(id="c1", name="web", image="busybox", image_id="sha256:x", created="t",
                                          status="created", **values))
    lifecycle = Lifecycle(records, None, _Observation(records), None, lambda *_a, **_k: None)
    launched: list[str] = []
    lifecycle.launch_via_monitor = launched.append
    return lifecycle, records, launched


def test_starting_a_created_container_writes_nothing_before_its_launch(tmp_path):
    lifecycle, records, launched = _lifecycle(tmp_path)
    before = records.db.total_changes
    lifecycle.start("web")
    assert launched == ["c1"]
    assert records.db.total_changes == before


def test_starting_a_stopped_container_clears_its_manually_stopped_flag(tmp_path):
    lifecycle, records, launched = _lifecycle(tmp_path, manually_stopped=True)
    lifecycle.start("web")
    assert launched == ["c1"]
    assert records.get_container("c1").manually_stopped is False
