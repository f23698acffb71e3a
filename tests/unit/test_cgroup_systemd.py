"""--systemd-cgroup: runc's "slice:prefix:name" cgroupsPath, translated to the path systemd would use."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mydocker.errors import InvalidArgument
from mydocker.runtime.cgroups import open_cgroup
from mydocker.runtime.cgroups.systemd import expand_slice, systemd_cgroup_path


@pytest.mark.parametrize("value, path", [
    ("system.slice:docker:abc", "/system.slice/docker-abc.scope"),
    (":docker:abc", "/system.slice/docker-abc.scope"),  # no slice: system.slice
    ("machine.slice:libpod:0123", "/machine.slice/libpod-0123.scope"),
    ("a-b.slice:p:n", "/a.slice/a-b.slice/p-n.scope"),
    ("user-1000-x.slice:p:n", "/user.slice/user-1000.slice/user-1000-x.slice/p-n.scope"),
    ("-.slice:p:n", "/p-n.scope"),  # the root slice
    ("system.slice::n", "/system.slice/-n.scope"),  # runc keeps the dash of an empty prefix
    ("a.slice:p:a-b.slice", "/a.slice/a-b.slice"),  # the unit is itself a slice
    ("", "/system.slice/mydocker-cid.scope"),  # no cgroupsPath: the container's own scope
])
def test_slice_prefix_name_becomes_systemds_path(value, path):
    assert systemd_cgroup_path(value, "cid") == path


@pytest.mark.parametrize("value", [
    "/mydocker/abc",  # a cgroupfs path
    "system.slice:abc",  # two parts
    "a:b:c:d",  # four
    "system:docker:abc",  # not a slice
    "system.slice:docker:",  # no name
    "system.slice:docker:a/b", "system.slice:do/cker:abc", "sys/tem.slice:docker:abc",
    "a--b.slice:p:n", "-a.slice:p:n", "a-.slice:p:n", ".slice:p:n",
    "system.slice:docker:..",
    "a.slice:p:a--b.slice",  # a slice unit with a bad name
])
def test_malformed_values_are_refused_in_one_line(value):
    with pytest.raises(InvalidArgument) as info:
        systemd_cgroup_path(value, "cid")
    message = str(info.value)
    assert message.startswith(f"linux.cgroupsPath {value!r} ") and "slice:prefix:name" in message
    assert "\n" not in message


_component = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="-/:."),
                     min_size=1, max_size=8)
_word = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/:"),
                min_size=1, max_size=12).filter(lambda s: s not in (".", "..") and not s.endswith(".slice"))


@given(parts=st.lists(_component, min_size=1, max_size=4), prefix=_word, name=_word)
def test_round_trip_every_slice_level_then_the_scope(parts, prefix, name):
    slice_name = "-".join(parts) + ".slice"
    path = systemd_cgroup_path(f"{slice_name}:{prefix}:{name}", "cid")
    levels = path.strip("/").split("/")
    # each level is the slice of the first k components; the leaf is the scope
    assert levels[:-1] == ["-".join(parts[:k]) + ".slice" for k in range(1, len(parts) + 1)]
    assert levels[-1] == f"{prefix}-{name}.scope"
    assert expand_slice(slice_name) == "/" + "/".join(levels[:-1])


@given(value=st.text(alphabet="ab.-:/slice", max_size=30))
def test_anything_either_parses_to_a_clean_absolute_path_or_is_refused(value):
    try:
        path = systemd_cgroup_path(value, "cid")
    except InvalidArgument as e:
        assert "\n" not in str(e) and str(e).startswith("linux.cgroupsPath ")
        return
    assert value == "" or value.count(":") == 2
    assert path.startswith("/") and "//" not in path and "/../" not in path + "/" and ":" not in path
    assert path.endswith((".scope", ".slice"))


def test_open_cgroup_reads_the_systemd_form_only_in_systemd_mode(tmp_path):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("30 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
    own = tmp_path / "cgroup"
    own.write_text("4:memory:/\n")
    kw = {"mountinfo_path": str(mountinfo), "cgroup_path": str(own)}
    cg = open_cgroup("system.slice:docker:abc", systemd=True, container_id="abc", **kw)
    assert cg.paths == {"memory": "/sys/fs/cgroup/memory/system.slice/docker-abc.scope"}
    cg = open_cgroup(None, default="/mydocker/abc", systemd=True, container_id="abc", **kw)
    assert cg.paths == {"memory": "/sys/fs/cgroup/memory/system.slice/mydocker-abc.scope"}
    assert open_cgroup(None, default="/mydocker/abc", systemd=False, **kw).paths == {
        "memory": "/sys/fs/cgroup/memory/mydocker/abc"}
    with pytest.raises(InvalidArgument):
        open_cgroup("/mydocker/abc", systemd=True, container_id="abc", **kw)
