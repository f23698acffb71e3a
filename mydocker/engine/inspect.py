"""A container as `docker inspect` shows it, and as `ps` formats it (Docker's field names)."""

from __future__ import annotations

import json
import os
import time

from mydocker.engine.database import ContainerRecord
from mydocker.lazy import lazy_module

network_schema = lazy_module("mydocker.engine.network_schema")
sqlite3 = lazy_module("_sqlite3")
jsonio = lazy_module("mydocker.jsonio")
snapshot = lazy_module("mydocker.image.snapshot")
logs = lazy_module("mydocker.engine.logs")
engine_health = lazy_module("mydocker.engine.health")
volumes = lazy_module("mydocker.engine.volumes")

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


def _with_health(state: dict, rec: ContainerRecord) -> dict:
    """State.Health, for a container with a healthcheck (Docker leaves it out otherwise)."""
    if rec.health:
        state["Health"] = rec.health
    elif ((rec.config.get("Healthcheck") or {}).get("Test") or ["NONE"])[0] != "NONE":
        state["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
    return state


def container_json(rec: ContainerRecord, container_dir: str, log_path: str, network: dict | None = None) -> dict:
    """`network`: NetworkService.container_view's NetworkMode, PortBindings and NetworkSettings."""
    args = command_line(rec)
    spec = _spec(container_dir)
    mounts = volumes.docker_mounts(spec.get("mounts", []), root=os.path.dirname(os.path.dirname(container_dir)))
    host = {"Binds": None, "LogConfig": {"Type": "json-file", "Config": {}}, "NetworkMode": "none",
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False}
    host.update(rec.host_config)
    # Docker's HostConfig.Links: the default bridge's legacy links, which mydocker does not make (a user
    # network's --link is its endpoint's Links, in NetworkSettings.Networks)
    host["Links"] = None
    network = network or {}
    for key in ("NetworkMode", "PortBindings"):
        if key in network:
            host[key] = network[key]
    host.setdefault("PortBindings", {})
    resources = (spec.get("linux") or {}).get("resources") or {}
    memory = resources.get("memory") or {}
    cpu = resources.get("cpu") or {}
    host.setdefault("Memory", memory.get("limit", 0))
    host.setdefault("MemorySwap", memory.get("swap", 0))
    host.setdefault("CpuShares", cpu.get("shares", 0))
    if cpu.get("quota", 0) > 0 and cpu.get("period"):  # --cpus: Docker keeps NanoCpus, leaves quota and period 0
        host.setdefault("NanoCpus", cpu["quota"] * 1_000_000_000 // cpu["period"])
    else:
        host.setdefault("NanoCpus", 0)
        host.setdefault("CpuQuota", cpu.get("quota", 0))
        host.setdefault("CpuPeriod", cpu.get("period", 0))
    host.setdefault("CpuQuota", 0)
    host.setdefault("CpuPeriod", 0)
    host.setdefault("CpusetCpus", cpu.get("cpus", ""))
    host.setdefault("PidsLimit", (resources.get("pids") or {}).get("limit"))
    return {
        "Id": rec.id,
        "Created": rec.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": _with_health(state_of(rec), rec),
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
        "NetworkSettings": network.get("NetworkSettings") or network_settings("none", None, [], {}, rec.id),
    }


def container_mounts(container_dir: str) -> list[dict]:
    """Docker's Mounts of the container in `container_dir` (<root>/containers/<id>), from its config.json."""
    return volumes.docker_mounts(_spec(container_dir).get("mounts", []),
                                 root=os.path.dirname(os.path.dirname(container_dir)))


def mounts_of(rec: ContainerRecord, container_dir: str) -> list[dict]:
    """Docker's Mounts of `rec`: as recorded at create, or (a record older than that) from its config.json."""
    return rec.mounts if rec.mounts is not None else container_mounts(container_dir)


def port_bindings(ports: list) -> dict:
    """HostConfig.PortBindings from the -p requests ([container_port, proto, host_port, host_ip])."""
    out: dict[str, list] = {}
    for cport, proto, host_port, host_ip in ports:
        out.setdefault(f"{cport}/{proto}", []).append({"HostIp": host_ip or "", "HostPort": str(host_port or "")})
    return out


def _endpoint(network_id: str = "", ip: str = "", prefix: int = 0, gateway: str = "", mac: str = "",
              endpoint_id: str = "", aliases: list | None = None, dns_names: list | None = None) -> dict:
    """One of NetworkSettings.Networks; without an address while the container is stopped."""
    return {"IPAMConfig": None, "Links": None, "Aliases": aliases or None, "MacAddress": mac, "DriverOpts": None,
            "NetworkID": network_id, "EndpointID": endpoint_id, "Gateway": gateway, "IPAddress": ip,
            "IPPrefixLen": prefix, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "DNSNames": dns_names}


def network_settings(mode: str, sandbox, endpoints: list, networks: dict, container_id: str,
                     settings=None) -> dict:
    """Docker's NetworkSettings: one entry per network joined (addresses while it runs); the
    top-level address fields are the default bridge network's, as in Docker (empty on others).
    `settings` (network_schema.SandboxSettings): its --link aliases ("name:alias", on its own network)
    and, while it is stopped, the networks `network connect` added."""
    ports: dict[str, list] = {}
    joined = {}
    for ep in endpoints:
        net = networks.get(ep.network)
        names = None if ep.network == network_schema.DEFAULT_NETWORK else [sandbox.name if sandbox else "",
                                                                           container_id[:12],
                                                            *ep.aliases]  # what the network's DNS answers to
        joined[ep.network] = _endpoint(net.id if net else "", ep.ip, int(net.subnet.split("/")[1]) if net else 0,
                                       net.gateway if net else "", ep.mac, ep.veth, ep.aliases, names)
        for proto, host_ip, host_port, cport in ep.ports:
            binding = {"HostIp": host_ip or "0.0.0.0", "HostPort": str(host_port)}
            ports.setdefault(f"{cport}/{proto}", []).append(binding)
    if not joined and not mode.startswith("container:"):  # stopped, or none/host: the network it belongs to
        joined[mode] = _endpoint(networks[mode].id if mode in networks else "")
        for name, _ip, aliases in settings.connected if settings is not None else ():
            joined[name] = _endpoint(networks[name].id if name in networks else "", aliases=aliases)
    if settings is not None and settings.links and mode in joined:
        joined[mode]["Links"] = [f"{name}:{alias}" for name, alias in settings.links]
    default = joined.get(network_schema.DEFAULT_NETWORK) or _endpoint()
    return {"Bridge": "", "SandboxID": container_id if sandbox else "", "HairpinMode": False,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": ports,
            "SandboxKey": (sandbox.netns or "") if sandbox else "", "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None, "EndpointID": default["EndpointID"], "Gateway": default["Gateway"],
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": default["IPAddress"],
            "IPPrefixLen": default["IPPrefixLen"], "IPv6Gateway": "", "MacAddress": default["MacAddress"],
            "Networks": joined}


def published_ports(db) -> dict[str, list]:
    """Container id -> the ports its endpoints publish now ([proto, host_ip, host_port, container_port]).
    Read from the endpoints table directly (engine/network_store.py owns it): `ps` does not load the
    network service (its start-up budget, tests/integration/test_import_budget.py)."""
    try:
        rows = db.execute("SELECT container, ports FROM endpoints").fetchall()
    except sqlite3.OperationalError:  # no network was ever set up in this root
        return {}
    out: dict[str, list] = {}
    for container, ports in rows:
        out.setdefault(container, []).extend(jsonio.loads(ports))
    return out


def joined_networks(db) -> dict[str, dict[str, str]]:
    """Container id -> {network: its IPv4 address} for the endpoints it has now (read as published_ports is)."""
    try:
        rows = db.execute("SELECT container, network, ip FROM endpoints").fetchall()
    except sqlite3.OperationalError:
        return {}
    out: dict[str, dict[str, str]] = {}
    for container, network, ip in rows:
        out.setdefault(container, {})[network] = ip
    return out


def network_names(rec: ContainerRecord, joined: dict[str, str] | None) -> list[str]:
    """The networks ps names: those joined now, else (stopped) the one it was created on, as inspect."""
    if joined:
        return sorted(joined)
    mode = rec.host_config.get("NetworkMode") or "bridge"
    return [] if mode.startswith("container:") else [mode]


def _ellipsis(text: str, width: int) -> str:
    """The docker CLI's formatter.Ellipsis."""
    return text if len(text) <= width else text[:width - 1] + "…"


def ports_text(ports: list) -> str:
    """ps's PORTS: "0.0.0.0:8080->80/tcp, ..." for what the container publishes now."""
    entries = sorted((cport, proto, host_ip or "0.0.0.0", host_port) for proto, host_ip, host_port, cport in ports)
    return ", ".join(f"{ip}:{hport}->{cport}/{proto}" for cport, proto, ip, hport in entries)


def _spec(container_dir: str) -> dict:
    try:
        with open(os.path.join(container_dir, "config.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _driver(container_dir: str) -> str:
    return snapshot.driver_of(container_dir)


# --- ps -----------------------------------------------------------------------------------------

def human_size(size: float, precision: int = 3) -> str:
    """go-units' HumanSizeWithPrecision (decimal units): Docker's images and ps use 3 digits, system df 4."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.{precision}g}{unit}"
        size /= 1000
    return f"{size:.{precision}g}TB"


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
    if not stamp:
        return 0.0
    try:
        return max(0.0, now - logs.parse_time(stamp) / 1e9)
    except ValueError:
        return 0.0


def status_text(rec: ContainerRecord, now: float | None = None) -> str:
    now = time.time() if now is None else now
    if rec.status == "running":
        health = ""
        if rec.health:
            health = engine_health.status_suffix(rec.health)
        return f"Up {human_duration(_ago(rec.started_at, now))}{health}"
    if rec.status == "paused":
        return f"Up {human_duration(_ago(rec.started_at, now))} (Paused)"
    if rec.status == "restarting":
        return f"Restarting ({rec.exit_code or 0}) {human_duration(_ago(rec.finished_at, now))} ago"
    if rec.status == "exited":
        code = rec.exit_code if rec.exit_code is not None else 0
        return f"Exited ({code}) {human_duration(_ago(rec.finished_at, now))} ago"
    if rec.status == "removing":
        return "Removal In Progress"
    return "Created"


def ps_fields(rec: ContainerRecord, no_trunc: bool = False, now: float | None = None, ports: str = "",
              networks: list[str] | None = None, mounts: list[dict] | None = None,
              size: tuple[int, int] | None = None) -> dict:
    """The names `ps --format` offers ({{.ID}}, {{.Names}}, ...), as Docker fills them (the docker CLI's
    formatter: networks sorted, mounts by volume name or source, ellipsized to 15 unless no_trunc;
    `size`: (writable layer, with the image's) bytes, for {{.Size}})."""
    mounts = mounts or []
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
        "Ports": ports,
        "State": rec.status,
        "Status": status_text(rec, now),
        "Size": _size_text(*(size or (0, 0))),
        "Names": rec.name,
        "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "Mounts": ",".join(m.get("Name") or m["Source"] if no_trunc else _ellipsis(m.get("Name") or m["Source"], 15)
                           for m in mounts),
        "Networks": ",".join(networks if networks is not None else network_names(rec, None)),
        "LocalVolumes": str(sum(m.get("Driver") == "local" for m in mounts)),
    }


def _size_text(size_rw: int, size_root_fs: int) -> str:
    text = human_size(size_rw)
    return f"{text} (virtual {human_size(size_root_fs)})" if size_root_fs > 0 else text


def _created_at(stamp: str) -> str:
    try:
        seconds = logs.parse_time(stamp) / 1e9
    except ValueError:
        return stamp
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(seconds))
