"""The engine's public interface: what every front end calls (the `mydocker` CLI, the Docker Engine API).

In the manner of podman's pkg/domain/entities: one object per noun (containers, images, networks,
volumes, system), typed option records in, report records (or Docker's JSON documents) out. Input,
output and progress travel as a `Streams` record and callbacks the caller hands in, never as this
process's own fds or terminal, so an HTTP handler can pass a socket. Errors are mydocker.errors
(NotFound, Conflict, InvalidArgument, RuntimeFailure, NotSupported...): a front end maps them to exit
codes or HTTP statuses.

    api = open_engine(root, runroot)
    report = api.containers.run(RunOptions(image="busybox", command=["true"]), Streams(None, 1, 2))

A verb the engine does not have yet is declared here and raises NotSupported.

`mydocker run`, top-down: cli/run.py (flags -> RunOptions, Streams of its own fds) -> here
(ContainerEngine.run) -> engine/containers.ContainerService.run (image, rootfs, network, spec) ->
the runtime (create, start, runtime/foreground.run_foreground) -> the container's init.

A REST handler (the Docker Engine API) plugs in beside cli/: it turns a request into the same option
records, calls the same verbs on `open_engine(...)`, passes the hijacked connection's socket fd in
`Streams` (sig_proxy=False) and a callback writing JSON lines as `progress`, and maps the errors:
InvalidArgument 400, Forbidden 403, NotFound 404, Conflict 409, NotSupported 501, anything else 500.

Records in engine/options.py and engine/reports.py. Cheap to import (records only): every service behind
it is loaded by the first verb that needs it.
"""

from __future__ import annotations

import os
import time

from mydocker.engine.options import (BuildOptions, CommitOptions, ExecOptions,  # noqa: F401 - the interface's
                                     ListOptions, LogsOptions, NetworkCreateOptions, PullOptions, RemoveOptions,
                                     ResourceOptions, RunOptions, SecurityOptions, StopOptions, Streams, UpdateOptions)
from mydocker.engine.options import Healthcheck, Mount  # noqa: F401
from mydocker.engine.reports import NetworkListReport, PruneReport, PullReport, RunReport
from mydocker.errors import InvalidArgument, NotSupported
from mydocker.lazy import lazy_module

engine_filters = lazy_module("mydocker.engine.filters")
engine_labels = lazy_module("mydocker.engine.labels")
mounts = lazy_module("mydocker.engine.mounts")
health = lazy_module("mydocker.engine.health")
engine_logs = lazy_module("mydocker.engine.logs")
engine_engine = lazy_module("mydocker.engine.engine")
engine_rootless = lazy_module("mydocker.engine.rootless")
api = lazy_module("mydocker.runtime.api")
container_input = lazy_module("mydocker.engine.container_input")
engine_stats = lazy_module("mydocker.engine.stats")
engine_inspect = lazy_module("mydocker.engine.inspect")
distribution = lazy_module("mydocker.engine.distribution")
image_reference = lazy_module("mydocker.image.reference")
engine_build = lazy_module("mydocker.engine.build")
engine_events = lazy_module("mydocker.engine.events")
re = lazy_module("re")
diskusage = lazy_module("mydocker.engine.diskusage")
build_cache = lazy_module("mydocker.engine.build_cache")

DETACHED = -1  # exec's answer when the caller detached (its detach keys) and the process runs on (runtime.api's)

# --- helpers the front ends share ------------------------------------------------------------------


def parse_filters(values: list[str]) -> dict[str, list[str]]:
    """`ps -f KEY=VALUE` as typed, into ListOptions.filters (InvalidArgument for an unknown one)."""
    return engine_filters.parse_filters(values)


def parse_object_filters(values: list[str], keys: tuple[str, ...]) -> dict[str, list[str]]:
    """`images/network ls/volume ls -f KEY=VALUE` as typed into Docker's filter map (only `keys`)."""
    return engine_labels.parse_object_filters(values, keys)


def parse_labels(values: list[str], files: list[str] = ()) -> dict[str, str]:
    """`--label k=v` and `--label-file PATH` (KEY=VALUE lines) into a labels dict (InvalidArgument if bad)."""
    return engine_labels.parse_labels(values, files)


def parse_mount(text: str) -> Mount:
    """One `--mount type=bind,source=/a,target=/b,readonly` as typed into a Mount (InvalidArgument if bad)."""
    return mounts.parse_mount(text)


