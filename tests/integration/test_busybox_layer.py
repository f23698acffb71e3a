"""The busybox image's layer from this host's files: iputils ping with what the loader maps for it,
no file capabilities, busybox's ping applets retired, one digest for one set of host files."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile

from mydocker.image.busybox import build_layer, find_host_busybox, find_host_ping


def _layer(ping: str | None) -> bytes:
    buf = io.BytesIO()
    build_layer(find_host_busybox(), buf, ping)
    return buf.getvalue()


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_the_layer_carries_iputils_ping_and_what_it_needs(tmp_path):
    ping = find_host_ping()
    assert ping, "the host has no iputils ping: scripts/setup.sh installs iputils-ping"
    data = _layer(ping)
    assert data == _layer(ping)  # deterministic
    tar = tarfile.open(fileobj=io.BytesIO(data))
    members = {m.name: m for m in tar.getmembers()}
    assert not any(k.startswith("SCHILY.xattr") for m in members.values() for k in m.pax_headers)
    entry = members["bin/ping"]
    assert entry.isfile() and entry.mode == 0o755 and tar.extractfile(entry).read() == _read(ping)
    assert [(members[n].issym(), members[n].linkname) for n in ("bin/ping4", "bin/ping6")] == [(True, "ping")] * 2
    ldd = subprocess.run(["ldd", ping], capture_output=True, text=True, check=True).stdout
    needed = [w for line in ldd.splitlines() for w in line.split() if w.startswith("/")]
    assert any("ld-linux" in p for p in needed) and any("libc.so" in p for p in needed)
    for path in needed:
        entry = members[os.path.normpath(path).lstrip("/")]
        assert entry.isfile() and tar.extractfile(entry).read() == _read(os.path.realpath(path)), path
    assert b"hosts: files dns\n" in tar.extractfile("etc/nsswitch.conf").read()
    # busybox's own ping applets are gone (its shell would run them before /bin/ping), the rest stay
    (tmp_path / "busybox").write_bytes(tar.extractfile("bin/busybox").read())
    (tmp_path / "busybox").chmod(0o755)
    listed = subprocess.run([str(tmp_path / "busybox"), "--list"], capture_output=True, text=True).stdout.split()
    host = subprocess.run([find_host_busybox(), "--list"], capture_output=True, text=True).stdout.split()
    assert "ping" in host and "ping" not in listed and "ping6" not in listed
    assert set(host) - set(listed) == {"ping", "ping6"} and "sh" in listed


def test_without_iputils_the_layer_keeps_busybox_as_it_is():
    tar = tarfile.open(fileobj=io.BytesIO(_layer(None)))
    assert tar.getmember("bin/ping").islnk() and tar.getmember("bin/ping6").islnk()
    assert tar.extractfile("bin/busybox").read() == _read(find_host_busybox())
    assert "bin/ping4" not in tar.getnames()
