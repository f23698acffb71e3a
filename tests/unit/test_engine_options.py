from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as s

from mydocker.engine.names import check_name, generate_name
from mydocker.engine.options import RunOptions
from mydocker.engine.bundle_config import build_spec, command_for, merge_env, validate_env
from mydocker.engine.users import resolve_user
from mydocker.errors import InvalidArgument
from mydocker.recordclass import asdict, factory, record
from mydocker.runtime.command import resolve
from mydocker.errors import CommandNotExecutable, CommandNotFound


def test_env_validation():
    assert validate_env(["A=1", "B=", "C=x=y"], {}) == ["A=1", "B=", "C=x=y"]
    assert validate_env(["HOSTVAR", "MISSING"], {"HOSTVAR": "v"}) == ["HOSTVAR=v"]
    for bad in ["=1", "", "A B=1", "\0=1"]:
        with pytest.raises(InvalidArgument):
            validate_env([bad], {})


@given(s.lists(s.text(max_size=12), max_size=5))
def test_env_validation_never_crashes(entries):
    try:
        out = validate_env(entries, {})
    except InvalidArgument:
        return
    assert all("=" in e and e.split("=", 1)[0] for e in out)


def test_merge_env_later_wins_and_keeps_order():
    assert merge_env(["PATH=/bin", "A=1"], ["A=2", "B=3"]) == ["PATH=/bin", "A=2", "B=3"]


def test_command_from_image_and_options():
    cfg = {"Entrypoint": ["/entry"], "Cmd": ["default"]}
    assert command_for(cfg, RunOptions("img")) == ["/entry", "default"]
    assert command_for(cfg, RunOptions("img", command=["x"])) == ["/entry", "x"]
    assert command_for(cfg, RunOptions("img", entrypoint="/other")) == ["/other"]
    with pytest.raises(InvalidArgument, match="no command"):
        command_for({}, RunOptions("img"))


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nweb:x:33:33:web:/var/www:/bin/false\n")
    (tmp_path / "etc/group").write_text("root:x:0:\nweb:x:33:\nstaff:x:50:web,other\n")
    return str(tmp_path)


def test_users(rootfs):
    assert asdict(resolve_user(rootfs, None)) == {"uid": 0, "gid": 0, "home": "/root", "additional_gids": [0]}
    web = resolve_user(rootfs, "web")
    assert (web.uid, web.gid, web.home, web.additional_gids) == (33, 33, "/var/www", [33, 50])
    assert resolve_user(rootfs, "1000:staff").gid == 50
    with pytest.raises(InvalidArgument, match="nobody"):
        resolve_user(rootfs, "nobody")
    with pytest.raises(InvalidArgument, match="nogroup"):
        resolve_user(rootfs, "web:nogroup")


def test_passwd_symlink_cannot_read_the_host(tmp_path):
    (tmp_path / "etc").mkdir()
    os.symlink("/etc/passwd", tmp_path / "etc/passwd")  # resolves inside the rootfs: nothing there
    with pytest.raises(InvalidArgument):
        resolve_user(str(tmp_path), "root")


def test_spec_defaults(rootfs):
    spec = build_spec({"config": {"Cmd": ["sh"], "WorkingDir": "/srv"}}, RunOptions("busybox", tty=True, env=["X=1"]),
                      rootfs, "abc")
    assert spec["process"]["cwd"] == "/srv" and spec["hostname"] == "abc"
    assert "TERM=xterm" in spec["process"]["env"] and "X=1" in spec["process"]["env"]
    assert spec["process"]["env"][0].startswith("PATH=")
    assert {m["destination"] for m in spec["mounts"]} >= {"/proc", "/dev", "/dev/pts", "/sys", "/dev/shm"}


def test_names():
    assert check_name("web-1.a_b") == "web-1.a_b"
    assert check_name("/slashed") == "slashed"
    for bad in ["a", "-x", "has space", "ünï"]:
        with pytest.raises(InvalidArgument):
            check_name(bad)
    assert check_name(generate_name())


def test_command_resolution(tmp_path):
    (tmp_path / "bin").mkdir()
    exe = tmp_path / "bin/tool"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    plain = tmp_path / "bin/plain"
    plain.write_text("")
    assert resolve("tool", str(tmp_path / "bin")) == str(exe)
    with pytest.raises(CommandNotFound):
        resolve("nope", str(tmp_path / "bin"))
    with pytest.raises(CommandNotExecutable):
        resolve("plain", str(tmp_path / "bin"))
    with pytest.raises(CommandNotExecutable):
        resolve(str(tmp_path), None)


def test_record():
    @record
    class Point:
        x: int
        y: int = 0
        tags: list = factory(list)

    a, b = Point(1), Point(1)
    assert a == b and a.tags is not b.tags
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"
    assert asdict(Point(x=3, tags=[Point(4)])) == {"x": 3, "y": 0, "tags": [{"x": 4, "y": 0, "tags": []}]}
    with pytest.raises(TypeError):
        Point()
    with pytest.raises(TypeError):
        Point(1, z=2)
