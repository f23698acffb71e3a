"""Healthchecks as Docker runs them: the container's Config.Healthcheck (options over the image's
HEALTHCHECK), probed through exec by a worker the monitor forks every interval (engine/monitor.py),
and State.Health {Status starting|healthy|unhealthy, FailingStreak, Log[last 5]} in the record.

A probe that exits 0 makes the container healthy and resets the streak; any other exit, or running
past the timeout, adds to the streak, and `retries` failures in a row make it unhealthy. During the
start period failures do not count (a success still makes it healthy), as Docker.
"""

from __future__ import annotations

import os
import time

from mydocker.engine.options import Healthcheck
from mydocker.errors import InvalidArgument, MyDockerError
from mydocker.lazy import lazy_module

re = lazy_module("re")
database = lazy_module("mydocker.engine.database")
logs = lazy_module("mydocker.engine.logs")
select = lazy_module("select")
signal = lazy_module("signal")
jsonio = lazy_module("mydocker.jsonio")
api = lazy_module("mydocker.runtime.api")

SECOND = 1_000_000_000
DEFAULTS = {"Interval": 30 * SECOND, "Timeout": 30 * SECOND, "Retries": 3, "StartPeriod": 0}
MAX_OUTPUT = 4096          # bytes of a probe's output kept in the log (Docker's maxOutputLen)
MAX_LOG = 5                # probes kept in State.Health.Log
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": SECOND, "m": 60 * SECOND,
          "h": 3600 * SECOND}


def parse_duration(text: str, flag: str) -> int:
    """A Go duration ("30s", "1m30s", "500ms", "1.5h") in ns; InvalidArgument naming the flag."""
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", text)
    if text in ("0",):
        return 0
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidArgument(f"invalid argument {text!r} for \"{flag}\" flag: give a duration with a unit, "
                              "e.g. 30s, 1m30s or 500ms")
    return sum(int(float(n) * _UNITS[u]) for n, u in parts)


def from_flags(cmd: str | None, interval: str | None, timeout: str | None, retries: int | None,
               start_period: str | None, disabled: bool) -> Healthcheck | None:
    """`--health-cmd` and friends, `--no-healthcheck`, as a Healthcheck (None: nothing asked)."""
    asked = cmd is not None or interval or timeout or retries is not None or start_period
    if disabled:
        if asked:
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options: give one or the other")
        return Healthcheck(test=["NONE"])
    if not asked:
        return None
    if retries is not None and retries < 0:
        raise InvalidArgument(f"--health-retries cannot be negative: {retries}")
    return Healthcheck(test=["CMD-SHELL", cmd] if cmd else [],
                       interval=parse_duration(interval, "--health-interval") if interval else 0,
                       timeout=parse_duration(timeout, "--health-timeout") if timeout else 0,
                       retries=retries or 0,
                       start_period=parse_duration(start_period, "--health-start-period") if start_period else 0)


def config_healthcheck(image_config: dict, hc: Healthcheck | None) -> dict | None:
    """Config.Healthcheck: the options' fields over the image's (Docker's merge); None without one."""
    image = (image_config.get("config") or {}).get("Healthcheck") or {}
    if hc is None:
        return dict(image) or None
    for value, what in ((hc.interval, "Interval"), (hc.timeout, "Timeout"), (hc.start_period, "StartPeriod")):
        if value < 0 or 0 < value < 1_000_000:
            raise InvalidArgument(f"the healthcheck's {what} must be 0 or at least 1ms")
    if hc.retries < 0:
        raise InvalidArgument("the healthcheck's Retries cannot be negative")
    test = list(hc.test) or list(image.get("Test") or [])
    if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
        raise InvalidArgument(f"invalid healthcheck test {test!r}: it starts with NONE, CMD or CMD-SHELL")
    if test and test[0] in ("CMD", "CMD-SHELL") and len(test) < 2:
        raise InvalidArgument("the healthcheck has no command: give --health-cmd")
    out = {"Test": test}
    for value, key in ((hc.interval, "Interval"), (hc.timeout, "Timeout"), (hc.start_period, "StartPeriod"),
                       (hc.retries, "Retries")):
        if value or image.get(key):
            out[key] = value or image[key]
    return out if test else None


