"""json-file logs: Docker's line format, rotation, reading with tail/since/until/timestamps; ps texts."""

from __future__ import annotations

import json
import os
import time

import pytest

from mydocker.engine.inspect import human_duration, status_text
from mydocker.engine.docker_config import parse_log_opts, parse_restart
from mydocker.engine.logs import LogWriter, parse_time, read_logs, rfc3339nano
from mydocker.engine.database import ContainerRecord
from mydocker.errors import InvalidArgument


def collect(path, **kw):
    out = []
    read_logs(str(path), lambda stream, data: out.append((stream, data)), **kw)
    return out


def test_lines_partial_lines_and_streams(tmp_path):
    path = tmp_path / "c-json.log"
    w = LogWriter(str(path))
    w.feed("stdout", b"hel")
    w.feed("stdout", b"lo\nwor")
    w.feed("stderr", b"oops\n")
    w.close()
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["stream"], e["log"]) for e in entries] == [("stdout", "hello\n"), ("stderr", "oops\n"),
                                                          ("stdout", "wor")]
    assert all(e["time"].endswith("Z") and "T" in e["time"] for e in entries)
    assert collect(path) == [("stdout", b"hello\n"), ("stderr", b"oops\n"), ("stdout", b"wor")]
    assert collect(path, tail=1) == [("stdout", b"wor")]
    assert collect(path, tail=0) == []


def test_long_lines_are_cut_like_docker(tmp_path):
    path = tmp_path / "c-json.log"
    w = LogWriter(str(path))
    w.feed("stdout", b"x" * 40000 + b"\n")
    w.close()
    sizes = [len(json.loads(line)["log"]) for line in path.read_text().splitlines()]
    assert sizes == [16384, 16384, 40000 - 32768 + 1]


def test_rotation_keeps_max_file_files_under_max_size(tmp_path):
    path = tmp_path / "c-json.log"
    w = LogWriter(str(path), max_size=1000, max_file=3)
    for i in range(200):
        w.feed("stdout", f"line {i}\n".encode())
    w.close()
    names = sorted(os.listdir(tmp_path))
    assert names == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    assert all(os.path.getsize(tmp_path / n) <= 1000 for n in names)
    lines = [data.decode() for _, data in collect(path)]
    assert lines[-1] == "line 199\n"
    assert lines == [f"line {i}\n" for i in range(200 - len(lines), 200)]  # in order, nothing lost between


def test_since_until_and_timestamps(tmp_path):
    path = tmp_path / "c-json.log"
    path.write_text("".join(json.dumps({"log": f"{n}\n", "stream": "stdout", "time": t}) + "\n" for n, t in [
        (1, "2024-01-01T00:00:00.5Z"), (2, "2024-01-01T00:00:01.000000001Z"), (3, "2024-01-01T00:00:02Z")]))
    since = parse_time("2024-01-01T00:00:01Z")
    assert [d for _, d in collect(path, since=since)] == [b"2\n", b"3\n"]
    assert [d for _, d in collect(path, until=since)] == [b"1\n"]
    assert collect(path, timestamps=True)[0][1] == b"2024-01-01T00:00:00.500000000Z 1\n"


def test_follow_reads_what_comes_and_stops(tmp_path):
    path = tmp_path / "c-json.log"
    w = LogWriter(str(path))
    w.feed("stdout", b"first\n")
    calls = []

    def follow():
        calls.append(1)
        if len(calls) == 2:
            w.feed("stdout", b"second\n")
        return len(calls) < 4

    out = []
    read_logs(str(path), lambda s, d: out.append(d), follow=follow, poll=0.01)
    w.close()
    assert out == [b"first\n", b"second\n"]


def test_follow_reads_a_log_removed_after_its_last_write(tmp_path):
    """docker-py's run(remove=True) follows the log, waits, removes, then reads the stream: what the
    container wrote between the follow's first read and the removal must still arrive."""
    path = tmp_path / "c-json.log"
    w = LogWriter(str(path))
    calls = []

    def follow():
        calls.append(1)
        if len(calls) == 1:  # the container writes, exits and is removed before the next read
            w.feed("stdout", b"ok\n")
            w.close()
            os.unlink(path)
        return False

    out = []
    read_logs(str(path), lambda s, d: out.append(d), follow=follow, poll=0.01)
    assert out == [b"ok\n"]


def test_follow_starts_again_after_a_truncating_rotation(tmp_path):
    path = tmp_path / "c-json.log"
    w = LogWriter(str(path), max_size=200, max_file=1)
    w.feed("stdout", b"x" * 100 + b"\n")
    calls = []

    def follow():
        calls.append(1)
        if len(calls) == 1:
            w.feed("stdout", b"after\n")  # past max-size: the file is truncated, then written
        return len(calls) < 3

    out = []
    read_logs(str(path), lambda s, d: out.append(d), follow=follow, poll=0.01)
    w.close()
    assert out == [b"x" * 100 + b"\n", b"after\n"]


def test_time_formats():
    ns = parse_time("2024-05-01T10:00:00.123Z")
    assert rfc3339nano(ns) == "2024-05-01T10:00:00.123Z"
    assert rfc3339nano(ns, fixed=True) == "2024-05-01T10:00:00.123000000Z"
    assert parse_time("2024-05-01T12:00:00+02:00") == parse_time("2024-05-01T10:00:00Z")
    with pytest.raises(ValueError):
        parse_time("yesterday")


@pytest.mark.parametrize("seconds,text", [(0.2, "Less than a second"), (1, "1 second"), (59, "59 seconds"),
                                          (60, "About a minute"), (150, "2 minutes"), (3600, "About an hour"),
                                          (7200, "2 hours"), (86400 * 3, "3 days")])
def test_human_duration_is_go_units(seconds, text):
    assert human_duration(seconds) == text


def test_status_text():
    now = time.time()
    stamp = rfc3339nano(int((now - 5) * 1e9))
    base = dict(id="a" * 64, name="n", image="busybox", image_id="sha256:x", created=stamp)
    assert status_text(ContainerRecord(**base, status="running", started_at=stamp), now) == "Up 5 seconds"
    assert status_text(ContainerRecord(**base, status="exited", exit_code=137, finished_at=stamp), now) == \
        "Exited (137) 5 seconds ago"
    assert status_text(ContainerRecord(**base, status="created"), now) == "Created"


def test_restart_and_log_options():
    assert parse_restart("on-failure:3") == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert parse_restart("always") == {"Name": "always", "MaximumRetryCount": 0}
    for bad in ("sometimes", "always:3", "on-failure:x"):
        with pytest.raises(InvalidArgument):
            parse_restart(bad)
    assert parse_log_opts(["max-size=10m", "max-file=3"]) == {"max-size": "10m", "max-file": "3"}
    for bad in (["max-size=lots"], ["max-file=0"], ["color=blue"], ["max-size"]):
        with pytest.raises(InvalidArgument):
            parse_log_opts(bad)


def test_parse_time_agrees_with_calendar_timegm_across_leap_years_and_centuries():
    import calendar
    for y, mo, d in [(1970, 1, 1), (1969, 12, 31), (2000, 2, 29), (1900, 3, 1), (2024, 2, 29), (2024, 12, 31),
                     (2100, 2, 28), (2100, 3, 1), (1601, 1, 1), (9999, 12, 31)]:
        text = f"{y:04d}-{mo:02d}-{d:02d}T23:59:58.5Z"
        assert parse_time(text) == calendar.timegm((y, mo, d, 23, 59, 58)) * 1_000_000_000 + 500_000_000, text