def parse_tmpfs(values: list[str]) -> dict[str, str]:
    """`--tmpfs /path[:opts]` values into RunOptions.tmpfs (path -> options)."""
    return mounts.parse_tmpfs(values)


def read_env_file(path: str) -> list[str]:
    """The KEY=VALUE (or KEY: from the caller's environment) lines of an --env-file, for RunOptions.env."""
    return engine_labels.read_kv_file(path, "env")


def healthcheck_from_flags(cmd: str | None = None, interval: str | None = None, timeout: str | None = None,
                          retries: int | None = None, start_period: str | None = None,
                          disabled: bool = False) -> Healthcheck | None:
    """`--health-cmd`, `--health-interval` (Go durations: 30s, 1m30s), `--health-timeout`, `--health-retries`,
    `--health-start-period`, `--no-healthcheck` into RunOptions.healthcheck (None: the image's)."""
    return health.from_flags(cmd, interval, timeout, retries, start_period, disabled)


def human_size(size: float, precision: int = 3) -> str:
    """Docker's sizes (go-units HumanSizeWithPrecision): "6.41MB"; `precision` 4 for `system df`."""
    return engine_inspect.human_size(size, precision)


def parse_time(text: str) -> int:
    """An RFC 3339 time in ns since the epoch (ValueError if it is not one)."""
    return engine_logs.parse_time(text)


# --- the interface ------------------------------------------------------------------------------


