"""The engine's interface (mydocker/engine/api.py) as a second front end uses it: streams are fds the
caller hands in (pipes here, a socket for the API server), never this process's own; reports say
what happened."""

from __future__ import annotations

import os

import pytest

from mydocker.engine.api import (ExecOptions, ListOptions, LogsOptions, RemoveOptions, ResourceOptions, RunOptions,
                                 StopOptions, Streams, open_engine)
from mydocker.errors import NotFound


@pytest.fixture
def api(roots, no_leaks):
    return open_engine(*roots)


def _drain(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _pipes():
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    return out_r, out_w, err_r, err_w


def test_run_writes_to_the_callers_streams_and_reports_the_exit(api):
    out_r, out_w, err_r, err_w = _pipes()
    try:
        report = api.containers.run(RunOptions(image="busybox", command=["sh", "-c", "echo out; echo err >&2; exit 3"],
                                               network="none", remove=True),
                                    Streams(stdin=None, stdout=out_w, stderr=err_w, sig_proxy=False))
    finally:
        os.close(out_w)
        os.close(err_w)
    assert (_drain(out_r), _drain(err_r)) == (b"out\n", b"err\n")
    assert (report.exit_code, report.oom_killed) == (3, False) and len(report.id) == 64
    with pytest.raises(NotFound):
        api.containers.inspect(report.id)  # --rm


def test_the_run_report_says_the_oom_killer_ended_it(api):
    out_r, out_w, err_r, err_w = _pipes()
    try:
        report = api.containers.run(RunOptions(image="busybox", command=["dd", "if=/dev/zero", "of=/dev/null", "bs=64M",
                                                                         "count=1"],
                                               resources=ResourceOptions(memory="16m", memory_swap="16m"),
                                               network="none", remove=True),
                                    Streams(None, out_w, err_w, sig_proxy=False))
    finally:
        os.close(out_w)
        os.close(err_w)
    _drain(out_r), _drain(err_r)
    assert ((report.exit_code, report.oom_killed, report.ended_by_oom, report.memory_limit)
            == (137, True, True, 16 << 20))


def test_exec_logs_list_and_stop_through_the_interface(api):
    report = api.containers.run(RunOptions(image="busybox", command=["sh", "-c", "echo started; exec sleep 30"],
                                           name="apitest", network="none", detach=True))
    try:
        assert report.exit_code is None
        out_r, out_w, err_r, err_w = _pipes()
        try:
            code = api.containers.exec("apitest", ExecOptions(["sh", "-c", "echo in; exit 4"]),
                                       Streams(None, out_w, err_w, sig_proxy=False))
        finally:
            os.close(out_w)
            os.close(err_w)
        assert (code, _drain(out_r), _drain(err_r)) == (4, b"in\n", b"")
        assert [r.name for r in api.containers.list(ListOptions(filters={"name": ["apitest"]}))] == ["apitest"]
        api.containers.stop("apitest", StopOptions(timeout=0))
        seen = []
        api.containers.logs("apitest", LogsOptions(follow=True), lambda stream, data: seen.append((stream, data)))
        assert seen == [("stdout", b"started\n")]  # follow ends: the container stopped
    finally:
        api.containers.remove(report.id, RemoveOptions(force=True))


def test_a_verb_on_a_missing_container_names_it(api):
    """Every verb the interface declares exists now (pause was the last NotSupported one)."""
    with pytest.raises(NotFound, match="no such container: anything"):
        api.containers.pause("anything")


def test_a_tty_run_takes_resize_events_from_the_caller(api):
    """The API server's POST /containers/{id}/resize has no terminal to copy: it sends sizes."""
    out_r, out_w = os.pipe()
    resize_r, resize_w = os.pipe()
    os.write(resize_w, b"42 123\n")
    try:
        report = api.containers.run(RunOptions(image="busybox", command=["sh", "-c", "sleep 0.5; stty size"], tty=True,
                                               network="none", remove=True),
                                    Streams(None, out_w, out_w, sig_proxy=False, resize=resize_r))
    finally:
        for fd in (out_w, resize_r, resize_w):
            os.close(fd)
    assert report.exit_code == 0 and _drain(out_r).strip() == b"42 123"
