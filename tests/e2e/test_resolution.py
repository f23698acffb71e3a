"""A container's name resolution and environment as Docker sets them: --add-host (host-gateway too),
--dns, --dns-search, --dns-option in /etc/hosts and /etc/resolv.conf, --env-file."""

from __future__ import annotations

import os

from tests.e2e.test_network_cli import free_subnet, net, no_leaks  # noqa: F401 - fixtures


def test_add_host_and_dns_flags_reach_the_etc_files(net):  # noqa: F811
    out = net("run", "--rm", "--add-host", "db.example:10.1.2.3", "--add-host", "gw:host-gateway",
              "--add-host", "six=::1", "--dns", "10.9.9.9", "--dns", "10.9.9.10", "--dns-search", "corp.example",
              "--dns-option", "ndots:3", "--dns-opt", "timeout:1", "busybox", "sh", "-c",
              "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; ip route").out
    hosts, resolv, route = out.split("---\n")
    assert "10.1.2.3\tdb.example\n" in hosts and "::1\tsix\n" in hosts
    gateway = route.split()[2]  # default via <the bridge's address on the host>
    assert f"{gateway}\tgw\n" in hosts
    assert hosts.index("db.example") < hosts.index("gw") < hosts.rindex("\n", 0, len(hosts) - 1) + 1
    servers = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
    assert servers == ["10.9.9.9", "10.9.9.10"]
    assert "search corp.example" in resolv.splitlines()
    assert "options ndots:3 timeout:1" in resolv.splitlines()


def test_dns_search_dot_means_none_and_host_lines_kept_otherwise(net):  # noqa: F811
    resolv = net("run", "--rm", "--dns-search", ".", "busybox", "cat", "/etc/resolv.conf").out
    assert not any(line.startswith(("search", "domain")) for line in resolv.splitlines())
    assert any(line.startswith("nameserver") for line in resolv.splitlines())  # the host's, kept


def test_extra_hosts_survive_peers_joining_a_user_network(net):  # noqa: F811
    net("network", "create", "--subnet", free_subnet(), "resnet")
    net("run", "-d", "--name", "aa", "--network", "resnet", "--add-host", "pinned:10.7.7.7", "--dns", "10.8.8.8",
        "busybox", "sleep", "60")
    net("run", "-d", "--name", "bb", "--network", "resnet", "busybox", "sleep", "60")
    hosts = net("exec", "aa", "cat", "/etc/hosts").out
    assert "10.7.7.7\tpinned\n" in hosts and "\tbb " in hosts, hosts
    net("stop", "-t", "0", "aa")
    net("start", "aa")
    assert "10.7.7.7\tpinned\n" in net("exec", "aa", "cat", "/etc/hosts").out
    # a user network's embedded resolver is the nameserver; it forwards to --dns (Docker's comment says so)
    resolv = net("exec", "aa", "cat", "/etc/resolv.conf").out
    assert "nameserver 10.8.8.8" not in resolv and "# ExtServers: [10.8.8.8]" in resolv, resolv
    host = __import__("json").loads(net("inspect", "aa").out)[0]["HostConfig"]
    assert host["ExtraHosts"] == ["pinned:10.7.7.7"] and host["Dns"] == ["10.8.8.8"]


def test_bad_resolution_flags_are_one_line_and_make_nothing(net):  # noqa: F811
    for flags, words in [(["--add-host", "nocolon"], "--add-host"),
                         (["--add-host", "x:999.1.1.1"], "invalid IP address in add-host"),
                         (["--dns", "resolver.example"], "invalid --dns"),
                         (["--dns-search", "bad domain"], "invalid --dns-search"),
                         (["--network", "container:x", "--dns", "1.1.1.1"], "conflicting options")]:
        err = net("run", "--rm", *flags, "busybox", "true", rc=125).err
        assert words in err and len(err.strip().splitlines()) == 1, err
    assert net("ps", "-aq").out == ""


def test_env_file(net, tmp_path):  # noqa: F811
    env = tmp_path / "env"
    env.write_text("# comment\n\nA=from-file\nB=b c \n  C=indented\nFROM_CALLER\nNOT_SET_ANYWHERE\nD=file\n")
    os.environ["FROM_CALLER"] = "caller's"
    try:
        out = net("run", "--rm", "--env-file", str(env), "-e", "D=flag", "busybox", "env").out.splitlines()
    finally:
        del os.environ["FROM_CALLER"]
    assert {"A=from-file", "B=b c ", "C=indented", "FROM_CALLER=caller's", "D=flag"} <= set(out), out
    assert not any(line.startswith("NOT_SET_ANYWHERE") for line in out)
    err = net("run", "--rm", "--env-file", str(tmp_path / "missing"), "busybox", "true", rc=125).err
    assert "env file" in err and len(err.strip().splitlines()) == 1