class ContainerEngine:
    """create, start, run, attach, wait, stop, kill, pause, restart, remove, rename, exec, logs, top,
    stats, inspect, list, prune, export, archive, commit, port."""

    def __init__(self, engine) -> None:
        self._engine = engine        # engine/engine.Engine: the services, built on first use

    @property
    def _service(self):
        return self._engine.containers

    def create(self, opts: RunOptions, progress=None) -> str:
        """A container made and recorded but not started; its id."""
        return self._service.create(opts, progress=progress)

    def run(self, opts: RunOptions, streams: Streams | None = None, progress=None) -> RunReport:
        """Create and start; attached to `streams` until it exits, or handed to the monitor with
        `opts.detach`. `progress(id, status, current, total)` hears about a pull of a missing image."""
        if opts.detach:
            return RunReport(self._service.run_detached(opts, progress=progress))
        return self._service.run(opts, _required(streams, "run"), progress=progress)

    def start(self, ref: str):
        return self._service.lifecycle.start(ref)

    def attach(self, ref: str, write, stdin: int | None = None, detach_keys: str | None = None) -> bool:
        """The container's output from now until its next exit (one not started yet: until it has
        run) to `write(stream, data)` ("stdout"/"stderr"); the bytes read from the fd `stdin` go to its
        input if it was created with OpenStdin (with StdinOnce, its input ends when `stdin` does).
        Reading `detach_keys` from `stdin` (Docker's --detach-keys; ctrl-p,ctrl-q if empty) ends the
        attach and leaves the container running: True then (InvalidArgument for bad keys)."""
        keys = container_input.parse_detach_keys(detach_keys)
        observation = self._service.observation
        rec = observation.find(ref)
        if stdin is None or not rec.config.get("OpenStdin"):  # Docker ignores stdin then, too
            observation.attach(rec.id, write)
            return False
        relays = []  # started once the output is followed: an echo of the first input is not missed
        # Docker's: once the client's input ends, so does the attach, unless that input was the container's
        # whole stdin (StdinOnce, no tty: its output to the end is still wanted, `echo hi | docker run -i`)
        ends_with_input = rec.config.get("Tty") or not rec.config.get("StdinOnce")

        def start_input() -> None:
            relays.append(container_input.start_relay(self._service.paths.runroot, rec.id, stdin, keys))

        def over() -> bool:
            return bool(relays) and (relays[0].detached() or (ends_with_input and relays[0].ended()))

        try:
            observation.attach(rec.id, write, stop=over, ready=start_input)
        finally:
            for relay in relays:
                relay.stop()
        return bool(relays) and relays[0].detached()

    def check_detach_keys(self, keys: str | None) -> None:
        """InvalidArgument unless `keys` are Docker's --detach-keys (a front end checks before it hijacks)."""
        container_input.parse_detach_keys(keys)

    def wait(self, ref: str, condition: str = "not-running") -> int:
        """Its exit code once it is not running; `condition` as Docker's: not-running, next-exit (the
        exit of the next run: a container created but not started yet waits for it), removed."""
        return self._service.lifecycle.wait(ref, condition)

    def stop(self, ref: str, opts: StopOptions | None = None):
        opts = opts or StopOptions()
        return self._service.lifecycle.stop(ref, opts.timeout, opts.signal)

    def kill(self, ref: str, signal: str = "KILL"):
        return self._service.lifecycle.kill(ref, signal)

    def check_signal(self, signal: str) -> int:
        """The signal's number, or InvalidArgument: one error for a command on many containers."""
        return api.parse_signal(signal)

    def pause(self, ref: str):
        """Freeze its processes (Conflict unless running); stop, kill and rm -f thaw it after signalling."""
        return self._service.lifecycle.pause(ref)

    def unpause(self, ref: str):
        return self._service.lifecycle.unpause(ref)

    def update(self, ref: str, opts: UpdateOptions):
        """`docker update`: new limits (into its cgroups too while it runs) and restart policy."""
        return self._service.lifecycle.update(ref, opts, self._service.rootless)

    def restart(self, ref: str, timeout: int | None = None):
        return self._service.lifecycle.restart(ref, timeout)

    def remove(self, ref: str, opts: RemoveOptions | None = None):
        opts = opts or RemoveOptions()
        return self._service.lifecycle.remove(ref, force=opts.force, volumes=opts.volumes)

    def rename(self, ref: str, new_name: str) -> None:
        self._service.lifecycle.rename(ref, new_name)

    def exec(self, ref: str, opts: ExecOptions, streams: Streams | None = None) -> int:
        """The command's exit code (0 with detach)."""
        return self._service.execs.exec(ref, opts, streams if opts.detach else _required(streams, "exec"))

    def exec_create(self, ref: str, opts: ExecOptions) -> str:
        """An exec instance in the running container (the Docker API's): its id. It lives in the
        engine's state, so any process may start, inspect or resize it."""
        return self._service.execs.create(ref, opts)

    def exec_start(self, exec_id: str, streams: Streams | None = None, write=None, detach: bool = False) -> int:
        """Run the exec instance attached to `streams` (stdin if it was created interactive; the tty's
        output to streams.stdout); without a tty its output goes to `write(stream, data)`. The exit code,
        recorded for exec_inspect before this returns (0 with detach)."""
        return self._service.execs.start(exec_id, streams if detach else _required(streams, "exec"), write, detach)

    def exec_inspect(self, exec_id: str) -> dict:
        """Docker's exec inspect document (Running, ExitCode, Pid, ProcessConfig, ContainerID)."""
        return self._service.execs.inspect(exec_id)

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        self._service.execs.resize(exec_id, height, width)

    def logs(self, ref: str, opts: LogsOptions, write, ready=None) -> None:
        """`write(stream, data)` gets each entry ("stdout"/"stderr"); with follow, until the container
        stops. `ready()` once the log has been read, before the first write: a front end answers then
        (a client that removes the container once it has the answer's head still gets every line)."""
        self._service.observation.logs(ref, opts, write, ready)

    def top(self, ref: str, ps_args: list[str]) -> tuple[str, list[str]]:
        return self._service.lifecycle.top(ref, ps_args)

    def stats(self, refs: list[str] | None = None, interval: float = 0.5) -> list:
        """One reading per running container (engine/stats.ContainerStats), CPU % over `interval`."""
        return engine_stats.sample(self._engine, refs, interval=interval)

    def stats_document(self, ref: str, previous: dict | None = None) -> dict:
        """One reading as Docker's stats JSON (engine/stats.docker_reading); `previous` becomes precpu_stats."""
        return engine_stats.docker_reading(self._engine, ref, previous)

    def changes(self, ref: str) -> list[dict]:
        """The container's filesystem changes against its image: Docker's [{"Path", "Kind"}] (0 C, 1 A, 2 D)."""
        return self._service.changes(ref)

    def inspect(self, ref: str) -> dict:
        return self._service.observation.inspect(ref, self._engine.networks)

    def brief(self, ref: str) -> dict:
        """inspect's Id, Name, Config and State only (NotFound as inspect): what a verb checks before
        it acts, without the network view, mounts and files the whole document reads (~1 ms)."""
        rec = self._service.observation.find(ref)
        return {"Id": rec.id, "Name": "/" + rec.name, "Config": rec.config, "State": engine_inspect.state_of(rec)}

    def list(self, opts: ListOptions | None = None) -> list:
        """Container records, newest first, as `ps` selects them."""
        return engine_filters.select(self._service.observation, opts or ListOptions())

    def summaries(self, records: list, no_trunc: bool = False, mounts: bool = True, sizes: bool = False,
                  attached: dict | None = None) -> list[dict]:
        """`ps --format`'s fields ({{.ID}}, {{.Names}}...) for records from `list` (`mounts`: fill
        {{.Mounts}} and {{.LocalVolumes}}, from the records; `sizes`: {{.Size}},
        which walks each container's writable layer). `attached`: what `attachments` gave for these
        records, when the caller has it already (it is not read twice)."""
        now = time.time()
        ports = engine_inspect.published_ports(self._engine.records.db)
        attached = self.attachments(records, mounts=mounts) if attached is None else attached
        measured = self.sizes(records) if sizes else {}
        return [engine_inspect.ps_fields(r, no_trunc=no_trunc, now=now,
                                         ports=engine_inspect.ports_text(ports.get(r.id, [])),
                                         networks=sorted(attached[r.id][1]), mounts=attached[r.id][0],
                                         size=measured.get(r.id))
                for r in records]

    def sizes(self, records: list) -> dict[str, tuple[int, int]]:
        """Container id -> (bytes in its writable layer, those plus its image's): Docker's SizeRw and
        SizeRootFs (`ps -s`)."""
        return diskusage.container_sizes(self._engine, records)

    def attachments(self, records: list, mounts: bool = True) -> dict[str, tuple[list[dict], dict[str, str]]]:
        """Container id -> (Docker's Mounts, {network: IPv4 address}) for records from `list`: what the
        container list shows of each (a stopped container: the network it was created on, no address)."""
        joined = engine_inspect.joined_networks(self._engine.records.db)
        service = self._service
        return {r.id: (engine_inspect.mounts_of(r, service.container_dir(r.id)) if mounts else [],
                       joined.get(r.id) or dict.fromkeys(engine_inspect.network_names(r, None), ""))
                for r in records}

    def prune(self) -> PruneReport:
        return PruneReport(self._service.lifecycle.prune())

    def export(self, ref: str, out) -> None:
        """The container's filesystem as a tar written to the binary file `out`."""
        self._service.export(ref, out)

    def archive_stat(self, ref: str, path: str):
        """engine/archive.PathStat of `path` inside the container (a symlink as itself); NotFound."""
        return self._service.archive_stat(ref, path)

    def archive_get(self, ref: str, path: str, out, on_stat=None):
        """`path` inside the container as a tar written to the binary file `out` (`docker cp` out);
        `on_stat(PathStat)` is called before the first byte and may return the file to write to.
        Resolved inside the container's root filesystem only (symlinks cannot lead out)."""
        return self._service.archive_get(ref, path, out, on_stat)

    def archive_put(self, ref: str, path: str, stream, no_overwrite_dir_non_dir: bool = False,
                    copy_owner: bool = False) -> None:
        """Extract the tar read from `stream` into the directory `path` inside the container (`docker cp`
        in); files owned by root unless `copy_owner` (the tar's uid/gid)."""
        self._service.archive_put(ref, path, stream, no_overwrite_dir_non_dir, copy_owner)

    def commit(self, ref: str, opts: CommitOptions) -> str:
        """A new image from the container's changes; its id."""
        return self._service.commit(ref, opts)

    def port(self, ref: str) -> list[tuple[str, str, int]]:
        """(private port/proto, host ip, host port) for each published port."""
        return self._engine.networks.published(self._service.observation.find(ref).id)

    def resize(self, ref: str, height: int, width: int) -> None:
        """The tty of a running container, from any process (an attached caller may also resize
        through Streams.resize); nothing for a container without a tty."""
        self._service.execs.resize_container(ref, height, width)


