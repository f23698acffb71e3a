"""What the runtime spec asks that can be seen from outside the container, as runtime-tools'
validation drives the runtime: bundles whose root is the bundle directory itself (root.path "."),
namespaces given by path (of the right type, or not) or not at all, hooks after a failing one,
the pid file, config.json edited after create, ociVersion, and the cgroup a container did not create."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time

import pytest

from tests.conformance.conftest import base_config

V1 = "/sys/fs/cgroup"
HOST_NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")


@pytest.fixture
def flat_bundle(tmp_path, busybox_tree):
    """flat_bundle(args, edit=None) -> a bundle that is its own rootfs (root.path "."), as the
    validation suite unpacks one: config.json, the hooks' output and the container's files side by
    side. `edit(config, bundle_dir)` changes config.json before it is written."""
    made = []

    def make(args: list[str], edit=None) -> str:
        path = str(tmp_path / f"flat{len(made) + 1}")
        shutil.copytree(busybox_tree, path, symlinks=True)
        config = base_config(args)
        config["root"] = {"path": "."}
        if edit:
            edit(config, path)
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump(config, f)
        made.append(path)
        return path

    return make


@pytest.fixture
def ns_holder():
    """ns_holder(ns) -> pid of a process in a new namespace of that kind ("mnt", "ipc", "uts", "net");
    killed, with its child, afterwards."""
    started = []

    def start(ns: str) -> int:
        flag = {"mnt": "--mount"}.get(ns, f"--{ns}")
        proc = subprocess.Popen(["unshare", flag, "--fork", "sleep", "600"], start_new_session=True)
        started.append(proc)
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{proc.pid}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}"):
            assert time.monotonic() < deadline, f"unshare {flag} never took effect"
            time.sleep(0.02)
        return proc.pid

    yield start
    for proc in started:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def output_file(tmp_path, name: str):
    return open(tmp_path / name, "w+")


# --- namespaces (config-linux.md "Namespaces") ------------------------------------------------

@pytest.mark.parametrize("kind, wrong", [("ipc", "mnt"), ("network", "pid"), ("uts", "cgroup"), ("mount", "net"),
                                         ("cgroup", "ipc")])
def test_a_namespace_path_of_another_type_is_an_error(oci, bundle, kind, wrong):
    """"If a path is specified that does not match the type, the runtime MUST generate an error"."""
    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != kind]
        c["linux"]["namespaces"].append({"type": kind, "path": f"/proc/self/ns/{wrong}"})
    err = oci("create", "--bundle", bundle(["true"], edit), "wrongns", rc=1).err.strip()
    assert f"{kind} namespace" in err and "\n" not in err, err
    oci("state", "wrongns", rc=1)


def test_a_mount_namespace_joined_by_path_holds_the_container(oci, bundle, ns_holder, tmp_path):
    """The init joins the namespace at the path and the container is built in it: it starts and runs."""
    holder = ns_holder("mnt")

    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "mount"]
        c["linux"]["namespaces"].append({"type": "mount", "path": f"/proc/{holder}/ns/mnt"})
    with output_file(tmp_path, "out") as out:
        oci("create", "--bundle", bundle(["echo", "ran"], edit),
            "joinmnt", stdout=out)
        state = oci.state("joinmnt")
        assert state["status"] == "created"
        assert os.readlink(f"/proc/{state['pid']}/ns/mnt") == os.readlink(f"/proc/{holder}/ns/mnt")
        oci("start", "joinmnt")
        oci.wait_status("joinmnt", "stopped")
        out.seek(0)
        assert out.read() == "ran\n"
    oci("delete", "joinmnt")


def test_without_namespaces_the_container_shares_the_runtimes(oci, bundle, tmp_path):
    """"If a namespace type is not specified ... the container MUST inherit the runtime namespace of
    that type": every namespace of the init is ours, and it still starts and runs its process.
    The config's mounts stay unmounted (no private mount namespace to put them in), which the
    fixture's leak check confirms."""
    def edit(c):
        c["linux"]["namespaces"] = []
        c.pop("hostname")
    with output_file(tmp_path, "out") as out:
        oci("create", "--bundle", bundle(["echo", "shared"], edit), "nons", stdout=out)
        pid = oci.state("nons")["pid"]
        for ns in HOST_NAMESPACES:
            assert os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}"), ns
        oci("start", "nons")
        oci.wait_status("nons", "stopped")
        out.seek(0)
        assert out.read() == "shared\n"
    oci("delete", "nons")


