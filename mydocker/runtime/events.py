"""`events`: a container's stats (and OOM kills) as JSON lines, runc's format:
{"type": "stats"|"oom", "id": ID, "data": {...}}. Ends when the container stops."""

from __future__ import annotations

import json
import sys
import time

from mydocker.errors import Conflict, InvalidArgument
from mydocker.lazy import lazy_module
from mydocker.runtime import state_file as st
from mydocker.runtime.stats import stats_json

collector = lazy_module("mydocker.collector")


def parse_duration(text: str) -> float:
    """"5s", "500ms", "1m", "2" (seconds) -> seconds."""
    for suffix, scale in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("", 1)):
        if text.endswith(suffix):
            try:
                value = float(text[: len(text) - len(suffix)] if suffix else text) * scale
            except ValueError:
                break
            if value > 0:
                return value
            break
    raise InvalidArgument(f"--interval {text!r}: use a positive duration such as 5s or 500ms")


def events(root: str, container_id: str, once: bool, interval: str) -> None:
    record = st.load(root, container_id)
    if st.status(root, record) not in ("created", "running", "paused"):
        raise Conflict(f"container with id {container_id} is not running")  # runc's words
    if once:
        _emit("stats", container_id, stats_json(root, container_id))
        return
    seconds = parse_duration(interval)
    collector.resume()  # as long as the container runs
    ooms = None
    while st.status(root, record) in ("created", "running", "paused"):
        data = stats_json(root, container_id)
        count = data.get("memory", {}).get("oom_kill", 0)
        if ooms is not None and count > ooms:
            _emit("oom", container_id, {})
        ooms = count
        _emit("stats", container_id, data)
        time.sleep(seconds)


def _emit(kind: str, container_id: str, data: dict) -> None:
    sys.stdout.write(json.dumps({"type": kind, "id": container_id, "data": data}) + "\n")
    sys.stdout.flush()
