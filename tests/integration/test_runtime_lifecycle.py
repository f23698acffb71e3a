"""The runtime on bundles, in-process: create leaves the init blocked, start releases it, states, kill, delete."""

from __future__ import annotations

import errno
import json
import os
import signal
import time

import pytest

from mydocker.errors import Conflict, InvalidArgument, NotFound
from mydocker.linux import syscalls as sc
from mydocker.runtime import state_file as st
from mydocker.runtime.create import create
from mydocker.runtime.delete import delete
from mydocker.runtime.kill import kill, parse_signal
from mydocker.runtime.start import start


@pytest.fixture(autouse=True)
def subreaper():
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # the inits are reparented to the test process
    yield


def status(root: str, cid: str) -> str:
    return st.oci_state(root, st.load(root, cid))["status"]


def wait_status(root: str, cid: str, wanted: str, pid: int | None = None) -> None:
    deadline = time.monotonic() + 10
    while status(root, cid) != wanted:
        if pid:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        assert time.monotonic() < deadline, f"{cid} never became {wanted}"
        time.sleep(0.01)


def test_start_writes_no_state_and_the_status_still_follows(runtime_root, make_bundle):
    """start removes the exec fifo and writes nothing else (as runc): the status comes from the init
    and its fifo; a state.json written by an older start (with "started") still loads."""
    record, init = create(runtime_root, "quiet", make_bundle(["sleep", "5"]))
    directory = os.path.join(runtime_root, "quiet")
    written = {name: os.stat(os.path.join(directory, name)).st_mtime_ns for name in ("state.json", st.VIEW)}
    try:
        start(runtime_root, "quiet", record=record)
        assert {name: os.stat(os.path.join(directory, name)).st_mtime_ns for name in written} == written
        assert not os.path.exists(os.path.join(directory, "exec.fifo"))
        assert status(runtime_root, "quiet") == "running"
        with open(os.path.join(directory, "state.json")) as f:
            old = dict(json.load(f), started=True)
        with open(os.path.join(directory, "state.json"), "w") as f:
            json.dump(old, f)
        assert st.load(runtime_root, "quiet").pid == init.pid
    finally:
        delete(runtime_root, "quiet", force=True)
    with pytest.raises(NotFound):
        st.load(runtime_root, "quiet")


def test_create_start_stopped(runtime_root, make_bundle, tmp_path):
    out = tmp_path / "out"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o644)
    bundle = make_bundle(["sh", "-c", "echo started; hostname"])
    record, init = create(runtime_root, "c1", bundle, stdio=(0, fd, fd))
    os.close(fd)
    assert status(runtime_root, "c1") == "created"
    assert out.read_text() == ""  # the user's command has not run yet
    state = st.oci_state(runtime_root, st.load(runtime_root, "c1"))
    assert state["pid"] == init.pid and state["bundle"] == bundle and state["ociVersion"]
    start(runtime_root, "c1")
    os.waitpid(init.pid, 0)
    assert status(runtime_root, "c1") == "stopped"
    assert out.read_text() == "started\nbundle\n"
    with pytest.raises(Conflict):
        start(runtime_root, "c1")
    delete(runtime_root, "c1")
    with pytest.raises(NotFound):
        st.load(runtime_root, "c1")


def test_kill_running_and_delete_refuses_without_force(runtime_root, make_bundle):
    record, init = create(runtime_root, "c2", make_bundle(["sleep", "60"]))
    start(runtime_root, "c2")
    assert status(runtime_root, "c2") == "running"
    with pytest.raises(Conflict):
        delete(runtime_root, "c2")
    kill(runtime_root, "c2", signal.SIGKILL)
    _, code = os.waitpid(init.pid, 0)
    assert os.WTERMSIG(code) == signal.SIGKILL
    assert status(runtime_root, "c2") == "stopped"
    with pytest.raises(Conflict):
        kill(runtime_root, "c2", signal.SIGTERM)
    delete(runtime_root, "c2")


def test_delete_force_of_a_created_container(runtime_root, make_bundle):
    record, init = create(runtime_root, "c3", make_bundle(["true"]))
    delete(runtime_root, "c3", force=True)
    assert st.list_ids(runtime_root) == []
    assert st.process_start_time(init.pid) is None


def test_two_creates_of_one_id_exactly_one_wins(runtime_root, make_bundle):
    bundle = make_bundle(["sleep", "60"])
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            try:
                create(runtime_root, "same", bundle)
                os._exit(0)
            except Conflict:
                os._exit(3)
            except BaseException:
                os._exit(4)
        pids.append(pid)
    codes = sorted(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids)
    assert codes == [0, 3]
    assert status(runtime_root, "same") == "created"
    delete(runtime_root, "same", force=True)


