"""`build`: run a Dockerfile against a context directory and tag the resulting image.

Each instruction makes one image from its parent, as Docker's classic builder does: RUN runs a
container of the parent image (the engine's own container machinery, foreground, default network)
and commits its upper dir; COPY/ADD and a WORKDIR that has to create its directory copy into an
overlay of the parent and commit that; the other instructions change only the config and are marked
`empty_layer` in the history. The cache maps (parent image, instruction, file checksums, build args)
to the image the step made before; a hit prints Docker's " ---> Using cache".
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import os
import re
import shutil
import stat
import sys

from mydocker.engine.images import now
from mydocker.engine.options import BuildOptions
from mydocker.errors import InvalidArgument, MyDockerError, NotFound
from mydocker.image.dockerfile import Dockerfile, DockerfileError, Instruction, expand, parse
from mydocker.record import factory, record

_SCHEMA = "CREATE TABLE IF NOT EXISTS build_cache (key TEXT PRIMARY KEY, manifest TEXT NOT NULL)"
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


def _scratch_config() -> dict:
    return {"architecture": "amd64" if os.uname().machine == "x86_64" else os.uname().machine,
            "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}, "history": []}


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
        self.db = engine.records.db
        self.db.execute(_SCHEMA)
        self.build_args = self._parse_build_args(opts.build_args)
        self.used_args: set[str] = set()
        self.scratch: str | None = None     # `build -`: the context made from stdin, removed after the build
        self.dockerfile_text = opts.stdin.decode("utf-8", "surrogateescape") if opts.dockerfile == "-" else None
        if opts.context == "-":
            self.context = self._stdin_context(opts.stdin or b"")
        else:
            self.context = os.path.abspath(opts.context)
        if not os.path.isdir(self.context):
            raise NotFound(f"the build context {opts.context} is not a directory: give the directory to build from")
        self.ignore = _read_dockerignore(self.context)

    @staticmethod
    def _parse_build_args(values: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for value in values:
            key, eq, val = value.partition("=")
            if not key:
                raise InvalidArgument(f"--build-arg {value!r}: give NAME=value")
            out[key] = val if eq else os.environ.get(key)
        return out

    def _stdin_context(self, data: bytes) -> str:
        """`build -`: a tar (plain or compressed) on stdin is the context; anything else is the
        Dockerfile, with an empty context (Docker's manner)."""
        from mydocker.linux.fs import remove_tree
        if self.opts.dockerfile == "-":
            raise InvalidArgument("build -f - -: stdin cannot be both the context and the Dockerfile; give a context")
        self.scratch = self.images.store.temp_dir(".build-stdin-")
        context = os.path.join(self.scratch, "context")
        try:
            os.mkdir(context, 0o700)
            path = os.path.join(self.scratch, "context.tar")
            with open(path, "wb") as f:
                f.write(data)
            if _is_archive(path):  # as ADD tells a tar (plain or compressed) from a file
                _extract(path, context)
            else:
                self.dockerfile_text = data.decode("utf-8", "surrogateescape")
        except BaseException:
            remove_tree(self.scratch)
            raise
        return context

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
            if self.scratch is not None:
                from mydocker.linux.fs import remove_tree
                remove_tree(self.scratch)

    def _build(self) -> str:
        dockerfile = self._read_dockerfile()
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
            from mydocker.image import reference
            self.say(f"Successfully tagged {reference.parse(tag).familiar}")
        return image_id

    def _read_dockerfile(self) -> Dockerfile:
        if self.dockerfile_text is not None:
            return parse(self.dockerfile_text)
        path = self.opts.dockerfile or os.path.join(self.context, "Dockerfile")
        # relative to the context when it came as a tar (the API's), or is not found from here
        if self.opts.dockerfile and not os.path.isabs(path) and (self.opts.context == "-" or not os.path.exists(path)):
            path = os.path.join(self.context, path)
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except FileNotFoundError:
            raise NotFound(f"no Dockerfile at {path}: write one or give its path with -f") from None
        return parse(text)

    def _id(self, manifest: str) -> str:
        return self.images.store.read_json(manifest)["config"]["digest"]

    # FROM

    def _from(self, ins: Instruction, global_args: dict, named: dict, escape: str) -> _Stage:
        name = expand(ins.args[0], global_args, escape, ins.line)
        if name.lower() in named:
            manifest = named[name.lower()]
        elif name == "scratch":
            return _Stage(None, _scratch_config(), {})
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
        cfg = stage.config.get("config", {})
        # what the step saw: the parent, the instruction, and the config it ran with (a cached
        # metadata step of a scratch stage has no parent image to tell it apart otherwise)
        data = json.dumps([stage.manifest, ins.original, cfg, extra], sort_keys=True)
        return "sha256:" + hashlib.sha256(data.encode()).hexdigest()

    def _cached(self, key: str) -> str | None:
        if self.opts.no_cache:
            return None
        row = self.db.execute("SELECT manifest FROM build_cache WHERE key=?", (key,)).fetchone()
        if not row:
            return None
        exists = self.db.execute("SELECT 1 FROM images WHERE manifest=?", (row[0],)).fetchone()
        if not exists or not self.images.store.has_blob(row[0]):
            return None
        return row[0]

    def _from_cache(self, stage: _Stage, key: str) -> bool:
        """Take the step's image from the cache if it is there (Docker's " ---> Using cache")."""
        cached = self._cached(key)
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
        self._remember(key, stage.manifest)

    def _remember(self, key: str, manifest: str) -> None:
        with self.engine.records.transaction():
            self.db.execute("INSERT OR REPLACE INTO build_cache VALUES (?,?)", (key, manifest))

    def _save(self, stage: _Stage, layer: tuple[str, int] | None, created_by: str) -> str:
        """Store stage.config (+ a layer) as a new untagged image on top of stage.manifest."""
        from mydocker.image.store import MEDIA_CONFIG, MEDIA_LAYER, MEDIA_MANIFEST
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
        config_digest, config_size = self.images.store.put_json(config)
        manifest = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                    "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
                    "layers": layers}
        digest, _size = self.images.store.put_json(manifest)
        self.images.register(digest, [], created)
        stage.config = copy.deepcopy(config)
        return digest

    def _commit_dir(self, stage: _Stage, upper: str, created_by: str) -> str:
        from mydocker.image.diff import write_layer
        layer = self.images._write_blob(lambda out: write_layer(upper, out, overlay_upper=True))
        return self._save(stage, layer, created_by)

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
        from mydocker.engine.options import RunOptions
        from mydocker.image import snapshot
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
        self._remember(key, stage.manifest)

    def _remove_container(self, ref: str) -> None:
        """By id once run reported it; by name when run failed before it could (it may have left it)."""
        try:
            record = self.engine.records.find_container(ref)
        except NotFound:
            return  # run() removed what it made when it failed to create
        self.engine.containers.teardown(record.id, remove=True)

    # a writable overlay of the current image, for COPY/ADD/WORKDIR

    def _overlay(self, stage: _Stage):
        from contextlib import contextmanager

        @contextmanager
        def view():
            from mydocker.image import snapshot
            lowers = self.images.layer_dirs(stage.manifest) if stage.manifest else []
            base = os.path.join(self.engine.root, "build")
            os.makedirs(base, exist_ok=True)
            import tempfile
            directory = tempfile.mkdtemp(prefix="step-", dir=base)
            try:
                rootfs = snapshot.prepare(lowers, directory)
                if snapshot.driver_of(directory) == "vfs":
                    raise BuildFailed("build needs the overlay storage driver: use a host filesystem "
                                      "that supports overlay")
                yield rootfs, os.path.join(directory, "upper")
            finally:
                snapshot.release(directory)
                shutil.rmtree(directory, ignore_errors=True)
        return view()

    def _source_view(self, ref: str, named: dict):
        """A read-only view of a stage's or an image's root filesystem, for COPY --from."""
        from contextlib import contextmanager

        @contextmanager
        def view():
            from mydocker.image import snapshot
            from mydocker.linux import syscalls as sc
            manifest = named.get(ref.lower()) or self.images.get(ref).manifest_digest
            lowers = self.images.layer_dirs(manifest)
            import tempfile
            base = os.path.join(self.engine.root, "build")
            os.makedirs(base, exist_ok=True)
            target = tempfile.mkdtemp(prefix="from-", dir=base)
            try:
                if lowers:
                    snapshot.mount_overlay(lowers, None, None, target)
                yield target
            finally:
                if lowers:
                    sc.umount2(target, sc.MNT_DETACH)
                os.rmdir(target)
        return view()

    def _workdir(self, stage: _Stage, ins: Instruction, path: str) -> None:
        """WORKDIR makes its directory when the image lacks it: then it is a layer."""
        if stage.manifest and self._exists(stage.manifest, path):
            self._meta(stage, ins, None)
            return
        key = self._key(stage, ins, "mkdir")
        if self._from_cache(stage, key):
            return
        from mydocker.runtime.api import secure_join
        with self._overlay(stage) as (rootfs, upper):
            os.makedirs(secure_join(rootfs, path), mode=0o755, exist_ok=True)
            stage.manifest = self._commit_dir(stage, upper, f"/bin/sh -c #(nop) WORKDIR {path}")
        self._remember(key, stage.manifest)

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
            self._copy_from(stage, ins, self.context, sources, dest, dest_is_dir, chown, chmod, ignore=self.ignore)

    def _copy_from(self, stage: _Stage, ins: Instruction, root: str, sources: list[str], dest: str,
                   dest_is_dir: bool, chown: str | None, chmod: str | None, ignore) -> None:
        matches: list[str] = []
        for pattern in sources:
            found = _glob(root, pattern, ignore)
            if not found:
                raise DockerfileError(ins.line, f"{ins.cmd} {pattern}: no such file or directory in the build "
                                      "context (or it is excluded by .dockerignore)")
            matches += found
        if len(matches) > 1 and not dest_is_dir:
            raise DockerfileError(ins.line, f"{ins.cmd} with more than one source needs a directory destination "
                                  "ending with /")
        extract = ins.cmd == "ADD"
        digest = hashlib.sha256()
        for rel in matches:
            _checksum(os.path.join(root, rel), rel, digest, ignore)
        key = self._key(stage, ins, [digest.hexdigest(), chown, chmod])
        if self._from_cache(stage, key):
            return
        from mydocker.engine.users import resolve_user
        from mydocker.runtime.api import secure_join
        with self._overlay(stage) as (rootfs, upper):
            owner = None
            if chown:
                user = resolve_user(rootfs, chown)
                owner = (user.uid, user.gid)
            target = secure_join(rootfs, dest)
            into_dir = dest_is_dir or os.path.isdir(target)
            if into_dir:
                _makedirs(rootfs, dest, owner)
            for rel in matches:
                src = os.path.join(root, rel)
                if os.path.isdir(src) and not os.path.islink(src):
                    _makedirs(rootfs, dest, owner)
                    _copy_tree(src, secure_join(rootfs, dest), rel, owner, chmod, ignore)
                elif extract and _is_archive(src):
                    _makedirs(rootfs, dest, owner)
                    _extract(src, secure_join(rootfs, dest))
                else:
                    where = os.path.join(dest, os.path.basename(rel)) if into_dir else dest
                    _makedirs(rootfs, os.path.dirname(where), owner)
                    _copy_one(src, secure_join(rootfs, where), owner, chmod)
            stage.manifest = self._commit_dir(stage, upper, f"/bin/sh -c #(nop) {ins.cmd} "
                                              f"{'dir' if len(matches) > 1 else 'file'}:{digest.hexdigest()} "
                                              f"in {dest}")
        self._remember(key, stage.manifest)


