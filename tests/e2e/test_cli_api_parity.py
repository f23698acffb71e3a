"""The mydocker CLI and the docker CLI pointed at `mydocker system service` give the same answers for the
same commands on ONE engine root (the service runs with the CLI's --root/--runroot): ps (columns and
values), inspect (the fields that matter, as JSON), logs (the stdout/stderr split, --tail, --timestamps),
exit codes, images, network ls, volume ls, port, top.

Standard output and exit codes are compared; error messages are not (mydocker prefixes its own name,
the docker CLI says "Error response from daemon:"), only that both wrote one. The deliberate differences
are listed in DIFFERENCES, each with its reason."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time

import pytest

from tests.e2e.test_api_service import each_cli, service  # noqa: F401 - fixture
from tests.e2e.test_network_cli import free_port, free_subnet, net, no_leaks  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI on PATH")

# What deliberately differs between the mydocker CLI's answers and the docker CLI's through the
# service, and why (each is undone by `_as_the_cli_shows` before comparing, or not compared):
DIFFERENCES = {
    # API < 1.44 (the docker CLI 20.10 asks 1.41): Docker lists the short id among each user network's
    # aliases (docker-compose 1.29 relies on it); 1.44+ has it in DNSNames only, as mydocker's CLI shows.
    "NetworkSettings.Networks.*.Aliases": "the short id is added for API < 1.44",
    # API < 1.45: image inspect carries ContainerConfig (and docker-compose 1.29 reads it at any version);
    # not among the fields compared.
    "ContainerConfig": "image inspect at API < 1.45 only",
    # Error messages: "mydocker: ..." against "Error response from daemon: ..." (and the 20.10 client
    # words some 404s itself); only that both wrote one is checked.
    "stderr": "each CLI's own prefix",
}


def _as_the_cli_shows(doc: dict) -> dict:
    """A container's inspect through the service with the API-version differences undone."""
    for endpoint in (doc.get("NetworkSettings") or {}).get("Networks", {}).values():
        if endpoint.get("Aliases"):
            endpoint["Aliases"] = [a for a in endpoint["Aliases"] if a != doc["Id"][:12]] or None
    return doc
# Not compared: what moves between two calls made a moment apart (durations in ps's CREATED and
# STATUS columns: "Up 2 seconds"); they are compared with the duration words masked.
_DURATION = re.compile(r"(Less than a second|About a minute|About an hour|\d+ (seconds?|minutes|hours|days|weeks))")


