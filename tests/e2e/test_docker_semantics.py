"""Docker's answers where a Docker user expects them (issue 17, "Docker semantics"): inspect's
network, port, CPU and mount fields, ps PORTS, logs of a foreground run, --format everywhere, the
pre-defined bridge network, image prune and dangling images, -v of a missing host directory,
commit keeping the config, build from stdin."""

from __future__ import annotations

import json
import os

import pytest

from tests.e2e.test_network_cli import free_port, net, no_leaks  # noqa: F401 - fixtures


def test_inspect_and_ps_show_network_ports_cpus_and_mounts(net, tmp_path):
    port = free_port()
    bind = tmp_path / "shared"
    bind.mkdir()
    net("run", "-d", "--name", "web", "-p", f"{port}:80", "-v", "namedvol:/data", "-v", f"{bind}:/b:ro",
        "--cpus", "0.5", "busybox", "sleep", "300")
    doc = json.loads(net("inspect", "web").out)[0]
    settings, host = doc["NetworkSettings"], doc["HostConfig"]
    ip = net("exec", "web", "ip", "-o", "-4", "addr", "show", "eth0").out.split()[3].split("/")[0]
    mac = net("exec", "web", "cat", "/sys/class/net/eth0/address").out.strip()
    gateway = net("exec", "web", "ip", "route").out.split()[2]
    assert (settings["IPAddress"], settings["Gateway"], settings["MacAddress"]) == (ip, gateway, mac)
    bridge = settings["Networks"]["bridge"]
    assert (bridge["IPAddress"], bridge["Gateway"], bridge["MacAddress"]) == (ip, gateway, mac)
    assert bridge["NetworkID"] == json.loads(net("network", "inspect", "bridge").out)[0]["Id"]
    assert settings["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}]}
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": str(port)}]}
    assert host["NetworkMode"] == "bridge" and host["NanoCpus"] == 500_000_000
    mounts = {m["Destination"]: m for m in doc["Mounts"]}
    assert set(mounts) == {"/data", "/b"}, mounts
    volume = mounts["/data"]
    assert (volume["Type"], volume["Name"], volume["Driver"], volume["RW"]) == ("volume", "namedvol", "local", True)
    assert volume["Source"] == json.loads(net("volume", "inspect", "namedvol").out)[0]["Mountpoint"]
    assert (mounts["/b"]["Type"], mounts["/b"]["Source"], mounts["/b"]["RW"]) == ("bind", str(bind), False)
    ps = net("ps").out.splitlines()
    assert f"0.0.0.0:{port}->80/tcp" in ps[1] and ps[0].index("PORTS") == ps[1].index(f"0.0.0.0:{port}")
    assert net("ps", "--format", "{{.Ports}}").out == f"0.0.0.0:{port}->80/tcp\n"
    # a user network: its name as the mode, the alias in Aliases; the top-level address is the default bridge's
    net("network", "create", "semnet")
    net("run", "-d", "--name", "other", "--network", "semnet", "busybox", "sleep", "300")
    other = json.loads(net("inspect", "other").out)[0]
    assert other["HostConfig"]["NetworkMode"] == "semnet" and other["NetworkSettings"]["IPAddress"] == ""
    assert other["NetworkSettings"]["Networks"]["semnet"]["IPAddress"]
    net("stop", "-t", "0", "web")
    stopped = json.loads(net("inspect", "web").out)[0]
    assert stopped["NetworkSettings"]["Ports"] == {} and stopped["NetworkSettings"]["IPAddress"] == ""
    assert stopped["HostConfig"]["PortBindings"] == host["PortBindings"]
    assert "->" not in net("ps", "-a", "--format", "{{.Ports}}").out


def test_logs_of_a_container_that_ran_in_the_foreground(mydocker):
    """Docker logs every container: the attached output is also the container's log."""
    ran = mydocker("run", "--name", "fg", "busybox", "sh", "-c", "echo out; echo err >&2; printf tail")
    assert (ran.out, ran.err) == ("out\ntail", "err\n")
    logs = mydocker("logs", "fg")
    assert (logs.out, logs.err) == ("out\ntail", "err\n")
    tty = mydocker("run", "-t", "--name", "fgtty", "busybox", "echo", "on a tty")
    assert tty.out == "on a tty\n"  # \r\n, read in text mode
    assert mydocker("logs", "fgtty").out == tty.out
    mydocker("rm", "fg", "fgtty")


def test_format_on_inspect_and_list_commands(net):
    net("volume", "create", "fmtvol")
    net("network", "create", "fmtnet")
    assert net("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "fmtvol").out == "fmtvol local\n"
    assert net("network", "inspect", "--format", "{{.Name}}:{{.Driver}}", "fmtnet").out == "fmtnet:bridge\n"
    image_id = json.loads(net("image", "inspect", "busybox").out)[0]["Id"]
    assert net("image", "inspect", "-f", "{{.Id}}", "busybox").out == image_id + "\n"
    assert json.loads(net("image", "inspect", "--format", "{{json .Config.Cmd}}", "busybox").out) == ["sh"]
    assert net("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").out == f"busybox:latest {image_id[7:19]}\n"
    table = net("images", "--format", "table {{.Repository}}\t{{.Tag}}").out.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG"] and table[1].split() == ["busybox", "latest"]
    names = net("network", "ls", "--format", "{{.Name}} {{.Driver}}").out.splitlines()
    assert "fmtnet bridge" in names
    net("run", "-d", "--name", "st", "busybox", "sleep", "300")
    stats = net("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}").out
    assert stats == "st 1\n"
    assert net("stats", "--no-stream", "--format", "json").out.startswith('{"')


def test_the_predefined_networks_cannot_be_removed(net):
    net("run", "-d", "--name", "keep", "busybox", "sleep", "300")  # the default bridge network exists while it runs
    bridge_id = json.loads(net("network", "inspect", "bridge").out)[0]["Id"]
    for ref in ("bridge", bridge_id[:12], "host", "none"):
        name = "bridge" if ref == bridge_id[:12] else ref
        refused = net("network", "rm", ref, rc=1)  # docker network rm: 1, as for the other failures of rm here
        assert f"{name} is a pre-defined network and cannot be removed" in refused.err
    assert json.loads(net("network", "inspect", "bridge").out)[0]["Id"] == bridge_id


def test_a_missing_bind_source_is_created_for_dash_v(mydocker, tmp_path):
    """Docker makes the host directory of `-v /host:/ctr` (not of --mount type=bind)."""
    source = tmp_path / "missing" / "dir"
    out = mydocker("run", "--rm", "-v", f"{source}:/x", "busybox", "sh", "-c", "touch /x/made && ls /x").out
    assert out == "made\n" and (source / "made").is_file() and source.stat().st_mode & 0o777 == 0o755


def test_commit_keeps_the_containers_config(mydocker):
    mydocker("run", "--name", "cc", "-e", "A=1", "-w", "/tmp", "--entrypoint", "sh", "busybox", "-c", "echo x > /f")
    mydocker("commit", "cc", "committed:1")
    config = json.loads(mydocker("image", "inspect", "committed:1").out)[0]["Config"]
    assert config["Entrypoint"] == ["sh"] and config["Cmd"] == ["-c", "echo x > /f"]
    assert "A=1" in config["Env"] and not any(e.startswith("HOSTNAME=") for e in config["Env"])
    assert config["WorkingDir"] == "/tmp"
    mydocker("commit", "--change", 'ENTRYPOINT ["cat"]', "--change", 'CMD ["/f"]', "cc", "committed:2")
    assert mydocker("run", "--rm", "committed:2").out == "x\n"
    assert mydocker("run", "--rm", "committed:1", "-c", "pwd; echo $A").out == "/tmp\n1\n"
    mydocker("rm", "cc")


def test_build_from_stdin(mydocker, tmp_path):
    """`build -`: a Dockerfile on stdin and no context, or a tar of the context; `-f -` with a context."""
    mydocker("build", "-t", "fromstdin:1", "-",
             input="FROM busybox\nRUN echo built > /made\nCMD [\"cat\", \"/made\"]\n")
    assert mydocker("run", "--rm", "fromstdin:1").out == "built\n"
    refused = mydocker("build", "-", input="FROM busybox\nCOPY x /x\n", rc=None)
    assert refused.rc == 1 and "x" in refused.err
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "hello.txt").write_text("from the context\n")
    mydocker("build", "-t", "fromstdin:2", "-f", "-", str(tmp_path / "ctx"),
             input="FROM busybox\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n")
    assert mydocker("run", "--rm", "fromstdin:2").out == "from the context\n"
    import io
    import subprocess
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in (("Dockerfile", "FROM busybox\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n"),
                           ("hello.txt", "from a tar\n")):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    proc = subprocess.run(mydocker.argv("build", "-t", "fromstdin:3", "-"), input=buf.getvalue(), capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert mydocker("run", "--rm", "fromstdin:3").out == "from a tar\n"


def test_images_shows_dangling_and_prune_keeps_the_build_cache(mydocker):
    """Docker: `images` shows dangling images (<none>, no child), -a adds the build steps'; `image
    prune` removes dangling images only: the steps under a tagged image stay, as the build cache."""
    first = mydocker("build", "-q", "-t", "app:1", "-",
                     input="FROM busybox\nRUN echo 1 > /a\nCMD [\"cat\", \"/a\"]\n").out.strip()
    mydocker("build", "-q", "-t", "app:1", "-", input="FROM busybox\nRUN echo 1 > /a\nCMD [\"cat\", \"/a\", \"/a\"]\n")
    rows = [line.split()[:3] for line in mydocker("images").out.splitlines()[1:]]
    assert ["<none>", "<none>", first[7:19]] in rows  # the first app:1: dangling
    assert len(rows) == 3, rows                          # app:1, the dangling one, busybox: not the RUN step
    assert len(mydocker("images", "-a").out.splitlines()) == 5  # + the RUN step's image
    pruned = mydocker("image", "prune", "-f").out
    assert f"deleted: {first}" in pruned
    assert len(mydocker("images", "-a").out.splitlines()) == 4  # the RUN step under app:1 stays
    again = mydocker("build", "-t", "app:1", "-",
                     input="FROM busybox\nRUN echo 1 > /a\nCMD [\"cat\", \"/a\", \"/a\"]\n").out
    assert again.count("Using cache") == 2