# --- hooks (config.md "POSIX-platform Hooks") -------------------------------------------------

def test_a_failing_poststart_or_poststop_hook_leaves_the_others_running(oci, flat_bundle):
    """"If any poststart (poststop) hook fails, the runtime MUST log a warning, but the remaining
    hooks and lifecycle continue as if the hook had succeeded"."""
    def edit(c, b):
        c["hooks"] = {kind: [{"path": f"{b}/bin/false", "args": ["false"]},
                             {"path": f"{b}/bin/sh", "args": ["sh", "-c", f"echo {kind} >> {b}/hooks.out"]}]
                      for kind in ("poststart", "poststop")}
    b = flat_bundle(["true"], edit)
    oci("create", "--bundle", b, "posthooks")
    assert "warning: poststart hook #0" in oci("start", "posthooks").err
    oci.wait_status("posthooks", "stopped")
    assert "warning: poststop hook #0" in oci("delete", "posthooks").err
    with open(os.path.join(b, "hooks.out")) as f:
        assert f.read() == "poststart\npoststop\n"
    oci("state", "posthooks", rc=1)


def test_hooks_get_the_state_with_annotations_in_a_flat_bundle(oci, flat_bundle):
    """The state on each hook's stdin names the bundle as create was given it, the init's pid and
    the config's annotations; the hook's timeout (1 s) is ample for a quick hook."""
    annotations = {"org.opencontainers.runtime-tools": "hook stdin test"}

    def edit(c, b):
        c["annotations"] = annotations
        c["hooks"] = {kind: [{"path": f"{b}/bin/sh", "args": ["sh", "-c", f"cat > {b}/{kind}.json"], "timeout": 1}]
                      for kind in ("prestart", "poststart", "poststop")}
    b = flat_bundle(["true"], edit)
    oci("create", "--bundle", b, "stdin")
    pid = oci.state("stdin")["pid"]
    oci("start", "stdin")
    oci.wait_status("stdin", "stopped")
    oci("delete", "stdin")
    statuses = {}
    for kind in ("prestart", "poststart", "poststop"):
        with open(os.path.join(b, f"{kind}.json")) as f:
            state = json.load(f)
        assert state["id"] == "stdin" and state["bundle"] == b, kind
        assert state["annotations"] == annotations, kind
        if kind != "poststop":
            assert state["pid"] == pid, kind
        statuses[kind] = state["status"]
    # prestart runs during create (runtime spec 1.0.2), so the container is still "creating"
    assert statuses == {"prestart": "creating", "poststart": "running", "poststop": "stopped"}


def test_config_changes_after_create_do_not_affect_the_container(oci, flat_bundle):
    """"Any updates to config.json after this step MUST NOT affect the container": start works from
    what create recorded (the poststart hook still runs) with config.json gone to a bare object."""
    def edit(c, b):
        c["hooks"] = {"poststart": [{"path": f"{b}/bin/sh", "args": ["sh", "-c", f"echo ran > {b}/poststart"]}]}
    b = flat_bundle(["true"], edit)
    oci("create", "--bundle", b, "upd")
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump({"ociVersion": "1.0.0"}, f)
    oci("start", "upd")
    oci.wait_status("upd", "stopped")
    oci("delete", "upd")
    with open(os.path.join(b, "poststart")) as f:
        assert f.read() == "ran\n"


# --- create and its options ----------------------------------------------------------------

