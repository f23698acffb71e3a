"""What runtime-tools' remaining validation programs set and the runtime spec asks of it: the user's
umask and additional groups (process_user), rlimits of every Linux type and the ones that cannot be
set (process_rlimits, process_rlimits_fail), oomScoreAdj out of range, device nodes of each type with
their mode (linux_devices), and sysctls, which config-linux.md allows only where a namespace of the
container isolates them: any other would be written to the host.
"""

from __future__ import annotations

import json
import resource

import pytest

from tests.conformance.conftest import base_config

# Every rlimit getrlimit(2) names, with its number (Python's resource module lacks RLIMIT_LOCKS).
LINUX_RLIMITS = {"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
                 "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
                 "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
                 "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15}
# /proc/self/limits row title of each, in the kernel's order
LIMIT_ROWS = ["Max cpu time", "Max file size", "Max data size", "Max stack size", "Max core file size",
              "Max resident set", "Max processes", "Max open files", "Max locked memory", "Max address space",
              "Max file locks", "Max pending signals", "Max msgqueue size", "Max nice priority",
              "Max realtime priority", "Max realtime timeout"]
UNLIMITED = 2**64 - 1


# (soft, hard) asked for, each type its own; big enough for `cat` to start, write and exit under them.
ASKED = {"RLIMIT_CPU": (100, 200), "RLIMIT_FSIZE": (2**30, 2**31), "RLIMIT_DATA": (2**31, 2**32),
         "RLIMIT_STACK": (2**23, 2**30), "RLIMIT_CORE": (UNLIMITED, UNLIMITED), "RLIMIT_RSS": (2**30, 2**31),
         "RLIMIT_NPROC": (500, 600), "RLIMIT_NOFILE": (300, 400), "RLIMIT_MEMLOCK": (2**16, 2**17),
         "RLIMIT_AS": (2**32, 2**33), "RLIMIT_LOCKS": (7, 8), "RLIMIT_SIGPENDING": (100, 200),
         "RLIMIT_MSGQUEUE": (1000, 2000), "RLIMIT_NICE": (0, 0), "RLIMIT_RTPRIO": (0, 0), "RLIMIT_RTTIME": (1000, 2000)}


def _limits_within_ours() -> list[dict]:
    """ASKED, never above what this runtime holds (it may lack CAP_SYS_RESOURCE to raise a hard limit)."""
    wanted = []
    for name, number in LINUX_RLIMITS.items():
        soft, hard = ASKED[name]
        held = resource.getrlimit(number)[1]
        if held != resource.RLIM_INFINITY:
            hard = min(hard, held)
            soft = min(soft, hard)
        wanted.append({"type": name, "soft": soft, "hard": hard})
    return wanted


def _limits_table(out: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in out.splitlines():
        for title in LIMIT_ROWS:
            if line.startswith(title):
                soft, hard = line[len(title):].split()[:2]
                rows[title] = (soft, hard)
    return rows


def _one_line_error(ran, *words: str) -> None:
    assert ran.rc == (255 if "exec" in ran.argv else 1), ran
    assert "Traceback" not in ran.err and len(ran.err.strip().splitlines()) == 1, ran
    for word in words:
        assert word in ran.err, ran


def test_user_gets_uid_gid_additional_gids_and_umask(oci, bundle):
    """config.md POSIX user: uid, gid, additionalGids and umask, as process_user sets them."""
    def user(c):
        c["process"]["user"] = {"uid": 10, "gid": 10, "additionalGids": [5], "umask": 0o002}
    code, out = oci.output(bundle(["sh", "-c", "id -u; id -g; id -G; umask; grep Groups /proc/self/status"], user),
                           "user")
    assert code == 0 and out.split() == ["10", "10", "10", "5", "0002", "Groups:", "5"], out


def test_rlimits_of_every_linux_type_are_set(oci, bundle):
    """config.md process.rlimits: each entry is set for the process; "unlimited" is 2^64-1."""
    wanted = _limits_within_ours()
    code, out = oci.output(bundle(["cat", "/proc/self/limits"], lambda c: c["process"].update(rlimits=wanted)),
                           "rlimits")
    assert code == 0, out
    seen = _limits_table(out)
    for limit, title in zip(wanted, LIMIT_ROWS):
        expect = tuple("unlimited" if v == UNLIMITED else str(v) for v in (limit["soft"], limit["hard"]))
        assert seen.get(title) == expect, f"{limit['type']}: {seen.get(title)}\n{out}"


@pytest.mark.parametrize("limit, words", [
    ({"type": "RLIMIT_TEST", "soft": 1024, "hard": 1024}, ["RLIMIT_TEST", "process.rlimits"]),
    ({"type": "RLIMIT_NOFILE", "soft": 200, "hard": 100}, ["RLIMIT_NOFILE", "process.rlimits", "soft <= hard"]),
])
def test_an_rlimit_that_cannot_be_set_fails_create(oci, bundle, limit, words):
    """"The runtime MUST generate an error for any values which cannot be mapped to a relevant kernel
    interface" (process_rlimits_fail); one that setrlimit refuses fails create the same way."""
    ran = oci("create", "--bundle", bundle(["true"], lambda c: c["process"].update(rlimits=[limit])), "rl", rc=1)
    _one_line_error(ran, *words)
    oci("state", "rl", rc=1)


def test_exec_sets_unlimited_and_locks_rlimits_and_refuses_unknown_ones(oci, bundle, tmp_path):
    """An exec'd process gets its process.json's rlimits as the container's process does."""
    if resource.getrlimit(resource.RLIMIT_CORE)[1] != resource.RLIM_INFINITY:
        pytest.skip("RLIMIT_CORE is capped for this runtime: 'unlimited' cannot be asked for")
    oci("run", "--detach", "--bundle", bundle(["sleep", "30"]), "ex")
    process = base_config(["sh", "-c", "grep -E 'core file|file locks' /proc/self/limits"])["process"]
    process["rlimits"] = [{"type": "RLIMIT_CORE", "soft": UNLIMITED, "hard": UNLIMITED},
                          {"type": "RLIMIT_LOCKS", "soft": 7, "hard": 8}]
    (tmp_path / "p.json").write_text(json.dumps(process))
    seen = _limits_table(oci("exec", "--process", str(tmp_path / "p.json"), "ex").out)
    assert seen == {"Max core file size": ("unlimited", "unlimited"), "Max file locks": ("7", "8")}, seen
    process["rlimits"] = [{"type": "RLIMIT_TEST", "soft": 1, "hard": 1}]
    (tmp_path / "p.json").write_text(json.dumps(process))
    _one_line_error(oci("exec", "--process", str(tmp_path / "p.json"), "ex", rc=255),  # runc: exec failures exit 255
                    "process.rlimits", "RLIMIT_TEST")


@pytest.mark.parametrize("score", [1001, -1001])
def test_oom_score_adj_the_kernel_refuses_fails_create_naming_the_field(oci, bundle, score):
    ran = oci("create", "--bundle", bundle(["true"], lambda c: c["process"].update(oomScoreAdj=score)), "oom", rc=1)
    _one_line_error(ran, "process.oomScoreAdj", str(score))


def test_devices_of_each_type_get_their_numbers_mode_and_owner(oci, bundle):
    """config-linux.md devices, as linux_devices adds them: a character and a block device and a fifo,
    each with fileMode 0660 whatever the umask, uid and gid."""
    devices = [{"path": "/dev/test1", "type": "c", "major": 10, "minor": 666, "fileMode": 0o660, "uid": 0, "gid": 0},
               {"path": "/dev/test2", "type": "b", "major": 8, "minor": 666, "fileMode": 0o660, "uid": 0, "gid": 0},
               {"path": "/dev/test3", "type": "p", "fileMode": 0o660, "uid": 1, "gid": 2}]
    b = bundle(["stat", "-c", "%n %F %t:%T %a %u:%g", "/dev/test1", "/dev/test2", "/dev/test3"],
               lambda c: c["linux"].update(devices=devices))
    code, out = oci.output(b, "devs")
    assert out.splitlines() == ["/dev/test1 character special file a:29a 660 0:0",
                                "/dev/test2 block special file 8:29a 660 0:0",
                                "/dev/test3 fifo 0:0 660 1:2"], out


def _host(key: str) -> str:
    with open("/proc/sys/" + key.replace(".", "/")) as f:
        return f.read().strip()


@pytest.mark.parametrize("key, drop", [
    ("vm.swappiness", None),                   # no namespace isolates it
    ("fs.file-max", None),
    ("net.ipv4.ip_forward", "network"),        # the container shares the host's network namespace
    ("kernel.shmmni", "ipc"),                  # ... or its ipc namespace
])
def test_a_sysctl_no_namespace_of_the_container_isolates_is_refused(oci, bundle, key, drop):
    """config-linux.md sysctl modifies "kernel parameters at runtime for the container": one that
    lives outside the container's namespaces would change the host's. The host's own value is asked
    for, so that a runtime that did write it changes nothing."""
    def edit(c):
        c["linux"]["sysctl"] = {key: _host(key)}
        c["linux"]["namespaces"] = [ns for ns in c["linux"]["namespaces"] if ns["type"] != drop]
    ran = oci("create", "--bundle", bundle(["true"], edit), "sysctl", rc=1)
    _one_line_error(ran, f"linux.sysctl {key}")
    oci("state", "sysctl", rc=1)


@pytest.mark.parametrize("key", ["hostname", "domainname"])
def test_a_hostname_without_a_uts_namespace_is_refused(oci, bundle, key):
    """Without a UTS namespace of its own the container shares the host's, whose name the runtime
    would change (runc refuses as well; runtime-tools' validation drops hostname in that case). The
    host's own name is asked for, so that a runtime that did set it changes nothing."""
    def edit(c):
        c.pop("hostname")
        c[key] = _host(f"kernel.{key}")
        c["linux"]["namespaces"] = [ns for ns in c["linux"]["namespaces"] if ns["type"] != "uts"]
    ran = oci("create", "--bundle", bundle(["true"], edit), "nouts", rc=1)
    _one_line_error(ran, key, "UTS namespace")
    oci("state", "nouts", rc=1)
