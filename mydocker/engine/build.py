"""`build`: run a Dockerfile against a context directory and tag the resulting image.

Each instruction makes one image from its parent, as Docker's classic builder does: RUN runs a
container of the parent image (the engine's own container machinery, foreground, default network)
and commits its upper dir; COPY/ADD and a WORKDIR that has to create its directory copy into an
overlay of the parent and commit that; the other instructions change only the config and are marked
`empty_layer` in the history. The cache (build_cache.py) maps (parent image, instruction, file
checksums, build args) to the image the step made before; a hit prints Docker's " ---> Using cache".
The context directory and its .dockerignore are build_context.py's; COPY/ADD's writing into a step's
root filesystem is build_copy.py's.
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import sys

from mydocker.engine.build_cache import BuildCache, step_key
from mydocker.engine.build_context import BuildContext, IgnoreRules, glob_sources, sources_checksum
from mydocker.engine.images import empty_config, now
from mydocker.engine.options import BuildOptions, RunOptions
from mydocker.errors import InvalidArgument, MyDockerError, NotFound
from mydocker.image.dockerfile import DockerfileError, Instruction, expand, parse
from mydocker.image.store import MEDIA_LAYER
from mydocker.lazy import lazy_module
from mydocker.recordclass import factory, record

build_copy = lazy_module("mydocker.engine.build_copy")  # only a step that copies and misses the cache
contextlib = lazy_module("contextlib")
fs = lazy_module("mydocker.linux.fs")
health = lazy_module("mydocker.engine.health")
reference = lazy_module("mydocker.image.reference")
runtime = lazy_module("mydocker.runtime.api")
sc = lazy_module("mydocker.linux.syscalls")
snapshot = lazy_module("mydocker.image.snapshot")
tempfile = lazy_module("tempfile")
users = lazy_module("mydocker.engine.users")

# build args every Dockerfile may use without declaring them; never part of the image or the cache key
PREDEFINED = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"})
DEFAULT_SHELL = ["/bin/sh", "-c"]


class BuildFailed(MyDockerError):
    """A step of the build failed; Docker's build exits 1."""

    exit_code = 1


@record
class _Stage:
    manifest: str | None   # the current image (None: scratch with nothing done yet)
    config: dict           # its OCI image config
    args: dict             # ARGs declared in this stage -> value
    shell: list[str] = factory(lambda: list(DEFAULT_SHELL))
    cmd_set: bool = False  # a CMD of this Dockerfile survives a later ENTRYPOINT


def _env_dict(config: dict) -> dict[str, str]:
    return dict(e.partition("=")[::2] for e in config.get("config", {}).get("Env") or [])