def test_pid_file_holds_the_init_pid_and_nothing_else(oci, flat_bundle, tmp_path):
    """runtime-tools parses the file with a strict integer parser: no newline, no spaces."""
    pid_file = tmp_path / "pidfile"
    oci("create", "--pid-file", str(pid_file), "--bundle", flat_bundle(["true"]), "pidf")
    assert pid_file.read_text() == str(oci.state("pidf")["pid"])
    oci("start", "pidf")
    oci.wait_status("pidf", "stopped")
    oci("delete", "pidf")


@pytest.mark.parametrize("version, ok", [("invalid", False), ("1.0", False), ("1.0.2-dev", True), ("1.1.0+dev", True)])
def test_oci_version_must_be_semver(oci, bundle, version, ok):
    """config.md: ociVersion "MUST be in SemVer v2.0.0 format"; an invalid value is an error."""
    ran = oci("create", "--bundle", bundle(["true"], lambda c: c.update(ociVersion=version)), "ver", rc=None)
    if ok:
        assert ran.rc == 0, ran
        oci("delete", "--force", "ver")
    else:
        assert ran.rc == 1 and "ociVersion" in ran.err and "\n" not in ran.err.strip(), ran
        oci("state", "ver", rc=1)


def test_unknown_properties_and_annotation_keys_are_ignored(oci, bundle):
    def edit(c):
        c["unknown"] = "unknown"
        c["annotations"] = {"org.example.unknown": ""}
    oci("create", "--bundle", bundle(["true"], edit), "unk")
    assert oci.state("unk")["annotations"] == {"org.example.unknown": ""}
    oci("delete", "--force", "unk")


# --- cgroups, read back as the validation's cgroup reader does ----------------------------

@pytest.fixture
def cgroup_parent():
    name = f"mydocker-oci-{secrets.token_hex(4)}"
    yield name
    for top in os.listdir(V1):
        path = os.path.join(V1, top, name)
        if os.path.isdir(path) and not os.path.islink(os.path.join(V1, top)):
            os.rmdir(path)


@pytest.mark.skipif(not os.path.exists(f"{V1}/devices/devices.list"), reason="needs the v1 devices controller")
def test_device_rules_are_applied_in_the_listed_order(oci, bundle, cgroup_parent):
    """"The runtime MUST apply entries in the listed order": after the deny-all, devices.list starts
    with the config's allow rules, in order (the built-in ones come after)."""
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
             {"allow": True, "type": "b", "major": 8, "minor": 20, "access": "rw"},
             {"allow": True, "type": "b", "major": 10, "minor": 200, "access": "r"}]

    def edit(c):
        c["linux"]["cgroupsPath"] = f"/{cgroup_parent}/dev"
        c["linux"]["resources"] = {"devices": rules}
    oci("create", "--bundle", bundle(["true"], edit), "devorder")
    with open(f"{V1}/devices/{cgroup_parent}/dev/devices.list") as f:
        listed = f.read().splitlines()
    assert listed[:3] == ["c 10:229 rwm", "b 8:20 rw", "b 10:200 r"]
    oci("delete", "--force", "devorder")


@pytest.mark.skipif(not os.path.isdir(f"{V1}/pids"), reason="needs the v1 pids controller")
def test_delete_leaves_a_cgroup_the_container_did_not_create(oci, bundle, cgroup_parent):
    """Someone moves the created container into a cgroup of their own: delete removes the container's
    cgroups, never that one ("resources ... not created by this container, MUST NOT be deleted")."""
    theirs = f"{V1}/pids/{cgroup_parent}"
    os.mkdir(theirs)
    oci("create", "--bundle", bundle(["true"]), "foreign")
    with open(f"{theirs}/cgroup.procs", "w") as f:
        f.write(str(oci.state("foreign")["pid"]))
    oci("start", "foreign")
    oci.wait_status("foreign", "stopped")
    oci("delete", "foreign")
    assert os.path.isdir(theirs)
