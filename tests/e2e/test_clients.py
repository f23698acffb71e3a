"""Real engines drive `mydocker-runtime` in place of runc: podman (--runtime), containerd
(`ctr run --runc-binary`) and dockerd (--add-runtime). Each uses private roots, runs with
networking off (no bridges or firewall rules on the host), and is stopped by its pid afterwards.
A test skips, saying why, only when the engine is not installed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from mydocker.image.busybox import build_layer, find_host_busybox


def need(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/bin/{binary}" if os.path.exists(f"/usr/bin/{binary}") else None)
    if not path:
        pytest.skip(f"{binary} is not installed (apt-get install {'docker.io' if binary == 'dockerd' else binary})")
    return path


def sh(*argv: str, rc: int | None = 0, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    if rc is not None:
        assert proc.returncode == rc, f"$ {' '.join(argv)}\nrc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory) -> str:
    """A rootfs tarball of the host's busybox (what `podman import` takes)."""
    base = tmp_path_factory.mktemp("mydocker-clients")
    path = base / "busybox-rootfs.tar"
    with open(path, "wb") as out:
        build_layer(find_host_busybox(), out)
    return str(path)


ENGINE_CGROUPS = ("libpod_parent", "mydocker-clients", "docker")  # podman's, our ctr namespace's, dockerd's


@pytest.fixture
def scoped_leaks(tmp_path, short_dir):
    """Mounts under this test's directories and the engines' cgroup parents must be gone afterwards
    (other suites run on this host at the same time: a global check would see their objects)."""
    existed = {name for name in ENGINE_CGROUPS if os.path.isdir(f"/sys/fs/cgroup/memory/{name}")}
    yield
    for name in set(ENGINE_CGROUPS) - existed:
        remove_empty_cgroups(name)  # parents the engines create and never remove (runc leaves them too)
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if line.split()[4].startswith((str(tmp_path), short_dir))]
    cgroups = [name for name in set(ENGINE_CGROUPS) - existed if os.path.isdir(f"/sys/fs/cgroup/memory/{name}")]
    assert not mounts and not cgroups, f"left behind: {mounts} {cgroups}"


@pytest.fixture
def short_dir():
    """podman wants a run root of at most 50 characters: one under /run."""
    import tempfile
    path = tempfile.mkdtemp(prefix="mydocker-e2e-", dir="/run")
    yield path
    unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