class ImageEngine:
    """list, inspect, history, tag, remove, prune, pull, push, build, save, load, import, login, logout."""

    def __init__(self, engine) -> None:
        self._engine = engine

    @property
    def _service(self):
        return self._engine.images

    def list(self, all_images: bool = False, reference: str | None = None, filters: dict | None = None) -> list[dict]:
        """Docker's image rows; `reference` keeps those of one repository[:tag]; `filters`: Docker's
        {"label": ["k", "k=v"]} (parse_object_filters)."""
        rows = self._service.list(all_images=all_images)
        if reference:
            ref = image_reference.parse(reference, default_tag="")
            rows = [r for r in rows
                    if r["Repository"] == ref.familiar_repository and (not ref.tag or r["Tag"] == ref.tag)]
        if (filters or {}).get("label"):
            rows = [r for r in rows if engine_labels.labels_match(self._service.labels_of(r["ID"]), filters["label"])]
        return rows

    def filtered(self, filters: dict[str, list[str]], all_images: bool = False) -> list[dict]:
        """Image rows kept by Docker's image filters: reference (a name, or a pattern with * ? [..] matched
        against repository and repository:tag), dangling (true/false), label (KEY or KEY=VALUE, all must
        match), before and since (created before or after that image). InvalidArgument for another filter
        or a bad value, NotFound for a before/since image that is not here."""
        unknown = set(filters) - set(IMAGE_FILTERS)
        if unknown:
            raise InvalidArgument(f"invalid filter {sorted(unknown)[0]!r}: use {', '.join(IMAGE_FILTERS)}")
        rows, seen = [], set()
        for ref in filters.get("reference") or [None]:
            pattern = ref is not None and any(c in ref for c in "*?[")
            for row in self.list(all_images=all_images, reference=None if pattern else ref,
                                 filters={"label": filters.get("label", [])}):
                key = (row["ID"], row["Repository"], row["Tag"])
                if key not in seen and (not pattern or _reference_matches(ref, row)):
                    seen.add(key)
                    rows.append(row)
        for value in filters.get("dangling", []):
            if value.lower() not in ("true", "1", "false", "0"):
                raise InvalidArgument(f"invalid filter 'dangling={value}': use true or false")
            dangling = value.lower() in ("true", "1")  # untagged (an intermediate one only with all)
            rows = [r for r in rows if (r["Repository"] == "<none>") == dangling]
        for key, newer in (("before", False), ("since", True)):
            for name in filters.get(key, []):
                mark = parse_time(self._service.inspect(name)["Created"])
                rows = [r for r in rows if (parse_time(r["Created"]) > mark) == newer
                        and parse_time(r["Created"]) != mark]
        return rows

    def inspect(self, name: str) -> dict:
        return self._service.inspect(name)

    def history(self, name: str) -> list[dict]:
        return self._service.history(name)

    def tag(self, source: str, target: str) -> str:
        return self._service.tag(source, target)

    def remove(self, name: str, force: bool = False) -> list[str]:
        return self._service.remove(name, force=force)

    def prune(self, all_images: bool = False) -> list[str]:
        return self._service.prune(all_images=all_images)

    def prune_build_cache(self) -> list[str]:
        """Forget the build cache's steps (`builder prune`); the keys forgotten."""
        return build_cache.BuildCache(self._engine.records, self._service.store).forget_all()

    def prune_report(self, all_images: bool = False) -> PruneReport:
        """prune's lines and the bytes of the blobs it deleted."""
        before = self._service.reclaimed
        lines = self._service.prune(all_images=all_images)
        return PruneReport(lines, self._service.reclaimed - before)

    def pull(self, name: str, opts: PullOptions | None = None, progress=None) -> PullReport:
        opts = opts or PullOptions()
        pulled = distribution.Distribution.of(self._engine).pull(name, platform=opts.platform,
                                                                 tls_verify=opts.tls_verify, progress=progress)
        return PullReport(self.canonical(name), getattr(pulled, "manifest_digest", ""))

    def canonical(self, name: str) -> str:
        """The full name of a reference (busybox -> docker.io/library/busybox:latest); InvalidArgument if bad."""
        return str(image_reference.parse(name))

    def push(self, name: str, tls_verify: bool | None = None, progress=None,
             credentials: tuple[str, str] | None = None) -> str:
        """The pushed manifest's digest. `credentials` (user, password): else those login stored."""
        return distribution.Distribution.of(self._engine).push(name, tls_verify=tls_verify, progress=progress,
                                                  credentials=credentials)

    def login(self, server: str, user: str, password: str, tls_verify: bool | None = None, store: bool = True) -> str:
        """Check the credentials; keep them for push and pull unless not `store`."""
        return distribution.Distribution.of(self._engine).login(server, user, password, tls_verify=tls_verify,
                                                                store=store)

    def logout(self, server: str) -> tuple[str, bool]:
        """(the registry's name, whether credentials were removed)."""
        return distribution.registry_domain(server), distribution.Distribution.of(self._engine).logout(server)

    def build(self, opts, out, streams: Streams) -> str:
        """BuildOptions in; the steps' lines to the text file `out`, RUN's output to
        `streams`; the image id."""
        for tag in opts.tags:
            self.canonical(tag)  # a bad name fails before anything runs
        return engine_build.Builder(self._engine, opts, out, streams).build()

    def save(self, names: list[str], out, fmt: str = "docker") -> None:
        self._service.save(names, out, fmt)

    def load(self, stream) -> list[str]:
        return self._service.load(stream)

    def import_(self, stream, name: str | None, changes: list[str], message: str = "") -> str:
        return self._service.import_tar(stream, name, changes, message)


