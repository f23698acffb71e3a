"""`exec`: a new process joins a running container's namespaces and cgroup (runtime API and CLI)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from mydocker.errors import CommandNotFound, Conflict
from mydocker.runtime.create import create
from mydocker.runtime.delete import delete
from mydocker.runtime.exec import exec_process, wait_for_exit
from mydocker.runtime.start import start


DOCKER_CAPS = [f"CAP_{c}" for c in ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                                   "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                                   "AUDIT_WRITE")]


@pytest.fixture
def no_leaks(tmp_path):
    """Scoped to this test's directories: other engineers' tests run at the same time on this host."""
    yield
    with open("/proc/self/mountinfo") as f:
        left = [line.split()[4] for line in f if line.split()[4].startswith(str(tmp_path))]
    assert not left, f"mounts left behind: {left}"


@pytest.fixture
def running(make_bundle, runtime_root, tmp_path):
    """A started busybox container (sleep) made with the runtime API; deleted afterwards."""
    def edit(config: dict) -> None:  # Docker's default capabilities: the spy below can see the init
        config["process"]["capabilities"] = {k: DOCKER_CAPS for k in ("bounding", "effective", "permitted")}
    bundle = make_bundle(["sleep", "60"], edit)
    _state, init = create(runtime_root, "exectest", bundle)
    start(runtime_root, "exectest")
    yield init.pid
    delete(runtime_root, "exectest", force=True)


def run_exec(runtime_root: str, args: list[str], **process) -> tuple[int, str]:
    r, w = os.pipe()
    proc = exec_process(runtime_root, "exectest",
                        {"args": args, "env": process.pop("env", ["PATH=/bin:/usr/bin"]), "cwd": "/", **process},
                        stdio=(0, w, w))
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    return wait_for_exit(proc.pid), out


def test_exec_sees_the_containers_pid1_hostname_rootfs_env(running, runtime_root, tmp_path):
    marker = tmp_path / "host-only"
    marker.write_text("x")
    code, out = run_exec(runtime_root, ["sh", "-c", f"cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; "
                                                   f"test -e {marker} && echo host-visible; ls /bin/busybox; "
                                                   "echo $X; pwd; id -u; echo $$; exit 4"],
                         env=["PATH=/bin", "X=1"], cwd="/tmp", user={"uid": 65534, "gid": 65534})
    lines = out.splitlines()
    assert code == 4
    assert lines[0].strip() == "sleep 60"
    assert lines[1] == "bundle"
    assert "host-visible" not in lines
    assert lines[2:6] == ["/bin/busybox", "1", "/tmp", "65534"]
    assert int(lines[6]) > 1  # a pid in the container's PID namespace, not the host's


def test_exec_is_in_the_containers_cgroups_and_namespaces(running, runtime_root):
    code, out = run_exec(runtime_root, ["sh", "-c", "cat /proc/self/cgroup; echo --; cat /proc/1/cgroup; echo --;"
                                                    "for n in ipc mnt net pid uts; do "
                                                    "readlink /proc/self/ns/$n; readlink /proc/1/ns/$n; done"])
    mine, init, links = out.split("--\n")
    assert code == 0 and mine == init, out
    pairs = links.split()
    assert len(pairs) == 10 and all(pairs[i] == pairs[i + 1] for i in range(0, 10, 2))


def test_exec_errors(running, runtime_root):
    with pytest.raises(CommandNotFound):
        exec_process(runtime_root, "exectest", {"args": ["no-such-cmd"], "env": ["PATH=/bin"], "cwd": "/"})
    with pytest.raises(Exception, match="working directory"):
        exec_process(runtime_root, "exectest", {"args": ["true"], "env": ["PATH=/bin"], "cwd": "/no/such"})


def test_exec_in_a_stopped_container_is_refused(make_bundle, runtime_root):
    bundle = make_bundle(["true"])
    _state, init = create(runtime_root, "exectest", bundle)
    try:
        start(runtime_root, "exectest")
        wait_for_exit(init.pid)
        with pytest.raises(Conflict):
            exec_process(runtime_root, "exectest", {"args": ["true"], "cwd": "/"})
    finally:
        delete(runtime_root, "exectest", force=True)


def test_joining_process_is_never_visible_as_the_hosts_python(running, runtime_root):
    """CVE-2019-5736: the container must not reach /proc/<pid>/exe of the joining (Python) process.

    The spy has Docker's default capabilities (no CAP_SYS_PTRACE, which overrides non-dumpable)."""
    spy_caps = {k: DOCKER_CAPS for k in ("bounding", "effective", "permitted")}
    r, w = os.pipe()
    spy = exec_process(runtime_root, "exectest", {
        "args": ["sh", "-c", "end=$(($(date +%s)+4)); while [ $(date +%s) -lt $end ]; do "
                             "for p in /proc/[0-9]*; do readlink $p/exe; done; done | sort -u"],
        "env": ["PATH=/bin"], "cwd": "/", "capabilities": spy_caps}, stdio=(0, w, 2))
    os.close(w)
    for _ in range(40):  # with the spy's capabilities: only non-dumpable can hide them from it
        assert run_exec(runtime_root, ["true"], capabilities=spy_caps)[0] == 0
    with os.fdopen(r) as f:
        seen = f.read().split()
    wait_for_exit(spy.pid)
    assert "/bin/sleep" in seen  # the spy does see the executables of the container's processes
    assert not [s for s in seen if "python" in s], seen