@pytest.mark.parametrize("config_text,field", [
    ("{not json", "not valid JSON"),
    (json.dumps({"ociVersion": "1.0.2", "process": {"args": ["true"]}}), "root.path"),
    (json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": []}}), "process.args"),
    (json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["true"], "cwd": "rel"}}),
     "process.cwd"),
    (json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["true"]},
                 "linux": {"namespaces": [{"type": "bogus"}]}}), "linux.namespaces[0].type"),
    (json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["true"]},
                 "mounts": [{"destination": "relative"}]}), "mounts[0].destination"),
])
def test_invalid_config_is_rejected_naming_the_field(runtime_root, make_bundle, config_text, field):
    bundle = make_bundle(["true"])
    with open(os.path.join(bundle, "config.json"), "w") as f:
        f.write(config_text)
    with pytest.raises(InvalidArgument) as err:
        create(runtime_root, "bad", bundle)
    assert field in str(err.value)
    assert "\n" not in str(err.value)
    assert st.list_ids(runtime_root) == []


def test_the_engines_in_memory_config_is_validated_as_one_from_disk(runtime_root, make_bundle):
    """The engine hands create a config it built (runtime.api.create), not a config.json to read:
    the same schema check applies, and nothing is left behind."""
    from mydocker.runtime import api
    bundle = make_bundle(["true"])
    with open(os.path.join(bundle, "config.json")) as f:
        config = json.load(f)
    config["annotations"] = {"org.example.count": 1}  # the schema wants strings; nothing else looks
    try:
        with pytest.raises(InvalidArgument) as err:
            api.create(runtime_root, "engine-made", bundle, config)
    finally:
        api.delete(runtime_root, "engine-made", force=True)
    assert "annotations.org.example.count must be a string" in str(err.value)
    assert st.list_ids(runtime_root) == []


def test_setup_error_comes_back_as_one_message(runtime_root, make_bundle):
    def add_bad_mount(config):
        config["mounts"].append({"destination": "/data", "type": "bind", "source": "/no/such/host/dir",
                                 "options": ["rbind"]})
    with pytest.raises(Exception) as err:
        create(runtime_root, "badmount", make_bundle(["true"], add_bad_mount))
    assert "/no/such/host/dir" in str(err.value)
    assert st.list_ids(runtime_root) == []


def test_bad_id_is_rejected(runtime_root, make_bundle):
    with pytest.raises(InvalidArgument):
        create(runtime_root, "../escape", make_bundle(["true"]))


def _pid_namespace(pid: int | str, which: str = "pid") -> str:
    return os.readlink(f"/proc/{pid}/ns/{which}")


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


@pytest.fixture
def not_subreaper():
    """An init whose parent exits is then not reparented to us: its parent shows who forked it."""
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 0)
    yield
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)


def test_the_init_is_forked_into_its_namespace_and_ours_stays_for_later_forks(runtime_root, make_bundle,
                                                                               not_subreaper):
    """The common case forks the init straight into a new PID namespace: it is our own child there,
    and our children (hooks, the next container) still start in our namespace."""
    ours = _pid_namespace("self")
    record, init = create(runtime_root, "direct", make_bundle(["true"]))
    try:
        assert _parent_of(init.pid) == os.getpid()  # no intermediate in between
        assert _pid_namespace(init.pid) != ours
        assert _pid_namespace("self", "pid_for_children") == ours
        child = os.fork()
        if child == 0:
            os._exit(0 if os.getpid() != 1 and _pid_namespace("self") == ours else 1)
        assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
    finally:
        delete(runtime_root, "direct", force=True)


def test_a_direct_init_joins_a_network_namespace_by_path(runtime_root, make_bundle, not_subreaper):
    """The engine's bridge netns (and any network, IPC or UTS namespace given by path) is joined by
    the init itself: no intermediate; a path to another kind of namespace is refused, naming it."""
    def join(paths: dict):
        def edit(config):
            config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"] if ns["type"] not in paths]
            config["linux"]["namespaces"] += [{"type": kind, "path": path} for kind, path in paths.items()]
        return edit
    # (not our UTS namespace: the init would set the host's name)
    record, init = create(runtime_root, "joined", make_bundle(["true"], join({"network": "/proc/self/ns/net"})))
    try:
        assert _parent_of(init.pid) == os.getpid()  # no intermediate in between
        assert _pid_namespace(init.pid, "net") == _pid_namespace("self", "net")
        assert _pid_namespace(init.pid) != _pid_namespace("self")
    finally:
        delete(runtime_root, "joined", force=True)
    with pytest.raises(Exception, match="cannot join the network namespace at /proc/self/ns/uts"):  # noqa: PT011
        create(runtime_root, "wrongkind", make_bundle(["true"], join({"network": "/proc/self/ns/uts"})))
    with pytest.raises(NotFound):
        st.load(runtime_root, "wrongkind")