class NetworkEngine:
    def __init__(self, engine) -> None:
        self._engine = engine

    @property
    def _service(self):
        return self._engine.networks

    def create(self, opts: NetworkCreateOptions):
        return self._service.create(opts.name, driver=opts.driver, subnet=opts.subnet, gateway=opts.gateway,
                                    internal=opts.internal, labels=opts.labels)

    def list(self, filters: dict | None = None) -> NetworkListReport:
        """Every network, those other hosts of the cluster created included (a warning if the
        cluster store cannot be reached); `filters`: Docker's label, name, driver, id."""
        report = NetworkListReport(*self._engine.list_networks())
        if filters:
            report.networks = [n for n in report.networks if engine_labels.labels_match(n.labels,
                                                                                        filters.get("label", []))
                               and _any_in(n.name, filters.get("name")) and _any_in(n.id, filters.get("id"))
                               and (not filters.get("driver") or n.driver in filters["driver"])]
        return report

    def inspect(self, ref: str) -> dict:
        return self._service.inspect(ref)

    def remove(self, ref: str) -> None:
        self._service.remove(ref)

    def prune(self, labels: list[str] | None = None) -> list[str]:
        """Remove user networks without containers (only those whose labels match Docker's
        `label=k`/`label=k=v` filters, if given); their names."""
        return self._service.prune(labels=labels)

    def connect(self, network: str, container: str, ip: str | None = None, aliases: list | None = None):
        return self._service.connect(network, container, ip=ip, aliases=aliases)

    def disconnect(self, network: str, container: str) -> None:
        self._service.disconnect(network, container)

    def reconcile(self) -> dict:
        """Rebuild the host's bridges and rules from the records; detach containers that are gone."""
        return self._engine.reconcile_networks()


