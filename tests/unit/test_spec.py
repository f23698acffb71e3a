from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as s

from mydocker.errors import InvalidArgument
from mydocker.runtime.mountopts import parse_options
from mydocker.runtime.oci_config import Spec, load_spec
from mydocker.linux import syscalls as sc


def minimal(tmp_path, **changes) -> dict:
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    config = {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["true"]}}
    config.update(changes)
    return config


def test_minimal_config_loads(tmp_path):
    spec = Spec.from_dict(minimal(tmp_path), str(tmp_path))
    assert spec.process.args == ["true"] and spec.process.cwd == "/"
    assert spec.root_path == str(tmp_path / "rootfs")


@pytest.mark.parametrize("change,field", [
    ({"ociVersion": ""}, "ociVersion"),
    ({"root": {}}, "root.path"),
    ({"root": {"path": "missing"}}, "root.path"),
    ({"process": {"args": "true"}}, "process.args"),
    ({"process": {"args": ["true"], "env": "A=1"}}, "process.env"),
    ({"process": {"args": ["true"], "user": {"uid": "0"}}}, "process.user.uid"),
    ({"process": {"args": ["true"], "terminal": "yes"}}, "process.terminal"),
    ({"mounts": [{"type": "tmpfs"}]}, "mounts[0].destination"),
    ({"mounts": "x"}, "mounts"),
    ({"linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}]}}, "linux.namespaces[1]"),
    ({"linux": {"uidMappings": [{"containerID": 0}]}}, "linux.uidMappings[0]"),
])
def test_errors_name_the_field(tmp_path, change, field):
    with pytest.raises(InvalidArgument) as err:
        Spec.from_dict(minimal(tmp_path, **change), str(tmp_path))
    assert field in str(err.value)


def test_load_spec_errors(tmp_path):
    with pytest.raises(InvalidArgument, match="does not exist"):
        load_spec(str(tmp_path))
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        load_spec(str(tmp_path))


json_values = s.recursive(s.none() | s.booleans() | s.integers() | s.text(max_size=8),
                          lambda kids: s.lists(kids, max_size=3) | s.dictionaries(s.text(max_size=8), kids, max_size=3),
                          max_leaves=10)


@given(s.dictionaries(s.sampled_from(["ociVersion", "root", "process", "mounts", "linux", "hostname", "hooks"]),
                      json_values, max_size=7))
def test_fuzzed_configs_load_or_fail_cleanly(tmp_path_factory, data):
    bundle = tmp_path_factory.getbasetemp() / "fuzz-bundle"
    (bundle / "rootfs").mkdir(parents=True, exist_ok=True)
    try:
        Spec.from_dict(json.loads(json.dumps(data)), str(bundle))
    except InvalidArgument:
        pass


def test_mount_options():
    opts = parse_options(["nosuid", "noexec", "nodev", "ro", "mode=755", "size=64k", "rprivate"])
    assert opts.flags == sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_NODEV | sc.MS_RDONLY
    assert opts.data == "mode=755,size=64k"
    assert opts.propagation == [sc.MS_PRIVATE | sc.MS_REC]
    assert parse_options(["rbind", "rw", "ro", "rw"]).flags == sc.MS_BIND | sc.MS_REC
    assert parse_options(["defaults"]).flags == 0


def test_recursive_mount_options_become_mount_setattr_attributes():
    opts = parse_options(["rbind", "rro", "rnosuid", "tmpcopyup"])
    assert (opts.attr_set, opts.attr_clr) == (sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOSUID, 0)
    assert opts.tmpcopyup and opts.data == "" and opts.flags == sc.MS_BIND | sc.MS_REC
    later_wins = parse_options(["rro", "rrw"])
    assert (later_wins.attr_set, later_wins.attr_clr) == (0, sc.MOUNT_ATTR_RDONLY)
    atime = parse_options(["rnoatime"])  # an atime mode is set by clearing the whole field
    assert (atime.attr_set, atime.attr_clr) == (sc.MOUNT_ATTR_NOATIME, sc.MOUNT_ATTR__ATIME)
    assert not parse_options(["ro", "rbind"]).recursive


def _mount(options: list[str], kind: str = "bind") -> dict:
    return {"destination": "/data", "type": kind, "source": "/tmp", "options": options}


@pytest.mark.parametrize("options, kind, named", [
    (["rbind", "bogus"], "bind", "'bogus'"), (["rbind", "idmap"], "bind", "'idmap'"),
    (["ridmap"], "bind", "'ridmap'"), (["tmpcopyup", "rbind"], "bind", "'tmpcopyup'"),
    (["tmpcopyup"], "proc", "'tmpcopyup'"), (["bind", "mode=755"], None, "'mode=755'"),
])
def test_mount_options_a_runtime_cannot_honour_are_refused_by_name(options, kind, named):
    from mydocker.runtime.oci_config import Mount
    with pytest.raises(InvalidArgument) as e:
        Mount.from_dict(_mount(options, kind), 3)
    assert named in str(e.value) and "mounts[3].options" in str(e.value)


def test_filesystem_options_go_to_the_filesystem():
    from mydocker.runtime.oci_config import Mount
    Mount.from_dict(_mount(["nosuid", "size=1m", "inode64", "tmpcopyup"], "tmpfs"), 0)
    Mount.from_dict(_mount(["nosuid", "newinstance", "ptmxmode=0666"], "devpts"), 0)