# files


def _healthcheck(ins: Instruction) -> dict:
    """HEALTHCHECK's image config: {"Test": [...], "Interval": ns, ...} (zero values left out, as Docker)."""
    from mydocker.engine.health import parse_duration
    out: dict = {"Test": list(ins.args)}
    try:
        for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                          ("start-interval", "StartInterval")):
            if ins.flags.get(flag):
                out[key] = parse_duration(ins.flags[flag], f"--{flag}")
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


def _read_dockerignore(context: str) -> list[tuple[bool, re.Pattern]]:
    """(exclude?, regex) per .dockerignore line; the last match wins, as in Docker."""
    path = os.path.join(context, ".dockerignore")
    if not os.path.exists(path):
        return []
    rules = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").strip().lstrip("/")) or "."
            rules.append((not negate, re.compile(_pattern_regex(pattern))))
    return rules


def _pattern_regex(pattern: str) -> str:
    """Go filepath.Match with Docker's `**` (any number of directories)."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            if pattern[i:i + 1] == "/":
                out[-1] = "(.*/)?"
                i += 1
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "^" + "".join(out) + "$"


def ignored(rules, rel: str) -> bool:
    """Whether `rel` (relative to the context) or a directory above it is excluded."""
    if not rules:
        return False
    parts = rel.split("/")
    result = False
    for exclude, regex in rules:
        for n in range(1, len(parts) + 1):
            if regex.match("/".join(parts[:n])):
                result = exclude  # a pattern matching a directory applies to what is inside
                break
    return result


def _glob(root: str, pattern: str, ignore) -> list[str]:
    """Context-relative paths matching `pattern` (Go filepath.Match per component)."""
    rel = os.path.normpath("/" + pattern).lstrip("/") or "."
    if rel == ".":
        return ["."]
    if not any(c in rel for c in "*?["):
        return [rel] if os.path.lexists(os.path.join(root, rel)) and not ignored(ignore, rel) else []
    found = ["."]
    for part in rel.split("/"):
        nxt = []
        for base in found:
            directory = os.path.join(root, base)
            if not os.path.isdir(directory):
                continue
            if any(c in part for c in "*?["):
                names = sorted(n for n in os.listdir(directory) if fnmatch.fnmatchcase(n, part))
            else:
                names = [part] if os.path.lexists(os.path.join(directory, part)) else []
            nxt += [os.path.normpath(os.path.join(base, n)) for n in names]
        found = nxt
    return [f for f in found if not ignored(ignore, f)]


def _checksum(path: str, rel: str, digest, ignore) -> None:
    """Names, modes, link targets and contents of everything that will be copied."""
    st = os.lstat(path)
    digest.update(f"{rel}\0{st.st_mode}\0".encode())
    if stat.S_ISLNK(st.st_mode):
        digest.update(os.readlink(path).encode())
    elif stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    elif stat.S_ISDIR(st.st_mode):
        for name in sorted(os.listdir(path)):
            sub = os.path.normpath(os.path.join(rel, name))
            if not ignored(ignore, sub):
                _checksum(os.path.join(path, name), sub, digest, ignore)


def _makedirs(rootfs: str, path: str, owner) -> None:
    """Create `path` (inside rootfs, symlinks resolved inside it) and missing parents, 0755."""
    from mydocker.runtime.api import secure_join
    parts = [p for p in path.split("/") if p]
    for n in range(1, len(parts) + 1):
        target = secure_join(rootfs, "/".join(parts[:n]))
        if not os.path.isdir(target):
            if os.path.lexists(target):
                raise InvalidArgument(f"cannot create directory /{'/'.join(parts[:n])}: a file is in the way")
            os.mkdir(target, 0o755)
            os.chmod(target, 0o755)
            if owner:
                os.chown(target, *owner)


def _copy_one(src: str, dst: str, owner, chmod: str | None) -> None:
    st = os.lstat(src)
    if os.path.isdir(dst) and not os.path.islink(dst):
        shutil.rmtree(dst)
    elif os.path.lexists(dst):
        os.unlink(dst)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
        os.chmod(dst, int(chmod, 8) if chmod else stat.S_IMODE(st.st_mode))
    else:
        return  # sockets, devices, fifos of a context are not copied
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    os.chown(dst, *(owner or (0, 0)), follow_symlinks=False)


def _copy_tree(src: str, dst: str, rel: str, owner, chmod: str | None, ignore) -> None:
    """The contents of `src` (not src itself) into the directory `dst`."""
    for name in sorted(os.listdir(src)):
        sub = os.path.normpath(os.path.join(rel, name))
        if ignored(ignore, sub):
            continue
        s, d = os.path.join(src, name), os.path.join(dst, name)
        st = os.lstat(s)
        if stat.S_ISDIR(st.st_mode):
            if os.path.lexists(d) and not os.path.isdir(d):
                os.unlink(d)
            if not os.path.isdir(d):
                os.mkdir(d)
            os.chmod(d, stat.S_IMODE(st.st_mode))
            os.chown(d, *(owner or (0, 0)))
            _copy_tree(s, d, sub, owner, chmod, ignore)
            os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))
        else:
            _copy_one(s, d, owner, chmod)


def _is_archive(path: str) -> bool:
    import tarfile
    if not os.path.isfile(path):
        return False
    try:
        return tarfile.is_tarfile(path)
    except (OSError, EOFError):
        return False


def _extract(path: str, target: str) -> None:
    """ADD's auto-extraction of a local tar (plain, gzip, bzip2, xz), kept inside `target`."""
    from mydocker.image.layer import apply_layer
    apply_layer(path, target)