class VolumeEngine:
    def __init__(self, engine) -> None:
        self._engine = engine

    @property
    def _service(self):
        return self._engine.volumes

    def create(self, name: str | None = None, labels: dict | None = None) -> str:
        return self._service.create(name, labels=labels)

    def list(self, filters: dict | None = None) -> list[dict]:
        """Docker's volume documents; `filters`: Docker's label, name, driver and dangling (true: used
        by no container; false: used by one)."""
        volumes = self._service.list()
        if filters:
            dangling = _dangling_filter(filters.get("dangling"))
            volumes = [v for v in volumes if engine_labels.labels_match(v.get("Labels"), filters.get("label", []))
                       and _any_in(v["Name"], filters.get("name"))
                       and (not filters.get("driver") or v["Driver"] in filters["driver"])
                       and (dangling is None or dangling == (not v["UsedBy"]))]
        return volumes

    def inspect(self, name: str) -> dict:
        return self._service.inspect(name)

    def remove(self, name: str, force: bool = False) -> None:
        self._service.remove(name, force=force)

    def prune(self, all_volumes: bool = False, labels: list[str] | None = None) -> list[str]:
        """Unused anonymous volumes (named ones too with `all_volumes`) whose labels match `labels`
        (Docker's label=k / label=k=v); their names."""
        return self._service.prune(all_volumes=all_volumes, labels=labels)