def test_an_intermediate_still_makes_user_namespaces(runtime_root, make_bundle, not_subreaper):
    """With a user namespace to make first, the init comes from an intermediate that has exited."""
    def userns(config):
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
        config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
    record, init = create(runtime_root, "userns", make_bundle(["true"], userns))
    try:
        assert _parent_of(init.pid) != os.getpid()  # its parent, the intermediate, has exited
        assert _pid_namespace(init.pid, "user") != _pid_namespace("self", "user")
        assert _pid_namespace("self", "pid_for_children") == _pid_namespace("self")
    finally:
        delete(runtime_root, "userns", force=True)


def test_an_init_that_fails_before_it_is_placed_reports_its_own_error(runtime_root, make_bundle, monkeypatch):
    """The init mounts while the runtime moves it into its cgroups. An init made by an intermediate
    (here: a PID namespace joined by path; a network, IPC or UTS one the init joins itself) is
    reparented to a subreaper (the engine's monitor) once the intermediate exits; one that failed
    and was reaped before the move made the move fail with ESRCH, and `start` said "cannot move
    process ... No such process" instead of the init's own error (seen under load: a remapped root
    that could not reach its rootfs any more)."""
    from mydocker.runtime.cgroups import base

    def edit(config: dict) -> None:
        config["mounts"].insert(0, {"destination": "/missing", "type": "bind", "source": "/nonexistent-bind-source",
                                    "options": ["bind"]})
        joined = {"type": "pid", "path": "/proc/self/ns/pid"}
        config["linux"]["namespaces"] = [joined if ns["type"] == "pid" else ns
                                         for ns in config["linux"]["namespaces"]]

    move = base.Cgroup.apply

    def move_once_reaped(self, pid: int, skip: frozenset[str] = frozenset()) -> None:
        deadline = time.monotonic() + 10
        while True:  # as the monitor does: it reaps the init the moment it exits
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                pass  # not ours yet: its intermediate is still exiting
            assert time.monotonic() < deadline, "the init did not fail"
            time.sleep(0.005)
        move(self, pid, skip)

    monkeypatch.setattr(base.Cgroup, "apply", move_once_reaped)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the init's error, whichever kind it is
        create(runtime_root, "early", make_bundle(["true"], edit))
    assert "/nonexistent-bind-source" in str(caught.value) and "No such process" not in str(caught.value)
    with pytest.raises(NotFound):
        st.load(runtime_root, "early")


@pytest.mark.parametrize("clone3", [True, False], ids=["cloned-into-its-cgroup2", "clone3-refused"])
def test_a_direct_init_is_in_its_cgroup_in_every_hierarchy(runtime_root, make_bundle, monkeypatch, clone3):
    """A direct init starts in its cgroup2 directory (clone3) and joins the v1 hierarchies itself through
    the `tasks` files "placed" brings; where clone3 is refused (an older kernel, a seccomp filter) the
    runtime moves it into cgroup2 by pid. Either way it is in its cgroup in every hierarchy."""
    from mydocker.runtime.create import default_cgroups_path
    real, calls = sc.clone_fork, []

    def clone_fork(flags: int, cgroup_fd: int | None = None) -> int:
        calls.append(cgroup_fd)
        if not clone3:
            raise OSError(errno.ENOSYS, "clone3: Function not implemented")
        return real(flags, cgroup_fd)

    monkeypatch.setattr(sc, "clone_fork", clone_fork)
    _record, init = create(runtime_root, "placed", make_bundle(["true"]))
    try:
        with open(f"/proc/{init.pid}/cgroup") as f:
            paths = {line.rstrip("\n").split(":", 2)[2] for line in f}
        assert paths == {default_cgroups_path(runtime_root, "placed")}
        assert len(calls) == 1 and calls[0] is not None  # cloned into the cgroup2 directory, or tried to
    finally:
        delete(runtime_root, "placed", force=True)
