"""mydocker/collector.py: the cyclic GC paused for a short command, resumed for a long-lived loop."""

import gc

from mydocker import collector


def test_pause_then_resume_leaves_start_up_objects_to_the_permanent_generation():
    was_enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    try:
        collector.pause()
        assert not gc.isenabled()
        kept = [[] for _ in range(10)]  # containers: objects the collector tracks, made while paused
        collector.resume()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(kept)
    finally:
        gc.unfreeze()
        if not was_enabled:
            gc.disable()