class SystemEngine:
    def __init__(self, engine) -> None:
        self._engine = engine

    def info(self) -> dict:
        """Docker's /info fields."""
        return self._engine.info()

    def version(self) -> dict:
        return engine_engine.version()

    def service_socket(self) -> str:
        """The API service's default socket: root's /run/mydocker/docker.sock (dockerd's is /run/docker.sock);
        an ordinary user's under its XDG_RUNTIME_DIR, served by the same engine as the user's CLI."""
        rootless = self._engine.rootless
        if rootless is not None:
            return engine_rootless.service_socket(rootless.uid)
        return os.path.join(engine_engine.DEFAULT_RUNROOT, "docker.sock")

    def events(self, since: int | None = None, until: int | None = None, filters: dict | None = None,
               write=None, follow: bool = True, ready=None, alive=None) -> None:
        """Docker's event documents to `write(doc)`: past ones from `since` (ns; none without it), then,
        with `follow`, new ones until `until` (ns) passes or `write` raises. Filters: type, container,
        event, image, label (InvalidArgument for another). `ready()` is called once they are checked;
        a follow ends when `alive()` turns false (a client that went away while nothing happened)."""
        for key in filters or {}:
            if key not in engine_events.FILTER_KEYS:
                raise InvalidArgument(f"invalid filter '{key}': events are filtered by "
                                      f"{', '.join(engine_events.FILTER_KEYS)}")
        if write is None:
            raise InvalidArgument("events need a `write` callback")
        if ready:
            ready()
        engine_events.read(self._engine.containers.paths.runroot, write, since, until, filters or {}, follow=follow,
                    alive=alive)

    def df(self) -> dict:
        """Disk usage (engine/diskusage.usage): image rows with their containers, the layers' size,
        (record, writable layer bytes) per container, volumes with Size and RefCount."""
        return diskusage.usage(self._engine)

    def prune(self, volumes: bool = False) -> dict[str, list[str]]:
        """Stopped containers, unused networks, dangling images (and unused volumes)."""
        out = {"containers": self._engine.containers.lifecycle.prune(), "networks": self._engine.networks.prune(),
               "images": self._engine.images.prune()}
        if volumes:
            out["volumes"] = self._engine.volumes.prune()
        return out


class EngineAPI:
    """The front ends' handle on one engine root."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.containers = ContainerEngine(engine)
        self.images = ImageEngine(engine)
        self.networks = NetworkEngine(engine)
        self.volumes = VolumeEngine(engine)
        self.system = SystemEngine(engine)

    def prepare(self) -> None:
        """What a front end's worker forked ahead of its request does while it waits: open the
        records database (a forked worker's first statement took 2-3 ms here) and have an
        attach-lock prewarm shell for a `create` to kick (spawning one there took 1.2 ms of the 2.6 ms
        a warm create takes): the front end's (park_prewarm), or else one of its own, parked. The
        container, image and network services are built and the containers table read once, too:
        0.3-0.7 ms of a freshly forked worker's first create otherwise."""
        engine = self._engine
        engine.records.get_container("")  # opened on first access; the table's pages read
        for service in ("containers", "images", "networks"):
            getattr(engine, service)  # built on first access
        api.prewarm_attach_lock(move=False)


IMAGE_FILTERS = ("reference", "dangling", "label", "before", "since")


def _reference_matches(pattern: str, row: dict) -> bool:
    """Docker's reference=PATTERN: a shell pattern (no * across a /) on repository:tag or repository."""
    if row["Repository"] == "<none>":
        return False
    regex = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else c if c in "[]!-" else re.escape(c)
                    for c in pattern).replace("[!", "[^")
    return any(re.fullmatch(regex, text) for text in (f"{row['Repository']}:{row['Tag']}", row["Repository"]))


def _any_in(value: str, wanted: list[str] | None) -> bool:
    """Docker's name=/id= filters: a substring of the name (a prefix of the id) matches."""
    return not wanted or any(w in value for w in wanted)


def _dangling_filter(values: list[str] | None) -> bool | None:
    """Docker's dangling=true|false|1|0 (None: not asked)."""
    if not values:
        return None
    if any(v not in ("true", "false", "1", "0") for v in values) or len(set(v in ("true", "1") for v in values)) > 1:
        raise InvalidArgument(f"invalid filter 'dangling={values[0]}': use dangling=true or dangling=false")
    return values[0] in ("true", "1")


def _required(streams: Streams | None, verb: str) -> Streams:
    if streams is None:  # the engine never falls back on this process's own fds
        raise InvalidArgument(f"an attached {verb} needs the caller's streams: pass a Streams record")
    return streams


