"""Bad input: one clear line on stderr, Docker's exit code, nothing left behind."""

from __future__ import annotations

import os

import pytest


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("args,words", [
    (["run", "--rm", "no-such-image"], ["no-such-image", "not found"]),
    (["run", "--rm", "Bad/Name"], ["invalid reference format", "lowercase"]),
    (["run", "--rm", "--no-such-flag", "busybox"], ["--no-such-flag", "--help"]),
    (["run", "--rm", "-e", "=value", "busybox", "true"], ["environment variable", "=value"]),
    (["run", "--rm", "-e", "BAD NAME=1", "busybox", "true"], ["environment variable"]),
    (["run", "--rm", "-w", "/no/such/dir", "busybox", "true"], ["/no/such/dir", "does not exist"]),
    (["run", "--rm", "-w", "relative", "busybox", "true"], ["relative", "absolute"]),
    (["run", "--rm", "-u", "nosuchuser", "busybox", "true"], ["nosuchuser"]),
    (["run", "--rm", "--name", "-bad", "busybox", "true"], []),
    (["run"], ["requires at least 1 argument"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_bad_input(mydocker, args, words):
    # Docker's CLI: 125 for what `run` refuses and for a refused flag; 1 for a missing argument or command
    r = mydocker(*args, rc=1 if args in (["run"], ["frobnicate"]) else 125)
    line = one_line(r.err)
    for word in words:
        assert word in line
    containers = os.path.join(mydocker.root, "containers")
    assert not os.path.isdir(containers) or os.listdir(containers) == []


def test_empty_command_with_an_image_that_has_none(mydocker, tmp_path):
    from mydocker.engine.engine import Engine
    engine = Engine(root=mydocker.root, runroot=mydocker.runroot)
    image = engine.images.get("busybox")
    config = dict(image.config, config={"Env": image.config["config"]["Env"]})  # no Cmd
    digest, size = engine.images.store.put_json(config)
    manifest = engine.images.store.read_json(image.manifest_digest)
    manifest["config"] = {"mediaType": manifest["config"]["mediaType"], "digest": digest, "size": size}
    manifest_digest, _ = engine.images.store.put_json(manifest)
    engine.records.tag_image("docker.io/library/nocmd:latest", manifest_digest, "2026-01-01T00:00:00Z")
    r = mydocker("run", "--rm", "nocmd", rc=125)
    assert "no command specified" in one_line(r.err)
    assert mydocker("run", "--rm", "nocmd", "echo", "given").out == "given\n"


def test_help_is_not_an_error(mydocker):
    assert "Create and run a new container" in mydocker("run", "--help").out