def active(config: dict) -> dict | None:
    """The container's Healthcheck if it has one that runs (not NONE), with Docker's defaults filled in."""
    hc = config.get("Healthcheck") or {}
    test = hc.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    return {**DEFAULTS, **{k: v for k, v in hc.items() if v}}


def starting() -> dict:
    return {"Status": "starting", "FailingStreak": 0, "Log": []}


def status_suffix(health: dict) -> str:
    """What `ps` adds to STATUS: " (healthy)", " (unhealthy)", " (health: starting)"."""
    status = (health or {}).get("Status")
    if not status:
        return ""
    return f" (health: {status})" if status == "starting" else f" ({status})"


def judge(health: dict, hc: dict, exit_code: int, output: str, start: str, end: str, in_start_period: bool) -> dict:
    """The next State.Health after one probe."""
    health = dict(health or starting())
    log = list(health.get("Log") or [])[-(MAX_LOG - 1):]
    log.append({"Start": start, "End": end, "ExitCode": exit_code, "Output": output})
    health["Log"] = log
    if exit_code == 0:
        health["Status"], health["FailingStreak"] = "healthy", 0
    elif not (in_start_period and health.get("Status") == "starting"):
        health["FailingStreak"] = health.get("FailingStreak", 0) + 1
        if health["FailingStreak"] >= hc["Retries"]:
            health["Status"] = "unhealthy"
    return health


def probe(service, container_id: str) -> None:
    """In a monitor's worker: run the container's healthcheck once and record the result."""
    rec = service.records.get_container(container_id)
    hc = active(rec.config) if rec is not None else None
    if hc is None or rec.status != "running":
        return
    start = database.now()
    exit_code, output = _run(service, rec, hc)
    current = service.records.get_container(container_id)
    if current is None or current.status != "running" or current.started_at != rec.started_at:
        return  # stopped or restarted meanwhile: this probe belongs to a run that is over
    try:
        ran = time.time() - logs.parse_time(rec.started_at) / 1e9
    except (TypeError, ValueError):
        ran = float("inf")
    health = judge(current.health, hc, exit_code, output, start, database.now(), ran * SECOND < hc["StartPeriod"])
    service.records.update_container(container_id, unless_status=("removing", "exited"), health=health)


def _run(service, rec, hc: dict) -> tuple[int, str]:
    """(exit code, output) of the test command in the container; -1 and Docker's message on timeout."""
    test = hc["Test"]
    args = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else list(test[1:])
    config = jsonio.load_file(os.path.join(service.paths.container_dir(rec.id), "config.json"))
    process = {k: v for k, v in config["process"].items() if k not in ("args", "terminal", "consoleSize")}
    process.update(args=args, terminal=False)
    r, w = os.pipe2(os.O_CLOEXEC)
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            proc = api.exec_process(service.paths.runtime_root, rec.id, process, stdio=(devnull, w, w))
        except MyDockerError as e:
            return (e.exit_code if e.exit_code in (126, 127) else 1), str(e)
        finally:
            os.close(w)
            w = -1
        deadline = time.monotonic() + hc["Timeout"] / SECOND
        out, status = bytearray(), None
        while status is None:
            left = deadline - time.monotonic()
            if left <= 0:  # the timeout: Docker's message and -1; the probe is killed
                os.kill(proc.pid, signal.SIGKILL)
                os.waitpid(proc.pid, 0)
                return -1, f"Health check exceeded timeout ({_seconds(hc['Timeout'])})"
            if r >= 0 and select.select([r], [], [], min(left, 0.05))[0]:
                data = os.read(r, 65536)
                if not data:  # its output is closed: now only its exit is awaited
                    os.close(r)
                    r = -1
                elif len(out) < MAX_OUTPUT:
                    out += data[:MAX_OUTPUT - len(out)]
            elif r < 0:
                time.sleep(min(left, 0.01))
            pid, wstatus = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                status = wstatus
        while r >= 0 and len(out) < MAX_OUTPUT and select.select([r], [], [], 0)[0]:  # what it wrote last
            data = os.read(r, 65536)
            if not data:
                break
            out += data[:MAX_OUTPUT - len(out)]
        code = os.waitstatus_to_exitcode(status)
        return (128 - code if code < 0 else code), out.decode(errors="replace")
    finally:
        if r >= 0:
            os.close(r)
        os.close(devnull)
        if w >= 0:
            os.close(w)


def _seconds(ns: int) -> str:
    return f"{ns / SECOND:g}s"
