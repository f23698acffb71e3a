"""Docker's JSON documents <-> the engine interface's records: a create request's Config and
HostConfig into RunOptions; container and image records into the list endpoints' summaries.
Fields the engine cannot honour yet are refused by name (501) rather than dropped.
"""

from __future__ import annotations

from mydocker.engine.api import Healthcheck, Mount, ResourceOptions, RunOptions, SecurityOptions, UpdateOptions
from mydocker.errors import InvalidArgument, NotSupported
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")
json = lazy_module("json")

# Create fields that change what runs, which the engine does not have yet: refused when set.
_UNSUPPORTED_CONFIG = ("StopSignal", "StopTimeout", "OnBuild", "Shell", "MacAddress")
_UNSUPPORTED_HOST = ("Devices",
                     "VolumesFrom", "GroupAdd", "Sysctls", "StorageOpt", "DeviceRequests",
                     "OomKillDisable", "BlkioWeight", "CpuQuota", "CpuPeriod", "CpuRealtimePeriod")


def _typed(doc: dict, key: str, kind, where: str, default=None):
    value = doc.get(key)
    if value is None:
        return default
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        want = {str: "a string", bool: "a boolean", int: "an integer", list: "a list", dict: "an object"}
        raise InvalidArgument(f"invalid {where}.{key}: {want.get(kind, kind.__name__)} was expected, "
                              f"not {type(value).__name__}")
    return value


def _strings(doc: dict, key: str, where: str, allow_str: bool = False) -> list[str]:
    value = doc.get(key)
    if allow_str and isinstance(value, str):
        return [value]
    value = _typed(doc, key, list, where, [])
    if not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"invalid {where}.{key}: a list of strings was expected")
    return value


