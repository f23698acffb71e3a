"""Container logs in Docker's json-file form: one JSON object per line, rotated by size.

    {"log":"hello\\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}

The writer runs inside the monitor (small imports only); the reader serves `logs` with
--since/--until/--tail/-f/-t and keeps stdout and stderr apart.
"""

from __future__ import annotations

import json
import os
import time
from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

re = lazy_module("re")
units = lazy_module("mydocker.engine.units")

LOG_NAME = "{id}-json.log"        # Docker's file name, under the container's directory
PARTIAL = 16 * 1024               # Docker cuts lines longer than this into partial messages


def log_path(container_dir: str, container_id: str) -> str:
    return os.path.join(container_dir, LOG_NAME.format(id=container_id))


def rfc3339nano(ns: int, fixed: bool = False) -> str:
    """Go's RFC3339Nano (trailing zeros dropped), or Docker's fixed 9-digit display form."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    frac = f"{nanos:09d}"
    if not fixed:
        frac = frac.rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date: calendar.timegm's arithmetic without its
    import (calendar loads datetime and locale, ~3 ms in each API worker that lists containers)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_time(text: str) -> int:
    """RFC 3339 (any fraction, Z or ±hh:mm) -> nanoseconds since the epoch."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?", text)
    if not m:
        raise ValueError(text)
    y, mo, d, h, mi, s, frac, zone = m.groups()
    seconds = _days_from_civil(int(y), int(mo), int(d)) * 86400 + int(h) * 3600 + int(mi) * 60 + int(s)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    elif not zone:
        seconds += time.timezone  # no zone: local time, as Docker reads it
    return seconds * 1_000_000_000 + int((frac or "0").ljust(9, "0"))


class LogWriter:
    """Appends a container's output; rotates at `max_size` bytes keeping `max_file` files."""

    def __init__(self, path: str, max_size: int = 0, max_file: int = 1) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size
        self.pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def feed(self, stream: str, data: bytes) -> None:
        """Output as it arrives; whole lines are written, a tail waits for its newline."""
        buf = self.pending[stream] + data
        lines = buf.split(b"\n")
        self.pending[stream] = lines.pop()
        for line in lines:
            line += b"\n"
            while len(line) > PARTIAL:  # Docker's copier reads 16 KiB at a time: long lines arrive in parts
                self._write(stream, line[:PARTIAL])
                line = line[PARTIAL:]
            self._write(stream, line)
        while len(self.pending[stream]) >= PARTIAL:
            chunk, self.pending[stream] = self.pending[stream][:PARTIAL], self.pending[stream][PARTIAL:]
            self._write(stream, chunk)

    def flush(self, stream: str) -> None:
        """The stream ended: write what is left without a newline, as Docker does."""
        if self.pending[stream]:
            self._write(stream, self.pending[stream])
            self.pending[stream] = b""

    def _write(self, stream: str, data: bytes) -> None:
        entry = json.dumps({"log": data.decode("utf-8", "replace"), "stream": stream,
                            "time": rfc3339nano(time.time_ns())}, ensure_ascii=False).encode() + b"\n"
        if self.max_size and self.size and self.size + len(entry) > self.max_size:
            self._rotate()
        os.write(self.fd, entry)
        self.size += len(entry)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_file <= 1:
            os.truncate(self.path, 0)
        else:
            for n in range(self.max_file - 1, 0, -1):
                older = f"{self.path}.{n - 1}" if n > 1 else self.path
                if os.path.exists(older):
                    os.rename(older, f"{self.path}.{n}")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = 0

    def close(self) -> None:
        for stream in self.pending:
            self.flush(stream)
        os.close(self.fd)


def writer_for(path: str, log_config: dict) -> LogWriter:
    """The json-file writer HostConfig.LogConfig asks for (max-size, max-file)."""
    config = log_config.get("Config") or {}
    return LogWriter(path, parse_size(config["max-size"]) if config.get("max-size") else 0,
                     int(config.get("max-file", 1)))


def parse_size(text: str) -> int:
    """--log-opt max-size: 10k, 5m, 1g (Docker's units, powers of 1024)."""
    try:
        return units.ram_in_bytes(text)
    except ValueError:
        raise InvalidArgument(f"invalid --log-opt max-size={text}: use a size such as 512k, 10m or 1g") from None


# --- reading ----------------------------------------------------------------------------------