def unmount_under(path: str) -> None:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f if line.split()[4].startswith(path)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def remove_empty_cgroups(name: str) -> None:
    """Engines create their own parent cgroups (podman: libpod_parent); remove them if empty."""
    for top in os.listdir("/sys/fs/cgroup"):
        path = os.path.join("/sys/fs/cgroup", top, name)
        if os.path.isdir(path):
            for dirpath, _, _ in sorted(os.walk(path, topdown=False), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass


class Daemon:
    def __init__(self, argv: list[str], log: str) -> None:
        self.log = log
        with open(log, "w") as f:
            self.proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def wait_for(self, check, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                with open(self.log) as f:
                    tail = f.read()[-2000:]
                last = tail.strip().splitlines()[-1] if tail.strip() else "no output"
                pytest.skip(f"{what} did not start here: {last}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_podman(bindir, tmp_path, busybox_tar, short_dir, scoped_leaks):
    podman = need("podman")
    runtime = os.path.join(bindir, "mydocker-runtime")
    base = str(tmp_path / "mydocker-podman")
    p = [podman, "--root", f"{base}/root", "--runroot", f"{short_dir}/run", "--cgroup-manager", "cgroupfs",
         "--events-backend", "file", "--runtime", runtime]
    # No CAP_SYS_RESOURCE here: podman's default NOFILE/NPROC limits cannot be set (foundation bench).
    # podman's default seccomp profile (containers-common) applies: no --security-opt seccomp=unconfined.
    opts = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "none"]
    try:
        sh(*p, "import", busybox_tar, "localhost/busybox:latest")
        assert sh(*p, "run", "--rm", *opts, "busybox", "echo", "hi").stdout == "hi\n"
        status = sh(*p, "run", "--rm", *opts, "busybox", "grep", "^Seccomp:", "/proc/self/status").stdout
        assert status.split() == ["Seccomp:", "2"]  # filtered
        cid = sh(*p, "run", "-d", "--name", "web", *opts, "busybox", "sh", "-c",
                 "echo started; sleep 100").stdout.strip()
        assert cid
        time.sleep(0.5)
        assert "started" in sh(*p, "logs", "web").stdout
        assert sh(*p, "exec", "web", "sh", "-c", "echo in-exec; exit 3", rc=3).stdout == "in-exec\n"
        assert sh(*p, "exec", "-t", "web", "tty").stdout.startswith("/dev/pts/")
        assert sh(*p, "inspect", "--format", "{{.State.Status}}", "web").stdout.strip() == "running"
        sh(*p, "stop", "-t", "1", "web")
        assert sh(*p, "inspect", "--format", "{{.State.Status}}", "web").stdout.strip() == "exited"
        sh(*p, "rm", "web")
    finally:
        subprocess.run([*p, "rm", "-f", "-a"], capture_output=True)
        unmount_under(base)


def test_podman_read_only(bindir, tmp_path, busybox_tar, short_dir, scoped_leaks):
    """podman --read-only adds tmpfs mounts on /tmp, /var/tmp and /run with runc's `tmpcopyup`."""
    podman = need("podman")
    base = str(tmp_path / "mydocker-podman")
    p = [podman, "--root", f"{base}/root", "--runroot", f"{short_dir}/run", "--cgroup-manager", "cgroupfs",
         "--events-backend", "file", "--runtime", os.path.join(bindir, "mydocker-runtime")]
    opts = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "none"]
    script = ("touch /tmp/a /var/tmp/b /run/c && echo tmpfs-writable; "
              "touch /bin/x 2>/dev/null && echo root-writable || echo root-read-only; "
              "grep -c ' /tmp tmpfs ' /proc/mounts")
    try:
        sh(*p, "import", busybox_tar, "localhost/busybox:latest")
        out = sh(*p, "run", "--rm", "--read-only", *opts, "busybox", "sh", "-c", script).stdout
        assert out.split() == ["tmpfs-writable", "root-read-only", "1"], out
    finally:
        subprocess.run([*p, "rm", "-f", "-a"], capture_output=True)
        unmount_under(base)


def test_containerd_ctr_runc_binary(bindir, tmp_path, busybox_tar, short_dir, scoped_leaks):
    containerd, ctr = need("containerd"), need("ctr")
    podman = need("podman")  # to write the docker-archive `ctr images import` takes
    runtime = os.path.join(bindir, "mydocker-runtime")
    base = tmp_path / "mydocker-containerd"
    base.mkdir()
    sock = f"{short_dir}/containerd.sock"  # a unix socket path (and its .ttrpc) must stay under 104 bytes
    (base / "config.toml").write_text(f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
                                      f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{sock}.ttrpc"\n'
                                      '[debug]\n  address = ""\n[metrics]\n  address = ""\n'
                                      '[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    disable_cgroup = true\n')
    archive = str(base / "busybox-docker.tar")
    pm = [podman, "--root", f"{base}/podman", "--runroot", f"{short_dir}/podman-run"]
    daemon = Daemon([containerd, "--config", str(base / "config.toml")], str(base / "containerd.log"))
    c = [ctr, "-a", sock, "-n", "mydocker-clients"]
    try:
        daemon.wait_for(lambda: os.path.exists(sock), "containerd")
        sh(*pm, "import", busybox_tar, "localhost/busybox:latest")
        sh(*pm, "save", "-o", archive, "localhost/busybox:latest")
        sh(*c, "images", "import", archive)
        out = sh(*c, "run", "--rm", "--runc-binary", runtime, "localhost/busybox:latest", "t1", "echo", "hi").stdout
        assert out == "hi\n"
        sh(*c, "run", "-d", "--runc-binary", runtime, "localhost/busybox:latest", "t2", "sleep", "100")
        assert "RUNNING" in sh(*c, "task", "ls").stdout
        assert sh(*c, "task", "exec", "--exec-id", "e1", "t2", "echo", "exec-ok").stdout == "exec-ok\n"
        sh(*c, "task", "pause", "t2")
        assert "PAUSED" in sh(*c, "task", "ls").stdout
        sh(*c, "task", "resume", "t2")
        sh(*c, "task", "kill", "-s", "KILL", "t2")
        deadline = time.monotonic() + 10
        while "STOPPED" not in sh(*c, "task", "ls").stdout:
            assert time.monotonic() < deadline, "the task never stopped"
            time.sleep(0.1)
        sh(*c, "task", "rm", "t2")
        sh(*c, "containers", "rm", "t2")
    finally:
        for task in ("t1", "t2"):
            subprocess.run([*c, "task", "kill", "-s", "KILL", task], capture_output=True)
            subprocess.run([*c, "task", "rm", "-f", task], capture_output=True)
            subprocess.run([*c, "containers", "rm", task], capture_output=True)
        daemon.stop()
        subprocess.run([*pm, "rmi", "-a", "-f"], capture_output=True)
        unmount_under(str(base))


def test_dockerd_add_runtime(bindir, tmp_path, busybox_tar, short_dir, scoped_leaks):
    dockerd, podman = need("dockerd"), need("podman")
    docker = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else need("docker")
    runtime = os.path.join(bindir, "mydocker-runtime")
    base = tmp_path / "mydocker-dockerd"
    base.mkdir()
    sock = f"unix://{short_dir}/docker.sock"  # unix socket paths are short: keep them under /run
    # No bridge, no iptables: nothing of dockerd's networking touches the host. vfs: no overlay quirks.
    daemon = Daemon([dockerd, "--data-root", f"{base}/data", "--exec-root", f"{short_dir}/exec", "--pidfile",
                     f"{short_dir}/docker.pid", "-H", sock, "--bridge=none", "--iptables=false", "--ip6tables=false",
                     "--ip-masq=false", "--storage-driver", "vfs", "--add-runtime", f"mydocker={runtime}"],
                    str(base / "dockerd.log"))
    d = [docker, "-H", sock]
    archive = str(base / "busybox-docker.tar")
    pm = [podman, "--root", f"{base}/podman", "--runroot", f"{short_dir}/podman-run"]
    try:
        daemon.wait_for(lambda: subprocess.run([*d, "version"], capture_output=True).returncode == 0, "dockerd")
        sh(*pm, "import", busybox_tar, "localhost/busybox:latest")
        sh(*pm, "save", "-o", archive, "localhost/busybox:latest")
        sh(*d, "load", "-i", archive)
        run = [*d, "run", "--runtime", "mydocker", "--network", "none"]
        assert sh(*run, "--rm", "localhost/busybox:latest", "echo", "hi").stdout == "hi\n"
        sh(*run, "-d", "--name", "web", "localhost/busybox:latest", "sleep", "100")
        assert sh(*d, "exec", "web", "echo", "exec-ok").stdout == "exec-ok\n"
        assert sh(*d, "inspect", "--format", "{{.HostConfig.Runtime}}", "web").stdout.strip() == "mydocker"
        sh(*d, "rm", "-f", "web")
    finally:
        subprocess.run([*d, "rm", "-f", "web"], capture_output=True)
        daemon.stop()
        subprocess.run([*pm, "rmi", "-a", "-f"], capture_output=True)
        unmount_under(str(base))