class Both:
    """The same command through the mydocker CLI and through the docker CLI at the service."""

    def __init__(self, mydocker, service) -> None:  # noqa: F811
        self.mydocker, self.service = mydocker, service

    def run(self, *args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
        ours = subprocess.run(self.mydocker.argv(*args), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        theirs = self.service.docker(*args, rc=None, timeout=timeout)
        return ours, theirs

    def same(self, *args: str, mask_durations: bool = False, rc: int | None = 0) -> str:
        """Both answer with the same exit code (`rc` if given) and the same standard output."""
        ours, theirs = self.run(*args)
        out, other = ours.stdout, theirs.stdout
        if mask_durations:  # and the column padding that follows their width
            out, other = (re.sub(" {2,}", "  ", _DURATION.sub("<t>", text)) for text in (out, other))
        where = f"{' '.join(args)}\nmydocker rc={ours.returncode} {ours.stderr!r}\ndocker rc={theirs.returncode} " \
                f"{theirs.stderr!r}\nservice log: {self.service.log()[-2000:]}"
        assert ours.returncode == theirs.returncode, where
        if rc is not None:
            assert ours.returncode == rc, where
        assert out == other, f"{where}\n--- mydocker\n{out}--- docker\n{other}"
        if ours.returncode in (1, 125, 126, 127):
            assert ours.stderr.strip() and theirs.stderr.strip(), where  # both said what went wrong
        return out


@pytest.fixture
def both(net, service):  # noqa: F811 - net: every container and network of this root goes, links checked
    return Both(net, service)


def _wait_for_output(mydocker, name: str, text: str) -> None:
    deadline = time.monotonic() + 15
    while text not in mydocker("logs", name, rc=None).out and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture
def scene(both):
    """Containers in each state, with what ps and inspect show: a published port, labels, env, a
    named volume and a bind, a user network with an alias, a healthcheck, resources."""
    md = both.mydocker
    md("network", "create", "--subnet", free_subnet(), "paritynet")
    md("volume", "create", "--label", "kind=parity", "pvol")
    port = free_port()
    md("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "-l", "app=web", "-l", "tier=front",
       "-e", "GREETING=hi", "-v", "pvol:/data", "-v", f"{both.service.base}:/host:ro", "--memory", "64m",
       "--cpus", "0.5", "--network", "paritynet", "--network-alias", "www", "--restart", "on-failure:2",
       "busybox", "sh", "-c", "echo to-out; echo to-err >&2; echo line2; exec httpd -f -p 80")
    md("run", "--name", "done", "-e", "A=1", "busybox", "sh", "-c", "echo bye; exit 3", rc=3)
    md("create", "--name", "fresh", "--label", "state=created", "busybox", "echo", "never")
    md("run", "-d", "--name", "checked", "--health-cmd", "true", "--health-interval", "200ms", "busybox",
       "sleep", "300")
    _wait_for_output(md, "web", "line2")
    deadline = time.monotonic() + 15  # healthy before the comparisons: a change between two calls is no difference
    while md("inspect", "-f", "{{.State.Health.Status}}", "checked").out != "healthy\n" and time.monotonic() < deadline:
        time.sleep(0.1)
    return both


@each_cli
def test_ps_columns_and_values(scene):
    both = scene
    both.same("ps", mask_durations=True)
    both.same("ps", "-a", mask_durations=True)
    both.same("ps", "-a", "--no-trunc", mask_durations=True)
    both.same("ps", "-aq")
    both.same("ps", "-a", "-f", "status=exited", "-f", "status=created", mask_durations=True)
    both.same("ps", "-a", "-f", "label=app=web", "-q")
    both.same("ps", "-a", "-f", "name=fre", "--format", "{{.Names}} {{.State}}")
    fields = ["ID", "Image", "Command", "CreatedAt", "RunningFor", "Ports", "State", "Status", "Names",
              "Mounts", "Networks", "LocalVolumes"]
    table = both.same("ps", "-a", "--format", "|".join("{{." + f + "}}" for f in fields), mask_durations=True)
    rows = {line.split("|")[8]: dict(zip(fields, line.split("|"))) for line in table.splitlines()}
    web = rows["web"]
    assert web["Ports"].startswith("127.0.0.1:") and web["Ports"].endswith("->80/tcp")
    assert web["Networks"] == "paritynet" and web["State"] == "running"
    base = both.service.base  # a bind's source, ellipsized to 15 characters as the docker CLI does
    assert sorted(web["Mounts"].split(",")) == sorted(["pvol", base if len(base) <= 15 else base[:14] + "…"])
    assert web["LocalVolumes"] == "1"
    # {{.Labels}}: the docker CLI joins a Go map, in no set order
    ours, theirs = both.run("ps", "-a", "-f", "name=web", "--format", "{{.Labels}}")
    assert set(ours.stdout.strip().split(",")) == set(theirs.stdout.strip().split(",")) == {"app=web", "tier=front"}
    assert rows["done"]["Status"].startswith("Exited (3)") and rows["fresh"]["Status"] == "Created"
    assert rows["checked"]["Status"].endswith("(healthy)")
    both.same("ps", "-a", "--format", "table {{.Names}}\t{{.Networks}}\t{{.Mounts}}")
    sized = both.same("ps", "-a", "-s", mask_durations=True)  # SizeRw and SizeRootFs: "0B (virtual 6.41MB)"
    assert sized.splitlines()[0].endswith("SIZE") and "(virtual " in sized
    both.same("ps", "-a", "--format", "{{.Names}} {{.Size}}")
    both.same("ps", "-a", "--format", "{{json .Names}}")


def _pick(doc: dict, path: str):
    for key in path.split("."):
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


_INSPECTED = ["Id", "Name", "Path", "Args", "Image", "RestartCount", "Driver", "Platform", "LogPath",
              "State.Status", "State.Running", "State.Paused", "State.Restarting", "State.OOMKilled",
              "State.Dead", "State.Pid", "State.ExitCode", "State.Error", "State.StartedAt",
              "State.FinishedAt", "State.Health.Status",
              "Config.Image", "Config.Cmd", "Config.Entrypoint", "Config.Env", "Config.Labels",
              "Config.Healthcheck", "Config.Hostname", "Config.WorkingDir", "Config.Tty", "Config.OpenStdin",
              "Config.ExposedPorts", "HostConfig", "NetworkSettings", "Mounts", "GraphDriver"]


@each_cli
def test_inspect_fields_are_the_same_json(scene):
    both = scene
    for name in ("web", "done", "fresh", "checked"):
        ours, theirs = both.run("inspect", name)
        assert ours.returncode == theirs.returncode == 0, (ours.stderr, theirs.stderr)
        mine, docker = json.loads(ours.stdout)[0], _as_the_cli_shows(json.loads(theirs.stdout)[0])
        for path in _INSPECTED:
            assert _pick(mine, path) == _pick(docker, path), (name, path)
        assert set(mine) == set(docker), name  # no top-level field only one side has
    doc = json.loads(both.mydocker("inspect", "web").out)[0]
    assert doc["HostConfig"]["Memory"] == 64 * 1024 * 1024 and doc["HostConfig"]["NanoCpus"] == 500_000_000
    assert doc["NetworkSettings"]["Networks"]["paritynet"]["Aliases"] == ["www"]
    assert {m["Type"] for m in doc["Mounts"]} == {"volume", "bind"}
    # -f templates and object kinds: images, volumes, networks
    both.same("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.Config.Env}}", "web", "done", "fresh")
    both.same("inspect", "-f", "{{json .Config.Labels}}", "web")
    both.same("image", "inspect", "-f", "{{.Id}} {{.RepoTags}} {{json .Config.Cmd}}", "busybox")
    both.same("volume", "inspect", "pvol")
    both.same("network", "inspect", "-f", "{{.Name}} {{.Driver}} {{json .IPAM.Config}} {{len .Containers}}",
              "paritynet")
    both.same("inspect", "nosuch", rc=1)


@each_cli
def test_logs_split_tail_and_timestamps(scene):
    both = scene
    ours, theirs = both.run("logs", "web")
    assert (ours.stdout, ours.stderr) == (theirs.stdout, theirs.stderr) == ("to-out\nline2\n", "to-err\n")
    both.same("logs", "--tail", "1", "web")
    both.same("logs", "--tail", "0", "web")
    both.same("logs", "-t", "web")
    both.same("logs", "-t", "--tail", "2", "done")
    both.same("logs", "done")
    both.same("logs", "fresh")
    both.same("logs", "nosuch", rc=1)


@each_cli
def test_exit_codes(scene):
    both = scene
    both.same("run", "--rm", "busybox", "sh", "-c", "exit 3", rc=3)
    both.same("run", "--rm", "nosuch:1", "true", rc=125)     # a missing image (no registry answers)
    both.same("run", "--bogus", "busybox", "true", rc=125)   # a bad flag
    both.same("run", "--rm", "busybox", "nosuchcmd", rc=127)
    both.same("run", "--rm", "busybox", "/etc/passwd", rc=126)  # not executable
    both.same("run", "--rm", "busybox", "/etc", rc=126)         # a directory
    both.same("run", "--name", "web", "busybox", "true", rc=125)  # a name in use
    both.same("wait", "done", rc=0)  # prints 3
    both.same("wait", "nosuch", rc=1)
    both.same("rm", "web", rc=1)     # running: stop it first
    both.same("stop", "nosuch", rc=1)
    both.same("kill", "done", rc=1)  # not running
    both.same("start", "nosuch", rc=1)
    both.same("exec", "web", "sh", "-c", "exit 4", rc=4)
    both.same("exec", "done", "true", rc=1)  # not running
    both.same("exec", "web", "nosuchcmd", rc=127)
    both.same("logs", "--bogus", "web", rc=125)   # a refused flag: 125 for any command
    both.same("ps", "-n", "x", rc=125)
    both.same("rm", rc=1)                           # a missing argument, an unknown command: 1
    both.same("run", rc=1)
    both.same("ps", "extra", rc=1)
    both.same("frobnicate", rc=1)
    assert "nosuch" not in both.mydocker("ps", "-a", "--format", "{{.Image}}").out  # nothing half-made


@each_cli
def test_images_networks_volumes_port_top(scene):
    both = scene
    both.same("images", mask_durations=True)
    both.same("images", "-a", "-q")
    both.same("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}")
    both.same("image", "ls", "--no-trunc", "-q")
    # `network ls` without filters: GET /networks lists host and none only once helper "apimisc"
    # has landed; compared on the networks this root made
    both.same("network", "ls", "-f", "name=paritynet")
    both.same("network", "ls", "-f", "name=bridge", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
    both.same("network", "ls", "-q", "-f", "name=paritynet")
    both.same("volume", "ls")
    both.same("volume", "ls", "-q", "-f", "label=kind=parity")
    both.same("volume", "ls", "-f", "dangling=false")
    # `images -f dangling=...` and the other image filters: helper "apimisc"'s (not compared here)
    both.same("system", "df")
    both.same("port", "web")
    both.same("port", "web", "80")
    both.same("port", "web", "81/tcp", rc=1)
    both.same("port", "done")
    top, _ = both.run("top", "web")
    assert "httpd" in top.stdout
    both.same("top", "web", "-o", "pid,comm")
    both.same("top", "done", rc=1)