def _files(path: str) -> list[str]:
    rotated = []
    n = 1
    while os.path.exists(f"{path}.{n}"):
        rotated.append(f"{path}.{n}")
        n += 1
    return [*reversed(rotated), path]


def _entries(data: bytes) -> list[dict]:
    out = []
    for line in data.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash: skip it
    return out


def read_logs(path: str, write, since: int | None = None, until: int | None = None, tail: int | None = None,
              timestamps: bool = False, follow=None, poll: float = 0.1, ready=None) -> None:
    """Call write(stream, bytes) for each entry. `follow()` -> False once the container has exited.
    The current file is held open from the first read: a container removed while it is followed
    (`docker run --rm` removes as the client reads) is still read to its end. `ready()`, if given,
    once the log has been read, before the first write (the API answers then, as dockerd)."""
    fd = _open(path)
    following = False
    try:
        entries = []
        for name in _files(path)[:-1]:  # the rotated ones, oldest first
            try:
                with open(name, "rb") as f:
                    entries += _entries(f.read())
            except FileNotFoundError:
                pass
        complete, _, rest = (_read_to_end(fd) if fd is not None else b"").rpartition(b"\n")
        entries += _entries(complete)
        if ready is not None:
            ready()
        if tail is not None and tail >= 0:
            entries = entries[-tail:] if tail else []
        following = not _emit(entries, write, since, until, timestamps) and follow is not None
    finally:
        if fd is not None and not following:
            os.close(fd)
    if not following:
        return
    _follow(fd, path, lambda got: _emit(got, write, since, until, timestamps), follow, rest,
            lambda: time.sleep(poll))


def follow_file(path: str, write, running, poll: float = 0.02, ready=None, pause=time.sleep) -> None:
    """The entries appended to the log at `path` from now on, to write(stream, bytes), until
    `running()` says False (checked before each read, so what was written before it is sent). The
    file is held open: it may be removed as the container goes (--rm); a rotation moves to the new
    file; a log that does not exist yet (a container not started) is waited for. `ready()` is called
    once "now" is fixed: what the container writes from then on is sent. Between reads that found
    nothing: `pause(poll)` (one that returns early, on a change, makes the follow prompter)."""
    fd = _open(path)
    if fd is not None:
        os.lseek(fd, 0, os.SEEK_END)  # what is there is an earlier run's
    if ready is not None:
        ready()
    _follow(fd, path, lambda got: _emit(got, write, None, None, False), running, b"", lambda: pause(poll))


def _follow(fd: int | None, path: str, emit, running, rest: bytes, pause) -> None:
    """Entries appended after the position of `fd` (None: the file is not there yet), to
    `emit(entries)` (True: stop), until `running()` is False. Takes `fd` over and closes it."""
    try:
        while True:
            alive = running()
            if fd is None:
                fd = _open(path)
            data, rotated = b"", False
            if fd is not None:
                if os.fstat(fd).st_size < os.lseek(fd, 0, os.SEEK_CUR):  # truncated: max-file 1's rotation
                    os.lseek(fd, 0, os.SEEK_SET)
                data = _read_to_end(fd)
                if _inode(path) not in (0, os.fstat(fd).st_ino):  # rotated: this file is complete
                    os.close(fd)
                    fd, rotated = None, True
            complete, _, rest = (rest + data).rpartition(b"\n")
            if emit(_entries(complete)):
                return
            if rotated:
                continue
            if not alive:
                return
            if not data:
                pause()
    finally:
        if fd is not None:
            os.close(fd)


def _read_to_end(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 1 << 16):
        data += chunk
    return data


def _open(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


def _emit(entries: list[dict], write, since, until, timestamps: bool) -> bool:
    """Write entries in the window; True once past --until (nothing more to follow)."""
    for entry in entries:
        t = entry.get("time", "")
        if since is not None or until is not None:
            try:
                ns = parse_time(t)
            except ValueError:
                ns = 0
            if since is not None and ns < since:
                continue
            if until is not None and ns > until:
                return True
        data = entry.get("log", "").encode("utf-8", "surrogateescape")
        if timestamps:
            try:
                t = rfc3339nano(parse_time(t), fixed=True)
            except ValueError:
                pass
            data = t.encode() + b" " + data
        write(entry.get("stream", "stdout"), data)
    return False


def _inode(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return 0
