"""Pure logic of layers, image config changes and volume specs: no root needed."""

from __future__ import annotations

import io
import os
import tarfile

import pytest
from hypothesis import given
from hypothesis import strategies as s

from mydocker.engine.volumes import parse_spec
from mydocker.errors import InvalidArgument
from mydocker.image import changes
from mydocker.image.diff import write_layer
from mydocker.image.layer import clean_name


@pytest.mark.parametrize("name,cleaned", [
    ("etc/passwd", "etc/passwd"), ("./etc/passwd", "etc/passwd"), ("/etc/passwd", "etc/passwd"),
    ("a/b/../c", "a/c"), ("a//b/", "a/b"), ("./", ""), ("/", ""), ("a/..", ""),
])
def test_clean_name_keeps_names_inside(name, cleaned):
    assert clean_name(name) == cleaned


@pytest.mark.parametrize("name", ["..", "../etc/evil", "../../etc/evil", "a/../../x", "/../etc", "./../x"])
def test_clean_name_refuses_climbing_out(name):
    with pytest.raises(InvalidArgument, match="outside the layer"):
        clean_name(name)


@given(s.lists(s.sampled_from(["a", "b", "..", ".", ""]), min_size=1, max_size=8))
def test_clean_name_never_escapes(parts):
    name = "/".join(parts)
    try:
        cleaned = clean_name(name)
    except InvalidArgument:
        return
    resolved = os.path.normpath(os.path.join("/layer", cleaned))
    assert resolved == "/layer" or resolved.startswith("/layer/")


def test_changes_cmd_env_workdir():
    config = {"config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"]}}
    changes.apply_all(config, ['CMD ["ls", "/"]', "ENV A=2 B=x", "ENV C three", "WORKDIR /srv",
                               "USER nobody", "LABEL k=v", "EXPOSE 80", "ENTRYPOINT echo hi"])
    cfg = config["config"]
    assert cfg["Env"] == ["PATH=/bin", "A=2", "B=x", "C=three"]
    assert cfg["WorkingDir"] == "/srv" and cfg["User"] == "nobody"
    assert cfg["Labels"] == {"k": "v"} and cfg["ExposedPorts"] == {"80/tcp": {}}
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "echo hi"] and "Cmd" not in cfg


def test_changes_shell_form_cmd_and_errors():
    config = {}
    changes.apply_all(config, ["cmd echo hi"])
    assert config["config"]["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    with pytest.raises(InvalidArgument, match="RUN"):
        changes.apply_all(config, ["RUN rm -rf /"])
    with pytest.raises(InvalidArgument, match="needs a value"):
        changes.apply_all(config, ["CMD"])


@pytest.mark.parametrize("text,kind,source,dest,ro", [
    ("/host/dir:/data", "bind", "/host/dir", "/data", False),
    ("/host/dir:/data:ro", "bind", "/host/dir", "/data", True),
    ("vol1:/cache", "volume", "vol1", "/cache", False),
    ("vol1:/cache/:ro,nocopy", "volume", "vol1", "/cache", True),
    ("/anon", "volume", "", "/anon", False),
    ("/anon:ro", "volume", "", "/anon", True),
])
def test_volume_specs(text, kind, source, dest, ro):
    spec = parse_spec(text)
    assert (spec.kind, spec.source, spec.destination, spec.readonly) == (kind, source, dest, ro)


@pytest.mark.parametrize("text,message", [
    ("vol:data", "must be absolute"), ("/host:data", "invalid mode"), ("vol:/", "cannot be /"),
    ("/h:/c:rx", "invalid mode"),
    ("a:b:c:d", "invalid volume specification"), ("v$l:/c", "invalid volume name"),
])
def test_volume_specs_refused(text, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_spec(text)


def test_write_layer_is_deterministic_and_keeps_links(tmp_path):
    root = tmp_path / "tree"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_text("data")
    os.link(root / "d" / "f", root / "g")
    os.symlink("/d/f", root / "abs")
    outs = []
    for _ in range(2):
        buf = io.BytesIO()
        write_layer(str(root), buf, overlay_upper=False)
        outs.append(buf.getvalue())
    assert outs[0] == outs[1]
    with tarfile.open(fileobj=io.BytesIO(outs[0])) as tar:
        members = {m.name: m for m in tar}
    assert list(members) == ["abs", "d", "d/f", "g"]
    assert members["abs"].issym() and members["abs"].linkname == "/d/f"
    assert members["g"].islnk() and members["g"].linkname == "d/f"
