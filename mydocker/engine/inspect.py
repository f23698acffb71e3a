"""A container as `docker inspect` shows it, and as `ps` formats it (Docker's field names)."""

from __future__ import annotations

import json
import os
import time

from mydocker.engine.records import ContainerRecord

_ZERO_TIME = "0001-01-01T00:00:00Z"


def command_line(rec: ContainerRecord) -> list[str]:
    """Docker's Path and Args, together."""
    return [*(rec.config.get("Entrypoint") or []), *(rec.config.get("Cmd") or [])]


def state_of(rec: ContainerRecord) -> dict:
    status = {"removing": "removing", "restarting": "restarting", "paused": "paused"}.get(rec.status, rec.status)
    return {"Status": status, "Running": rec.status in ("running", "paused", "restarting") and rec.pid > 0,
            "Paused": rec.status == "paused", "Restarting": rec.status == "restarting",
            "OOMKilled": rec.oom_killed, "Dead": rec.status == "dead", "Pid": rec.pid if rec.status == "running" else 0,
            "ExitCode": rec.exit_code or 0, "Error": rec.error, "StartedAt": rec.started_at or _ZERO_TIME,
            "FinishedAt": rec.finished_at or _ZERO_TIME}


def container_json(rec: ContainerRecord, container_dir: str, log_path: str) -> dict:
    args = command_line(rec)
    spec = _spec(container_dir)
    mounts = [{"Type": "bind" if m.get("type") == "bind" or "bind" in (m.get("options") or []) else m.get("type"),
               "Source": m.get("source", ""), "Destination": m.get("destination", ""),
               "Mode": "", "RW": "ro" not in (m.get("options") or []), "Propagation": "rprivate"}
              for m in spec.get("mounts", []) if m.get("type") == "bind" or "bind" in (m.get("options") or [])]
    host = {"Binds": None, "LogConfig": {"Type": "json-file", "Config": {}}, "NetworkMode": "none",
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False}
    host.update(rec.host_config)
    resources = (spec.get("linux") or {}).get("resources") or {}
    memory = resources.get("memory") or {}
    cpu = resources.get("cpu") or {}
    host.setdefault("Memory", memory.get("limit", 0))
    host.setdefault("MemorySwap", memory.get("swap", 0))
    host.setdefault("CpuShares", cpu.get("shares", 0))
    host.setdefault("CpuQuota", cpu.get("quota", 0))
    host.setdefault("CpuPeriod", cpu.get("period", 0))
    host.setdefault("CpusetCpus", cpu.get("cpus", ""))
    host.setdefault("PidsLimit", (resources.get("pids") or {}).get("limit"))
    return {
        "Id": rec.id,
        "Created": rec.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": state_of(rec),
        "Image": rec.image_id,
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        "LogPath": log_path,
        "Name": "/" + rec.name,
        "RestartCount": rec.restart_count,
        "Driver": _driver(container_dir),
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host,
        "GraphDriver": {"Name": _driver(container_dir),
                        "Data": {"MergedDir": os.path.join(container_dir, "rootfs"),
                                 "UpperDir": os.path.join(container_dir, "upper"),
                                 "WorkDir": os.path.join(container_dir, "work")}},
        "Mounts": mounts,
        "Config": {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
                   "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": [],
                   "Cmd": None, "Image": rec.image, "Volumes": None, "WorkingDir": "", "Entrypoint": None,
                   "Labels": {}, **rec.config},
        "NetworkSettings": rec.config.get("NetworkSettings") or {
            "Bridge": "", "SandboxID": "", "HairpinMode": False, "Ports": {}, "SandboxKey": "",
            "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": "", "Networks": {}},
    }


def _spec(container_dir: str) -> dict:
    try:
        with open(os.path.join(container_dir, "config.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _driver(container_dir: str) -> str:
    from mydocker.image import snapshot
    return snapshot.driver_of(container_dir)


# --- ps -----------------------------------------------------------------------------------------

def human_duration(seconds: float) -> str:
    """go-units HumanDuration, which Docker's ps uses."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def _ago(stamp: str | None, now: float) -> float:
    from mydocker.engine.logs import parse_time
    if not stamp:
        return 0.0
    try:
        return max(0.0, now - parse_time(stamp) / 1e9)
    except ValueError:
        return 0.0


def status_text(rec: ContainerRecord, now: float | None = None) -> str:
    now = time.time() if now is None else now
    if rec.status == "running":
        return f"Up {human_duration(_ago(rec.started_at, now))}"
    if rec.status == "paused":
        return f"Up {human_duration(_ago(rec.started_at, now))} (Paused)"
    if rec.status == "restarting":
        return f"Restarting ({rec.exit_code or 0}) {human_duration(_ago(rec.finished_at, now))} ago"
    if rec.status == "exited":
        return f"Exited ({rec.exit_code if rec.exit_code is not None else 0}) {human_duration(_ago(rec.finished_at, now))} ago"
    if rec.status == "removing":
        return "Removal In Progress"
    return "Created"


def ps_fields(rec: ContainerRecord, no_trunc: bool = False, now: float | None = None) -> dict:
    """The names `ps --format` offers ({{.ID}}, {{.Names}}, ...), as Docker fills them."""
    now = time.time() if now is None else now
    command = " ".join(command_line(rec))
    if not no_trunc and len(command) > 20:
        command = command[:19] + "…"
    labels = rec.config.get("Labels") or {}
    return {
        "ID": rec.id if no_trunc else rec.id[:12],
        "Image": rec.image,
        "Command": json.dumps(command, ensure_ascii=False),
        "CreatedAt": _created_at(rec.created),
        "RunningFor": f"{human_duration(_ago(rec.created, now))} ago",
        "Ports": "",
        "State": rec.status,
        "Status": status_text(rec, now),
        "Size": "0B",
        "Names": rec.name,
        "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "Mounts": "",
        "Networks": rec.host_config.get("NetworkMode", "none"),
        "LocalVolumes": "0",
    }


def _created_at(stamp: str) -> str:
    from mydocker.engine.logs import parse_time
    try:
        seconds = parse_time(stamp) / 1e9
    except ValueError:
        return stamp
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(seconds))