class Builder:
    def __init__(self, engine, opts: BuildOptions, out, streams) -> None:
        """`out`: a text file for the steps' lines; `streams` (api.Streams): RUN's output."""
        self.engine = engine
        self.images = engine.images
        self.opts = opts
        self.out = out
        self.streams = streams
        self.cache = BuildCache(engine.records, self.images.store, enabled=not opts.no_cache)
        self.build_args = self._parse_build_args(opts.build_args)
        self.used_args: set[str] = set()
        self.context = BuildContext.open(opts.context, opts.dockerfile, opts.stdin, self.images.store.temp_dir)

    @staticmethod
    def _parse_build_args(values: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for value in values:
            key, eq, val = value.partition("=")
            if not key:
                raise InvalidArgument(f"--build-arg {value!r}: give NAME=value")
            out[key] = val if eq else os.environ.get(key)
        return out

    def say(self, text: str) -> None:
        if not self.opts.quiet:
            self.out.write(text + "\n")
            self.out.flush()

    # the whole build

    def build(self) -> str:
        """Build; return the final image id (config digest)."""
        try:
            return self._build()
        finally:
            self.context.close()

    def _build(self) -> str:
        dockerfile = parse(self.context.read_dockerfile(self.opts.dockerfile))
        meta, stages = dockerfile.stages()
        global_args: dict[str, str] = {}
        for ins in meta:
            for name, default in ins.pairs:
                value = self.build_args.get(name, None) if name in self.build_args else None
                if value is None and default is not None:
                    value = expand(default, global_args, dockerfile.escape, ins.line)
                if value is not None:
                    global_args[name] = value
                if name in self.build_args:
                    self.used_args.add(name)
        total = sum(len(s) for s in stages) + len(meta)
        step = len(meta)
        for i, ins in enumerate(meta):
            self.say(f"Step {i + 1}/{total} : {ins.original}")
        named: dict[str, str] = {}
        manifest = None
        for index, instructions in enumerate(stages):
            stage = None
            for ins in instructions:
                step += 1
                self.say(f"Step {step}/{total} : {ins.original}")
                try:
                    if ins.cmd == "FROM":
                        stage = self._from(ins, global_args, named, dockerfile.escape)
                    else:
                        self._step(stage, ins, dockerfile.escape, global_args, named)
                except DockerfileError:
                    raise
                except BuildFailed:
                    raise
                except MyDockerError as e:
                    raise BuildFailed(f"Dockerfile line {ins.line}: {ins.cmd}: {e}") from None
                if stage.manifest:
                    self.say(f" ---> {self._id(stage.manifest)[7:19]}")
            if index == len(stages) - 1 and self.opts.labels:  # build --label: a LABEL step ending the last stage
                self._step(stage, _label_instruction(self.opts.labels), dockerfile.escape, global_args, named)
            if stage.manifest is None:  # FROM scratch and nothing else: an empty image
                stage.manifest = self._save(stage, None, "")
            manifest = stage.manifest
            name = instructions[0].flags.get("as")
            named[name or str(index)] = manifest
            named[str(index)] = manifest
        unused = sorted(set(self.build_args) - self.used_args - PREDEFINED)
        if unused:
            print(f"[Warning] One or more build-args {unused} were not consumed", file=sys.stderr)
        image_id = self._id(manifest)
        for tag in self.opts.tags:
            self.images.tag(manifest, tag)
        self.say(f"Successfully built {image_id[7:19]}")
        for tag in self.opts.tags:
            self.say(f"Successfully tagged {reference.parse(tag).familiar}")
        return image_id

    def _id(self, manifest: str) -> str:
        return self.images.store.read_json(manifest)["config"]["digest"]

    # FROM

    def _from(self, ins: Instruction, global_args: dict, named: dict, escape: str) -> _Stage:
        name = expand(ins.args[0], global_args, escape, ins.line)
        if name.lower() in named:
            manifest = named[name.lower()]
        elif name == "scratch":
            return _Stage(None, empty_config(), {})
        else:
            try:
                manifest = self.images.get(name).manifest_digest
            except MyDockerError as e:
                raise DockerfileError(ins.line, f"FROM {name}: {e}") from None
        _m, config, _dirs = self.images.store.image_layers(manifest)
        return _Stage(manifest, config, {})

    # one instruction

    def _vars(self, stage: _Stage) -> dict[str, str]:
        """What $VAR sees: the stage's ARGs, overridden by ENV."""
        return {**stage.args, **_env_dict(stage.config)}

    def _step(self, stage: _Stage, ins: Instruction, escape: str, global_args: dict, named: dict) -> None:
        cfg = stage.config.setdefault("config", {})
        variables = self._vars(stage)

        def x(word: str) -> str:
            return expand(word, variables, escape, ins.line)

        if ins.cmd == "ARG":
            for name, default in ins.pairs:
                if name in self.build_args and self.build_args[name] is not None:
                    value = self.build_args[name]
                    self.used_args.add(name)
                elif default is not None:
                    value = x(default)
                else:
                    value = global_args.get(name)
                if value is not None:
                    stage.args[name] = value
                    variables[name] = variables.get(name, value)
            self._meta(stage, ins, None)
            return
        if ins.cmd == "RUN":
            self._run(stage, ins)
            return
        if ins.cmd in ("COPY", "ADD"):
            self._copy(stage, ins, x, named)
            return
        if ins.cmd == "WORKDIR":
            path = x(ins.args[0])
            path = os.path.normpath(os.path.join(cfg.get("WorkingDir") or "/", path))
            cfg["WorkingDir"] = path
            self._workdir(stage, ins, path)
            return
        if ins.cmd == "ENV":
            env = _env_dict(stage.config)
            for name, value in ins.pairs:
                env[x(name)] = x(value)
                variables = {**stage.args, **env}
            cfg["Env"] = [f"{k}={v}" for k, v in env.items()]
        elif ins.cmd == "LABEL":
            labels = cfg.get("Labels") or {}
            for name, value in ins.pairs:
                labels[x(name)] = x(value)
            cfg["Labels"] = labels
        elif ins.cmd in ("CMD", "ENTRYPOINT"):
            value = ins.args if ins.json else [*stage.shell, *ins.args]
            cfg["Cmd" if ins.cmd == "CMD" else "Entrypoint"] = value
            if ins.cmd == "ENTRYPOINT" and not stage.cmd_set:
                cfg.pop("Cmd", None)  # a new entrypoint resets an inherited CMD
            if ins.cmd == "CMD":
                stage.cmd_set = True
        elif ins.cmd == "SHELL":
            stage.shell = list(ins.args)
            cfg["Shell"] = list(ins.args)
        elif ins.cmd == "USER":
            cfg["User"] = x(ins.args[0])
        elif ins.cmd == "STOPSIGNAL":
            cfg["StopSignal"] = x(ins.args[0])
        elif ins.cmd == "EXPOSE":
            ports = cfg.get("ExposedPorts") or {}
            for word in ins.args:
                port = x(word)
                if not re.match(r"^\d+(-\d+)?(/(tcp|udp|sctp))?$", port):
                    raise DockerfileError(ins.line, f"EXPOSE {port!r} is not a port: write PORT[/tcp|udp]")
                ports[port if "/" in port else f"{port}/tcp"] = {}
            cfg["ExposedPorts"] = ports
        elif ins.cmd == "VOLUME":
            volumes = cfg.get("Volumes") or {}
            for word in ins.args:
                path = x(word)
                if not path:
                    raise DockerfileError(ins.line, "VOLUME paths cannot be empty")
                volumes[path] = {}
            cfg["Volumes"] = volumes
        elif ins.cmd == "HEALTHCHECK":
            cfg["Healthcheck"] = _healthcheck(ins)
        elif ins.cmd == "MAINTAINER":
            stage.config["author"] = x(ins.args[0])
        self._meta(stage, ins, None)

    # images of steps

    def _key(self, stage: _Stage, ins: Instruction, extra: object = None) -> str:
        return step_key(stage.manifest, ins.original, stage.config.get("config", {}), extra)

    def _from_cache(self, stage: _Stage, key: str) -> bool:
        """Take the step's image from the cache if it is there (Docker's " ---> Using cache")."""
        cached = self.cache.lookup(key)
        if not cached:
            return False
        self.say(" ---> Using cache")
        stage.manifest = cached
        _m, stage.config, _d = self.images.store.image_layers(cached)
        return True

    def _meta(self, stage: _Stage, ins: Instruction, extra: object) -> None:
        """A config-only step: a new image with an empty-layer history entry."""
        key = self._key(stage, ins, extra)
        if self._from_cache(stage, key):
            return
        stage.manifest = self._save(stage, None, f"/bin/sh -c #(nop)  {ins.original}")
        self.cache.remember(key, stage.manifest)

    def _save(self, stage: _Stage, layer: tuple[str, int] | None, created_by: str) -> str:
        """Store stage.config (+ a layer) as a new untagged image on top of stage.manifest."""
        config = stage.config
        created = now()
        config["created"] = created
        entry = {"created": created, "created_by": created_by}
        if layer:
            config["rootfs"]["diff_ids"].append(layer[0])
        else:
            entry["empty_layer"] = True
        config.setdefault("history", []).append(entry)
        layers = list(self.images.store.read_json(stage.manifest)["layers"]) if stage.manifest else []
        if layer:
            layers.append({"mediaType": MEDIA_LAYER, "digest": layer[0], "size": layer[1]})
        digest, _size = self.images.store.put_image(config, layers)
        self.images.register(digest, [], created)
        stage.config = copy.deepcopy(config)
        return digest

    def _commit_dir(self, stage: _Stage, upper: str, created_by: str) -> str:
        return self._save(stage, self.images.write_upper_layer(upper), created_by)

    # RUN

    def _run_env(self, stage: _Stage) -> list[str]:
        """Build args visible to RUN (declared ones, and the predefined proxies), not kept in the image."""
        env = _env_dict(stage.config)
        out = [f"{k}={v}" for k, v in stage.args.items() if k not in env]
        for name in PREDEFINED:
            if self.build_args.get(name) is not None and name not in stage.args:
                out.append(f"{name}={self.build_args[name]}")
                self.used_args.add(name)
        return out

    def _run(self, stage: _Stage, ins: Instruction) -> None:
        argv = list(ins.args) if ins.json else [*stage.shell, ins.args[0]]
        # declared ARGs change what RUN does, so they are in its cache key; proxies are not
        declared = sorted((k, v) for k, v in stage.args.items())
        key = self._key(stage, ins, declared)
        if self._from_cache(stage, key):
            return
        if stage.manifest is None:
            raise DockerfileError(ins.line, "RUN in an empty image (FROM scratch): there is no shell to run; "
                                  "COPY a program in first or start FROM an image")
        name = "mydocker-build-" + os.urandom(6).hex()
        opts = RunOptions(image=self._id(stage.manifest), command=argv[1:], entrypoint=argv[0], name=name,
                          env=self._run_env(stage), remove=False, network=self.opts.network)
        containers = self.engine.containers
        self.say(f" ---> Running in {name[15:]}")
        report = None
        try:
            report = containers.run(opts, self.streams)
            directory = containers.container_dir(report.id)
            if report.exit_code != 0:
                shown = json.dumps(argv) if ins.json else " ".join(argv)
                raise BuildFailed(f"Dockerfile line {ins.line}: the command {shown!r} returned a non-zero code: "
                                  f"{report.exit_code}: fix the command (its output is above) and build again")
            if snapshot.driver_of(directory) == "vfs":
                raise BuildFailed("build needs the overlay storage driver to record RUN's changes: "
                                  "use a host filesystem that supports overlay")
            stage.manifest = self._commit_dir(stage, snapshot.writable_dir(directory),
                                              f"/bin/sh -c {ins.args[0]}" if not ins.json
                                              else f"/bin/sh -c #(nop)  RUN {json.dumps(ins.args)}")
        finally:
            self._remove_container(report.id if report else name)
        self.say(f"Removing intermediate container {name[15:]}")
        self.cache.remember(key, stage.manifest)

    def _remove_container(self, ref: str) -> None:
        """By id once run reported it; by name when run failed before it could (it may have left it)."""
        try:
            record = self.engine.records.find_container(ref)
        except NotFound:
            return  # run() removed what it made when it failed to create
        self.engine.containers.teardown(record.id, remove=True)

    # a writable overlay of the current image, for COPY/ADD/WORKDIR

    def _overlay(self, stage: _Stage):
        @contextlib.contextmanager
        def view():
            lowers = self.images.layer_dirs(stage.manifest) if stage.manifest else []
            directory = self._scratch_dir("step-")
            try:
                rootfs = snapshot.prepare(lowers, directory)
                if snapshot.driver_of(directory) == "vfs":
                    raise BuildFailed("build needs the overlay storage driver: use a host filesystem "
                                      "that supports overlay")
                yield rootfs, os.path.join(directory, "upper")
            finally:
                snapshot.release(directory)
                fs.remove_tree(directory)
        return view()

    def _source_view(self, ref: str, named: dict):
        """A read-only view of a stage's or an image's root filesystem, for COPY --from."""
        @contextlib.contextmanager
        def view():
            manifest = named.get(ref.lower()) or self.images.get(ref).manifest_digest
            lowers = self.images.layer_dirs(manifest)
            target = self._scratch_dir("from-")
            try:
                if lowers:
                    snapshot.mount_overlay(lowers, None, None, target)
                yield target
            finally:
                if lowers:
                    sc.umount2(target, sc.MNT_DETACH)
                os.rmdir(target)
        return view()

    def _scratch_dir(self, prefix: str) -> str:
        """A new directory under <root>/build for one step's mounts."""
        base = os.path.join(self.engine.root, "build")
        os.makedirs(base, exist_ok=True)
        return tempfile.mkdtemp(prefix=prefix, dir=base)

    def _workdir(self, stage: _Stage, ins: Instruction, path: str) -> None:
        """WORKDIR makes its directory when the image lacks it: then it is a layer."""
        if stage.manifest and self._exists(stage.manifest, path):
            self._meta(stage, ins, None)
            return
        key = self._key(stage, ins, "mkdir")
        if self._from_cache(stage, key):
            return
        with self._overlay(stage) as (rootfs, upper):
            os.makedirs(runtime.secure_join(rootfs, path), mode=0o755, exist_ok=True)
            stage.manifest = self._commit_dir(stage, upper, f"/bin/sh -c #(nop) WORKDIR {path}")
        self.cache.remember(key, stage.manifest)

    def _exists(self, manifest: str, path: str) -> bool:
        """Whether `path` is a directory in the image (looked up in the unpacked layers, top down)."""
        parts = [p for p in path.split("/") if p]
        for layer in reversed(self.images.layer_dirs(manifest)):
            candidate = os.path.join(layer, *parts)
            try:
                st = os.lstat(candidate)
            except OSError:
                continue
            return stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)
        return False

    # COPY / ADD

    def _copy(self, stage: _Stage, ins: Instruction, x, named: dict) -> None:
        words = [x(w) for w in ins.args]
        sources, dest = words[:-1], words[-1]
        cfg = stage.config.get("config", {})
        workdir = cfg.get("WorkingDir") or "/"
        dest_is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
        dest = os.path.normpath(os.path.join(workdir, dest))
        chown = x(ins.flags["chown"]) if "chown" in ins.flags else None
        chmod = ins.flags.get("chmod")
        if chmod is not None and not re.match(r"^[0-7]{3,4}$", chmod):
            raise DockerfileError(ins.line, f"--chmod={chmod}: give an octal mode such as 0755")
        for s in sources:
            if re.match(r"^[a-z]+://", s):
                raise DockerfileError(ins.line, f"{ins.cmd} from a URL ({s}) is not supported: download it "
                                      "into the build context and copy it from there")
        from_ref = ins.flags.get("from")
        if from_ref:
            with self._source_view(x(from_ref), named) as root:
                self._copy_from(stage, ins, root, sources, dest, dest_is_dir, chown, chmod, ignore=None)
        else:
            self._copy_from(stage, ins, self.context.root, sources, dest, dest_is_dir, chown, chmod,
                            ignore=self.context.ignore)

    def _copy_from(self, stage: _Stage, ins: Instruction, root: str, sources: list[str], dest: str,
                   dest_is_dir: bool, chown: str | None, chmod: str | None, ignore: IgnoreRules | None) -> None:
        matches: list[str] = []
        for pattern in sources:
            found = glob_sources(root, pattern, ignore)
            if not found:
                raise DockerfileError(ins.line, f"{ins.cmd} {pattern}: no such file or directory in the build "
                                      "context (or it is excluded by .dockerignore)")
            matches += found
        if len(matches) > 1 and not dest_is_dir:
            raise DockerfileError(ins.line, f"{ins.cmd} with more than one source needs a directory destination "
                                  "ending with /")
        digest = sources_checksum(root, matches, ignore)
        key = self._key(stage, ins, [digest, chown, chmod])
        if self._from_cache(stage, key):
            return
        with self._overlay(stage) as (rootfs, upper):
            owner = None
            if chown:
                user = users.resolve_user(rootfs, chown)
                owner = (user.uid, user.gid)
            build_copy.copy_sources(rootfs, root, matches, dest, dest_is_dir, owner, chmod, ignore,
                                    extract=ins.cmd == "ADD")
            stage.manifest = self._commit_dir(stage, upper, f"/bin/sh -c #(nop) {ins.cmd} "
                                              f"{'dir' if len(matches) > 1 else 'file'}:{digest} in {dest}")
        self.cache.remember(key, stage.manifest)


