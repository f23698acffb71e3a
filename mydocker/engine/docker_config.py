"""A container's Docker Config and HostConfig, made from the run/create options and recorded at create
(inspect shows them, `commit` makes an image of the Config, the API returns them).

Apart from engine/lifecycle.py, which `run` does not need: `run` and `create` load this alone.
"""

from __future__ import annotations

from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

network_ports = lazy_module("mydocker.network.ports")
bundle_config = lazy_module("mydocker.engine.bundle_config")
health = lazy_module("mydocker.engine.health")
logs = lazy_module("mydocker.engine.logs")


def parse_restart(value: str | None) -> dict:
    name, _, count = (value or "no").partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy {value!r}: use no, always, unless-stopped or on-failure[:N]")
    if count and (name != "on-failure" or not count.isdigit()):
        raise InvalidArgument(f"invalid restart policy {value!r}: only on-failure takes a count, e.g. on-failure:3")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def parse_log_opts(values: list[str]) -> dict:
    out = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or key not in ("max-size", "max-file"):
            raise InvalidArgument(f"invalid --log-opt {item!r}: json-file takes max-size=SIZE and max-file=N")
        if key == "max-file" and (not value.isdigit() or int(value) < 1):
            raise InvalidArgument(f"invalid --log-opt {item!r}: max-file needs a whole number of at least 1")
        if key == "max-size":
            logs.parse_size(value)
        out[key] = value
    return out


def host_config(opts) -> dict:
    policy = parse_restart(opts.restart)
    if opts.remove and policy["Name"] != "no":
        raise InvalidArgument("conflicting options: --restart and --rm; choose one")
    out = {"AutoRemove": opts.remove, "RestartPolicy": policy, "Binds": list(opts.volumes),
           "LogConfig": {"Type": "json-file", "Config": parse_log_opts(opts.log_opts)},
           "NetworkMode": getattr(opts, "network", None) or "bridge"}
    out["PublishAllPorts"] = bool(getattr(opts, "publish_all", False))
    for key, field in (("ExtraHosts", "extra_hosts"), ("Dns", "dns"), ("DnsSearch", "dns_search"),
                       ("DnsOptions", "dns_options")):
        out[key] = list(getattr(opts, field, None) or [])
    if getattr(opts, "mounts", None):  # omitted when empty, as Docker's omitempty
        out["Mounts"] = [_mount_doc(m) for m in opts.mounts]
    if getattr(opts, "tmpfs", None):
        out["Tmpfs"] = dict(opts.tmpfs)
    return out


def _mount_doc(m) -> dict:
    """An options.Mount as Docker's HostConfig.Mounts entry."""
    doc = {"Type": m.type, "Source": m.source, "Target": m.target, "ReadOnly": m.readonly}
    if m.type == "bind" and m.bind_propagation:
        doc["BindOptions"] = {"Propagation": m.bind_propagation}
    if m.type == "volume" and (m.volume_nocopy or m.volume_labels):
        doc["VolumeOptions"] = {"NoCopy": m.volume_nocopy, "Labels": dict(m.volume_labels) or None}
    if m.type == "tmpfs" and (m.tmpfs_size is not None or m.tmpfs_mode is not None):
        doc["TmpfsOptions"] = {k: v for k, v in (("SizeBytes", m.tmpfs_size), ("Mode", m.tmpfs_mode)) if v is not None}
    return doc


def exposed_ports(image_config: dict, opts) -> dict[str, dict]:
    """Config.ExposedPorts: the image's EXPOSE and `--expose`, as {"80/tcp": {}}."""
    ports = {}
    for spec in [*((image_config.get("config") or {}).get("ExposedPorts") or {}),
                 *(getattr(opts, "expose", None) or [])]:
        for port, proto in network_ports.parse_exposed(spec):
            ports[f"{port}/{proto}"] = {}
    return ports


def docker_config(image_config: dict, opts, spec: dict) -> dict:
    cfg = image_config.get("config") or {}
    entrypoint = [opts.entrypoint] if opts.entrypoint else (cfg.get("Entrypoint") or None)
    cmd = opts.command or (None if opts.entrypoint else cfg.get("Cmd"))
    out = {"Hostname": spec.get("hostname", ""), "Domainname": "", "User": opts.user or cfg.get("User") or "",
           "AttachStdin": opts.interactive and not opts.detach, "AttachStdout": not opts.detach,
           "AttachStderr": not opts.detach, "Tty": opts.tty, "OpenStdin": opts.interactive,
           "StdinOnce": opts.interactive and (not opts.detach if opts.stdin_once is None else opts.stdin_once),
           "Env": _config_env(cfg, opts), "Cmd": cmd,
           "Image": opts.image, "Volumes": cfg.get("Volumes"),
           "WorkingDir": opts.workdir or cfg.get("WorkingDir") or "",
           "Entrypoint": entrypoint,
           "Labels": {**(cfg.get("Labels") or {}), **(getattr(opts, "labels", None) or {})}}
    if cfg.get("StopSignal"):
        out["StopSignal"] = cfg["StopSignal"]
    exposed = exposed_ports(image_config, opts)
    if exposed:
        out["ExposedPorts"] = exposed
    if getattr(opts, "healthcheck", None) or cfg.get("Healthcheck"):
        healthcheck = health.config_healthcheck(image_config, opts.healthcheck)
        if healthcheck:
            out["Healthcheck"] = healthcheck
    return out


def _config_env(image_cfg: dict, opts) -> list[str]:
    """Docker's Config.Env: the image's and -e's, not what the engine adds when it runs (HOSTNAME,
    HOME, TERM): `commit` makes an image of it."""
    env = list(image_cfg.get("Env") or [])
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, bundle_config.DEFAULT_PATH)
    return bundle_config.merge_env(env, bundle_config.validate_env(opts.env))