def run_options(body, name: str | None) -> RunOptions:
    """A POST /containers/create body (Docker's Config with HostConfig inside) as RunOptions."""
    if not isinstance(body, dict):
        raise InvalidArgument("invalid container config: a JSON object was expected")
    host = _typed(body, "HostConfig", dict, "config", {})
    for key in _UNSUPPORTED_CONFIG:
        if body.get(key):
            raise NotSupported(f"Config.{key} is not supported by mydocker yet: create the container without it")
    for key in _UNSUPPORTED_HOST:
        if host.get(key):
            raise NotSupported(f"HostConfig.{key} is not supported by mydocker yet: create the container without it")
    image = _typed(body, "Image", str, "Config", "")
    if not image:
        raise InvalidArgument("invalid container config: Image is required")
    command = _strings(body, "Cmd", "Config", allow_str=True)
    entrypoint = _strings(body, "Entrypoint", "Config", allow_str=True)
    if len(entrypoint) > 1:  # the engine takes one entrypoint word: the rest leads the command
        command = entrypoint[1:] + command
    binds = _strings(host, "Binds", "HostConfig")
    mounts = _mounts(_typed(host, "Mounts", list, "HostConfig", []))
    tmpfs = _typed(host, "Tmpfs", dict, "HostConfig", {})
    # Config.Volumes names every volume destination (docker-compose repeats its binds there): the
    # anonymous ones are those no bind, mount or tmpfs covers
    covered = {_bind_target(b) for b in binds} | {m.target.rstrip("/") or "/" for m in mounts} | set(tmpfs)
    volumes = binds + sorted(v for v in _typed(body, "Volumes", dict, "Config", {}) if v.rstrip("/") not in covered)
    network, aliases, ip, endpoint_links = _endpoints(_typed(host, "NetworkMode", str, "HostConfig", ""),
                                      _typed(_typed(body, "NetworkingConfig", dict, "config", {}),
                                             "EndpointsConfig", dict, "NetworkingConfig", {}))
    opts = RunOptions(
        image=image, command=command, name=name or None, env=_strings(body, "Env", "Config"),
        tty=_typed(body, "Tty", bool, "Config", False), interactive=_typed(body, "OpenStdin", bool, "Config", False),
        stdin_once=_typed(body, "StdinOnce", bool, "Config", False),
        remove=_typed(host, "AutoRemove", bool, "HostConfig", False),
        hostname=_typed(body, "Hostname", str, "Config", "") or None,
        workdir=_typed(body, "WorkingDir", str, "Config", "") or None,
        user=_typed(body, "User", str, "Config", "") or None,
        entrypoint=entrypoint[0] if entrypoint and entrypoint[0] else None,
        volumes=volumes, publish=_publish(_typed(host, "PortBindings", dict, "HostConfig", {})),
        network=network, network_aliases=aliases, ip=ip,
        labels=_string_map(body, "Labels", "Config"), mounts=mounts, tmpfs=_string_map(host, "Tmpfs", "HostConfig"),
        extra_hosts=_strings(host, "ExtraHosts", "HostConfig"), dns=_strings(host, "Dns", "HostConfig"),
        links=list(dict.fromkeys(_strings(host, "Links", "HostConfig") + endpoint_links)),  # the CLI sends both
        dns_search=_strings(host, "DnsSearch", "HostConfig"), dns_options=_strings(host, "DnsOptions", "HostConfig"),
        publish_all=_typed(host, "PublishAllPorts", bool, "HostConfig", False),
        expose=sorted(_typed(body, "ExposedPorts", dict, "Config", {})),
        healthcheck=_healthcheck(_typed(body, "Healthcheck", dict, "Config", None)),
        restart=_restart(_typed(host, "RestartPolicy", dict, "HostConfig", {})),
        log_opts=_log_opts(_typed(host, "LogConfig", dict, "HostConfig", {})),
        resources=_resources(host, "HostConfig"),
        cgroup_parent=_typed(host, "CgroupParent", str, "HostConfig", "") or None,
        userns=_userns(_typed(host, "UsernsMode", str, "HostConfig", "")),
        security=SecurityOptions(
            cap_add=_strings(host, "CapAdd", "HostConfig"), cap_drop=_strings(host, "CapDrop", "HostConfig"),
            privileged=_typed(host, "Privileged", bool, "HostConfig", False),
            security_opt=_strings(host, "SecurityOpt", "HostConfig"),
            read_only=_typed(host, "ReadonlyRootfs", bool, "HostConfig", False),
            ulimits=_ulimits(_typed(host, "Ulimits", list, "HostConfig", [])),
            init=_typed(host, "Init", bool, "HostConfig", False)))
    opts.detach = True     # the monitor owns every container the API starts
    opts.pull = "never"    # Docker's create never pulls: the client does (POST /images/create) on a 404
    return opts


def _resources(doc: dict, where: str) -> ResourceOptions:
    """Docker's Resources (in HostConfig, or an update's body) as the resource flags of `run` and `update`."""
    return ResourceOptions(
        memory=_size(doc, "Memory", where), memory_swap=_size(doc, "MemorySwap", where, allow_unlimited=True),
        memory_reservation=_size(doc, "MemoryReservation", where),
        cpus=str(n / 1e9) if (n := _typed(doc, "NanoCpus", int, where, 0)) else None,
        cpu_shares=_typed(doc, "CpuShares", int, where, 0) or None,
        cpuset_cpus=_typed(doc, "CpusetCpus", str, where, "") or None,
        cpuset_mems=_typed(doc, "CpusetMems", str, where, "") or None,
        pids_limit=_typed(doc, "PidsLimit", int, where, 0) or None)


def _size(doc: dict, key: str, where: str, allow_unlimited: bool = False) -> str | None:
    value = _typed(doc, key, int, where, 0)
    if value == -1 and allow_unlimited:
        return "-1"
    if value < 0:
        raise InvalidArgument(f"invalid {where}.{key}: {value} is negative")
    return str(value) if value else None