# What the container verbs load lazily on first use: `docker run` (create, attach, start, wait),
# `docker ps`, exec, stop, rm and version through the API service load them in every worker otherwise
# (each connection is a new fork: ~30 modules for create, ~14 for start, ~13 for attach, ~25 for exec).
_PRELOAD = (
    "mydocker.engine.containers", "mydocker.engine.docker_config", "mydocker.engine.lifecycle",
    "mydocker.engine.filters", "mydocker.engine.inspect", "mydocker.engine.logs",
    "mydocker.engine.bundle_config", "mydocker.engine.events", "mydocker.engine.images", "mydocker.engine.names",
    "mydocker.engine.network_files", "mydocker.engine.network_schema", "mydocker.engine.network_store",
    "mydocker.engine.networks", "mydocker.engine.resources", "mydocker.engine.security", "mydocker.engine.units",
    "mydocker.engine.users", "mydocker.engine.volumes", "mydocker.engine.monitor_client",
    "mydocker.engine.container_input",
    "mydocker.image.reference", "mydocker.image.snapshot", "mydocker.image.store",
    "mydocker.linux.fs", "mydocker.linux.inotify", "mydocker.linux.syscalls",
    "mydocker.network.driver", "mydocker.network.etcfiles",
    "mydocker.runtime.api", "mydocker.runtime.caps", "mydocker.runtime.paths", "mydocker.runtime.prewarm",
    "mydocker.runtime.state_file",
    "mydocker.runtime.state_view", "fcntl",
    # docker exec (~10 ms of imports), stop, rm, version
    "mydocker.engine.container_exec", "mydocker.runtime.exec", "mydocker.runtime.foreground", "mydocker.runtime.kill",
    "mydocker.runtime.delete", "mydocker.runtime.seccomp_table", "mydocker.network.netns", "mydocker.engine.userns",
    "platform", "secrets",
)


# What a front end's own process runs on top (the CLI's fork server, mydocker/cli/forkserver.py): the
# runtime in-process for a foreground run, the default bridge and -p, a monitor's start for -d.
_PRELOAD_IN_PROCESS = (
    "mydocker.engine.engine", "mydocker.engine.database", "mydocker.engine.labels", "mydocker.engine.userns",
    "mydocker.engine.health", "mydocker.engine.network_endpoints", "mydocker.engine.network_firewall",
    "mydocker.runtime.create", "mydocker.runtime.start", "mydocker.runtime.delete", "mydocker.runtime.kill",
    "mydocker.runtime.stats", "mydocker.runtime.validate", "mydocker.runtime.schema", "mydocker.runtime.cgroups.v1",
    "mydocker.runtime.cgroups.v2", "mydocker.runtime.foreground", "mydocker.runtime.init", "mydocker.runtime.hooks",
    "mydocker.runtime.mountopts", "mydocker.runtime.seccomp",
    "mydocker.network.bridge", "mydocker.network.firewall", "mydocker.network.ipam", "mydocker.network.links",
    "mydocker.network.netlink", "mydocker.network.netns", "mydocker.network.ports",
    "ipaddress", "shutil", "subprocess")


def preload(in_process: bool = False) -> None:
    """Import the container services' modules (no file, database or thread is opened): a front end
    that forks a worker per request (the API service) pays for them once, before its forks;
    `in_process`: also what the engine runs in the front end's own process (a foreground run)."""
    import importlib
    for name in (*_PRELOAD, *(_PRELOAD_IN_PROCESS if in_process else ())):
        importlib.import_module(name)


def park_prewarm() -> None:
    """Spawn this process's attach-lock prewarm shell, parked (runtime/prewarm.py): a front end that
    forks its workers (the API service) does it once, and every worker's `create` kicks the same
    shell (a spawn per worker cost 1-2 ms of CPU per connection). It ends once this process and its
    workers have gone."""
    api.prewarm_attach_lock(move=False)


def open_engine(root: str | None = None, runroot: str | None = None, cluster_store: str = "") -> EngineAPI:
    """The engine at `root` (state) and `runroot` (runtime state), each by default root's or, for an
    ordinary user, its own (engine/rootless.py: the process joins the user's namespaces here, so call
    it before starting a thread). `cluster_store`: etcd://host:port of overlay networks, seen by the
    processes the engine starts (monitor, overlay agent) too."""
    if cluster_store:
        os.environ["MYDOCKER_CLUSTER_STORE"] = cluster_store
    return EngineAPI(engine_engine.Engine(root=root or None, runroot=runroot or None))
