#!/usr/bin/env python3
"""Rootless `run --rm busybox true`: mydocker against podman, as the same ordinary user, same image.

    python3 bench/rootless.py [--runs 20] [--warmups 3] [--json]

A throwaway user is made (its own subuid/subgid range), with mydocker's launchers for this checkout
and a fresh XDG_RUNTIME_DIR. mydocker's busybox image (built from the host's busybox-static in the
user's own root) is saved and `podman load`ed, so both run the very same image. Rows, timed
round-robin in one run: `--network none` for both, then each one's default network (podman:
slirp4netns on this Debian; mydocker: its user-mode stack, network/usermode.py), then each one's user
network (`network create`, kept up by a detached `sleep` on it: mydocker's rootless netns with the
bridge driver and one slirp4netns, engine/network_rootless.py; podman's rootless netns, with CNI
here). A row whose tool cannot run it is printed as skipped, with the reason. podman needs `--runtime
runc` here (crun refuses the hybrid cgroup layout) and `--cgroup-manager cgroupfs --events-backend
file` (no systemd user session). Both keep a pause
process holding the user's namespaces between runs (warm-ups start them); the bench stops both at
the end, then removes the user. Target: mydocker ≤ 0.5× podman.

Run as root (to make the user) from the repository root; stdlib only. /dev/net/tun is opened to
users (every user-mode stack opens it; this host makes it 0600) in the window the test sessions
share (scripts/tun_window.py): the last one out restores its mode, also when the bench fails or is
stopped by SIGINT, SIGTERM, SIGHUP or SIGQUIT.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(REPO, "scripts"))
from _common import (BenchError, Contender, Result, Stats, check_run, print_table, results_json,  # noqa: E402
                     time_interleaved)
from tun_window import signals_end_the_window, tun_for_users  # noqa: E402

TITLE = "rootless"
PYTHON = "/opt/mydocker/bin/python"  # the launchers' interpreter (root's pyenv is not the user's to run)
RANGE = 65536
USER_NETWORK = "benchnet"


def make_user(top: str) -> tuple[str, int, str]:
    """(name, uid, home) of a new user with a subordinate range no other line of /etc/subuid overlaps."""
    name = "mdbench" + uuid.uuid4().hex[:8]
    taken = []
    for path in ("/etc/subuid", "/etc/subgid"):
        with open(path) as f:
            taken += [(int(p[1]), int(p[2])) for p in (line.strip().split(":") for line in f) if len(p) == 3]
    base = 3_500_000_000
    while any(start < base + RANGE and base < start + count for start, count in taken):
        base += RANGE
    home = os.path.join(top, "home")
    uid = 1_750_000_000 + os.getpid() % 1_000_000  # far from ordinary users and from the tests' container ids
    while any(uid == entry.pw_uid for entry in pwd.getpwall()):
        uid += 1
    subprocess.run(["useradd", "-m", "-d", home, "-s", "/bin/sh", "-u", str(uid), "-U", "-K", "SUB_UID_COUNT=0",
                    "-K", "SUB_GID_COUNT=0", name], check=True)
    subprocess.run(["usermod", "--add-subuids", f"{base}-{base + RANGE - 1}", "--add-subgids",
                    f"{base}-{base + RANGE - 1}", name], check=True)
    xdg = os.path.join(home, "run")
    os.mkdir(xdg, 0o700)
    os.chown(xdg, uid, pwd.getpwuid(uid).pw_gid)
    return name, uid, home


def as_user(uid: int, home: str, bindir: str, *argv: str) -> list[str]:
    gid = pwd.getpwuid(uid).pw_gid
    return ["setpriv", "--reuid", str(uid), "--regid", str(gid), "--init-groups", "env", "-i",
            f"PATH={bindir}:/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={home}", f"XDG_RUNTIME_DIR={home}/run",
            "LANG=C.UTF-8", *argv]


def stop_pause(pid_file: str, uid: int) -> None:
    try:
        with open(pid_file) as f:
            pid = int(f.read())
        if os.stat(f"/proc/{pid}").st_uid == uid:
            os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass


def summary(samples) -> Stats | None:
    return Stats.of(samples) if isinstance(samples, list) and samples else None


def keep_network_up(user, tool: list[str]) -> str | None:
    """`tool`'s user network made, with a detached `sleep` on it keeping its rootless netns up between
    the timed runs; None, or why it cannot (the row is then skipped)."""
    try:
        check_run(user(*tool, "network", "create", USER_NETWORK), timeout=60)
        check_run(user(*tool, "run", "-d", "--name", "keeper", "--network", USER_NETWORK, "busybox", "sleep",
                       "3600"), timeout=120)
    except BenchError as e:
        return str(e)
    return None


def podman_resolves_names(user, podman: list[str]) -> bool:
    """Whether podman's user network has its DNS (CNI needs the dnsname plugin, not packaged here)."""
    try:
        return check_run(user(*podman, "network", "inspect", "--format", "{{.DNSEnabled}}", USER_NETWORK),
                         timeout=60).strip() == "true"
    except BenchError:
        return False