def _publish(bindings: dict) -> list[str]:
    """{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]} as -p specs."""
    specs = []
    for port, hosts in bindings.items():
        for binding in hosts or [{}]:
            if not isinstance(binding, dict):
                raise InvalidArgument(f"invalid HostConfig.PortBindings[{port!r}]: a list of objects was expected")
            ip, host_port = binding.get("HostIp") or "", binding.get("HostPort") or ""
            specs.append(f"{ip}:{host_port}:{port}" if ip else f"{host_port}:{port}" if host_port else port)
    return specs


def _network(mode: str) -> str | None:
    return None if mode in ("", "default") else mode


def _string_map(doc: dict, key: str, where: str) -> dict[str, str]:
    value = _typed(doc, key, dict, where, {})
    if not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"invalid {where}.{key}: an object of strings was expected")
    return value


def _bind_target(bind: str) -> str:
    """The container path of a Binds entry (SRC:DEST[:MODE])."""
    parts = bind.split(":")
    return (parts[1] if len(parts) > 1 else parts[0]).rstrip("/") or "/"


def _endpoints(mode: str, endpoints: dict) -> tuple[str | None, list[str], str | None, list[str]]:
    """NetworkMode and NetworkingConfig.EndpointsConfig as (network, aliases, ip, links): one network at
    creation, as Docker's API before 1.44 (more are joined with POST /networks/{id}/connect)."""
    if len(endpoints) > 1:
        raise NotSupported("a container is created on one network in mydocker: connect it to the others "
                           "with POST /networks/{id}/connect")
    network = _network(mode)
    if not endpoints:
        return network, [], None, []
    (name, config), = endpoints.items()
    if network is None:
        network = _network(name)
    elif name != network:
        raise InvalidArgument(f"invalid NetworkingConfig: the endpoint is for network {name!r} but "
                              f"HostConfig.NetworkMode is {network!r}: name the same network in both")
    config = config or {}
    if not isinstance(config, dict):
        raise InvalidArgument(f"invalid NetworkingConfig.EndpointsConfig[{name!r}]: an object was expected")
    aliases = _strings(config, "Aliases", "EndpointConfig")
    ipam = _typed(config, "IPAMConfig", dict, "EndpointConfig", {})
    if ipam.get("IPv6Address"):
        raise NotSupported("IPv6 addresses are not supported by mydocker yet: create the container without one")
    return network, aliases, _typed(ipam, "IPv4Address", str, "IPAMConfig", "") or None, \
        _strings(config, "Links", "EndpointConfig")


def _mounts(items: list) -> list[Mount]:
    """HostConfig.Mounts (bind, volume, tmpfs) as the engine's Mount records."""
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidArgument("invalid HostConfig.Mounts: a list of objects was expected")
        kind = item.get("Type") or "volume"
        if kind not in ("bind", "volume", "tmpfs"):
            raise NotSupported(f"mount type {kind!r} is not supported by mydocker: use bind, volume or tmpfs")
        bind = item.get("BindOptions") or {}
        volume = item.get("VolumeOptions") or {}
        tmpfs = item.get("TmpfsOptions") or {}
        if (volume.get("DriverConfig") or {}).get("Name") not in (None, "", "local"):
            raise NotSupported("volume drivers other than local are not supported by mydocker")
        out.append(Mount(type=kind, source=item.get("Source") or "", target=item.get("Target") or "",
                         readonly=bool(item.get("ReadOnly")), bind_propagation=bind.get("Propagation") or "",
                         volume_nocopy=bool(volume.get("NoCopy")), volume_labels=dict(volume.get("Labels") or {}),
                         tmpfs_size=tmpfs.get("SizeBytes") or None, tmpfs_mode=tmpfs.get("Mode")))
    return out


def _healthcheck(doc: dict | None) -> Healthcheck | None:
    """Config.Healthcheck (durations in ns, as the engine keeps them); None: the image's."""
    if doc is None:
        return None
    test = _strings(doc, "Test", "Healthcheck")
    return Healthcheck(test=test, interval=_typed(doc, "Interval", int, "Healthcheck", 0),
                       timeout=_typed(doc, "Timeout", int, "Healthcheck", 0),
                       retries=_typed(doc, "Retries", int, "Healthcheck", 0),
                       start_period=_typed(doc, "StartPeriod", int, "Healthcheck", 0))