# instructions' details


def _healthcheck(ins: Instruction) -> dict:
    """HEALTHCHECK's image config: {"Test": [...], "Interval": ns, ...} (zero values left out, as Docker)."""
    out: dict = {"Test": list(ins.args)}
    try:
        for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                          ("start-interval", "StartInterval")):
            if ins.flags.get(flag):
                out[key] = health.parse_duration(ins.flags[flag], f"--{flag}")
    except InvalidArgument as e:
        raise DockerfileError(ins.line, f"HEALTHCHECK: {e}") from None
    if ins.flags.get("retries"):
        if not ins.flags["retries"].isdigit():
            raise DockerfileError(ins.line, f"HEALTHCHECK --retries={ins.flags['retries']}: give a whole number")
        out["Retries"] = int(ins.flags["retries"])
    return out


def _label_instruction(labels: dict[str, str]) -> Instruction:
    """`build --label k=v` as the LABEL instruction Docker's builder appends (quoted: no expansion)."""
    def quoted(word: str) -> str:  # backslash, double quote and dollar escaped: taken literally, as Docker
        return '"' + "".join("\\" + c if c in '\\"$' else c for c in word) + '"'

    text = "LABEL " + " ".join(f"{quoted(k)}={quoted(v)}" for k, v in labels.items())
    return parse(f"FROM scratch\n{text}\n").instructions[-1]