# --- through the CLI ---------------------------------------------------------------------------

@pytest.fixture
def web(mydocker, monkeypatch):
    monkeypatch.setenv("MYDOCKER_MONITOR_IDLE", "0.3")
    cid = mydocker("run", "-d", "--name", "web", "-e", "FROM_RUN=1", "busybox", "sleep", "60").out.strip()
    yield cid
    mydocker("rm", "-f", "web", rc=None)


def test_cli_exec_env_user_workdir_and_exit_code(mydocker, web):
    r = mydocker("exec", "-e", "X=1", "-u", "nobody", "-w", "/tmp", "web", "sh", "-c",
                 "echo $X $FROM_RUN; id -u; pwd; hostname; exit 6", rc=6)
    assert r.out.split() == ["1", "1", "65534", "/tmp", web[:12]]
    r = mydocker("exec", "web", "no-such-cmd", rc=127)
    assert "no-such-cmd" in r.err and len(r.err.splitlines()) == 1
    mydocker("exec", "web", "/etc/passwd", rc=126)
    mydocker("exec", "nope", "true", rc=1)


def test_cli_exec_detach(mydocker, web):
    started = time.monotonic()
    assert mydocker("exec", "-d", "web", "sh", "-c", "sleep 0.5; echo later > /tmp/d").out == ""
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 10
    while mydocker("exec", "web", "cat", "/tmp/d", rc=None).out != "later\n":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_cli_exec_tty(mydocker, web):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(mydocker.argv("exec", "-ti", "-e", "X=hello", "web", "sh")[0],
                          mydocker.argv("exec", "-ti", "-e", "X=hello", "web", "sh")[1:], timeout=20)
    child.expect("# ")
    child.sendline("tty; echo $X-$TERM; exit 3")
    child.expect("/dev/pts/")
    child.expect("hello-xterm")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3


def test_fifty_parallel_execs_succeed_and_leave_nothing(mydocker, web):
    procs = [subprocess.Popen(mydocker.argv("exec", "web", "true"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(50)]
    codes = [p.wait(timeout=120) for p in procs]
    errors = [p.stderr.read() for p in procs if p.returncode]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert codes == [0] * 50, errors
    out = mydocker("top", "web").out.splitlines()
    assert len(out) == 2 and out[1].endswith("sleep 60")  # only the init is left in the container
    r = mydocker("exec", "web", "ps", "-o", "pid,comm")
    assert r.out.split()[2:4] == ["1", "sleep"] and len(r.out.splitlines()) == 3