def update_options(body: dict):
    """POST /containers/{id}/update's body (Docker's resources and RestartPolicy) -> UpdateOptions;
    a field absent or zero is left as it is, as dockerd does."""
    policy = _typed(body, "RestartPolicy", dict, "UpdateConfig", None)
    return UpdateOptions(resources=_resources(body, "UpdateConfig"), restart=_restart(policy) if policy else None)


def _restart(policy: dict) -> str:
    name = policy.get("Name") or "no"
    count = policy.get("MaximumRetryCount") or 0
    return f"{name}:{count}" if name == "on-failure" and count else name


def _log_opts(log: dict) -> list[str]:
    if log.get("Type") not in (None, "", "json-file"):
        raise NotSupported(f"log driver {log['Type']!r} is not supported by mydocker yet: use json-file")
    return [f"{k}={v}" for k, v in (log.get("Config") or {}).items()]


def _userns(mode: str) -> str | None:
    return None if mode in ("", "host") else mode


def _ulimits(items: list) -> list[str]:
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise InvalidArgument("invalid HostConfig.Ulimits: objects with Name, Soft and Hard were expected")
        out.append(f"{item['Name']}={item.get('Soft', 0)}:{item.get('Hard', item.get('Soft', 0))}")
    return out


def with_short_id_aliases(doc: dict) -> dict:
    """Inspect as Docker's API before 1.44 answers: the short id among each user network's Aliases
    (docker-compose 1.29 checks it to know the container joined at creation)."""
    short = doc["Id"][:12]
    for name, endpoint in ((doc.get("NetworkSettings") or {}).get("Networks") or {}).items():
        if name not in ("bridge", "host", "none") and endpoint.get("NetworkID"):
            aliases = endpoint.get("Aliases") or []
            endpoint["Aliases"] = aliases if short in aliases else [short, *aliases]
    return doc


# --- summaries -------------------------------------------------------------------------------------

def _epoch(stamp: str) -> int:
    try:
        return api.parse_time(stamp) // 1_000_000_000
    except ValueError:
        return 0


def container_summary(rec, fields: dict, ports: list[tuple[str, str, int]],
                      attached: tuple[list[dict], dict[str, str]] = ([], {})) -> dict:
    """GET /containers/json's entry for a record (api.ContainerEngine.list), its `ps` fields and its
    (Mounts, {network: address}) from api.ContainerEngine.attachments."""
    mounts, networks = attached
    return {
        "Id": rec.id, "Names": ["/" + rec.name], "Image": rec.image, "ImageID": rec.image_id,
        "Command": json.loads(fields["Command"]), "Created": _epoch(rec.created),
        "Ports": [{"IP": ip, "PrivatePort": int(private.split("/")[0]), "PublicPort": public,
                   "Type": private.partition("/")[2] or "tcp"} for private, ip, public in ports],
        "Labels": rec.config.get("Labels") or {}, "State": rec.status, "Status": fields["Status"],
        "HostConfig": {"NetworkMode": rec.host_config.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": {name: {"IPAddress": ip} for name, ip in networks.items()}},
        "Mounts": mounts,
    }


def image_summaries(rows: list[dict]) -> list[dict]:
    """GET /images/json: one entry per image, its tags together (the engine gives one row per tag)."""
    by_id: dict[str, dict] = {}
    for row in rows:
        entry = by_id.setdefault(row["ID"], {
            "Id": row["ID"], "ParentId": "", "RepoTags": [], "RepoDigests": [], "Created": _epoch(row["Created"]),
            "Size": row["Size"], "SharedSize": -1, "VirtualSize": row["Size"], "Labels": {}, "Containers": -1})
        if row["Repository"] != "<none>":
            entry["RepoTags"].append(f"{row['Repository']}:{row['Tag']}")
    return list(by_id.values())