def drop_network(user, tool: list[str]) -> None:
    for argv in (("rm", "-f", "keeper"), ("network", "rm", USER_NETWORK)):
        subprocess.run(user(*tool, *argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def measure(user, home: str, runs: int, warmups: int) -> list[Result]:
    """The rows, timed round-robin (each tool's user network kept up meanwhile)."""
    image = os.path.join(home, "busybox.tar")
    subprocess.run(user("mydocker", "save", "-o", image, "busybox"), check=True, cwd=home)
    podman = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    subprocess.run(user(*podman, "load", "-q", "-i", image), check=True, cwd=home, stdout=subprocess.DEVNULL)
    contenders = [
        Contender("mydocker none", user("mydocker", "run", "--rm", "--network", "none", "busybox", "true")),
        Contender("podman none", user(*podman, "run", "--rm", "--network", "none", "busybox", "true")),
        Contender("mydocker default", user("mydocker", "run", "--rm", "busybox", "true"), note="user-mode stack"),
        Contender("podman default", user(*podman, "run", "--rm", "busybox", "true"), note="slirp4netns"),
        Contender("mydocker usernet", user("mydocker", "run", "--rm", "--network", USER_NETWORK, "busybox", "true"),
                  note="rootless netns: bridge + one slirp4netns"),
        Contender("podman usernet", user(*podman, "run", "--rm", "--network", USER_NETWORK, "busybox", "true"),
                  note="rootless netns (CNI here)"),
    ]
    tools = {"mydocker usernet": ["mydocker"], "podman usernet": podman}
    cannot = {}
    try:
        for row, tool in tools.items():
            if (why := keep_network_up(user, tool)) is not None:
                cannot[row] = f"its user network: {why}"
        if "podman usernet" not in cannot and not podman_resolves_names(user, podman):
            contenders[-1].note += ": names not resolved (no dnsname CNI plugin)"
        samples = time_interleaved([c for c in contenders if c.name not in cannot], runs, warmups)
    finally:
        for tool in tools.values():
            drop_network(user, tool)
    samples.update(cannot)
    return [Result(c.name, summary(samples[c.name]), None if isinstance(samples[c.name], list) else samples[c.name],
                   c.note) for c in contenders]


def remove_user(name: str, uid: int, home: str, top: str) -> None:
    """Stop both pause processes, then anything left of the throwaway user, then the user."""
    stop_pause(os.path.join(home, "run", "mydocker", "pause.pid"), uid)
    stop_pause(os.path.join(home, "run", "libpod", "tmp", "pause.pid"), uid)
    time.sleep(0.5)
    for pid in filter(str.isdigit, os.listdir("/proc")):  # the throwaway user's alone (a fresh uid)
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    lock = f"/dev/shm/libpod_rootless_lock_{uid}"
    if os.path.exists(lock):
        os.unlink(lock)
    with open("/etc/subuid") as f:
        base = next((line.split(":")[1] for line in f if line.startswith(name + ":")), None)
    if base is not None:
        last = int(base) + RANGE - 1
        subprocess.run(["usermod", "--del-subuids", f"{base}-{last}", "--del-subgids", f"{base}-{last}", name],
                       check=False)
    subprocess.run(["userdel", "-r", name], check=False, stderr=subprocess.DEVNULL)
    subprocess.run(["groupdel", name], check=False, stderr=subprocess.DEVNULL)
    shutil.rmtree(top, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmups", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the bench makes a throwaway user")
    with signals_end_the_window():  # SIGTERM and the like run the finally blocks: user removed, tun restored
        top = tempfile.mkdtemp(prefix="mdbench-rootless-")
        os.chmod(top, 0o755)
        bindir = os.path.join(top, "bin")
        os.mkdir(bindir)
        subprocess.run([PYTHON, "-c", f"import sys; sys.path.insert(0, {REPO!r}); from mydocker import launcher; "
                        f"launcher.install({bindir!r})"], check=True)
        name, uid, home = make_user(top)
        try:
            with tun_for_users():
                results = measure(lambda *argv: as_user(uid, home, bindir, *argv), home, args.runs, args.warmups)
        finally:
            remove_user(name, uid, home, top)
    if args.json:
        print(json.dumps(results_json(TITLE, results, "podman none")))
    else:
        print_table(TITLE + " (none rows: ratio to podman none)", results[:2], "podman none")
        print_table(TITLE + " (default network rows: ratio to podman default)", results[2:4], "podman default")
        print_table(TITLE + " (user network rows: ratio to podman usernet)", results[4:], "podman usernet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
