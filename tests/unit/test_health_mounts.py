"""Pure parts of the new container options: Go durations, the health state machine, --mount CSV,
tmpfs option merging, --add-host checks, resolv.conf replacement."""

from __future__ import annotations

import pytest

from mydocker.engine import health
from mydocker.engine.mounts import parse_mount, tmpfs_mount
from mydocker.engine.resolution import settings_from_options
from mydocker.errors import InvalidArgument
from mydocker.network.etcfiles import resolv_conf


@pytest.mark.parametrize("text,ns", [("30s", 30 * 10**9), ("1m30s", 90 * 10**9), ("500ms", 5 * 10**8),
                                     ("1.5h", 5400 * 10**9), ("10us", 10_000), ("0", 0)])
def test_go_durations(text, ns):
    assert health.parse_duration(text, "--x") == ns


@pytest.mark.parametrize("text", ["5", "s", "1x", "1s2", ""])
def test_bad_durations(text):
    with pytest.raises(InvalidArgument, match="--x"):
        health.parse_duration(text, "--x")


def test_health_state_machine():
    hc = {**health.DEFAULTS, "Retries": 2}
    h = health.starting()
    h = health.judge(h, hc, 1, "x", "a", "b", in_start_period=True)
    assert h["Status"] == "starting" and h["FailingStreak"] == 0
    h = health.judge(h, hc, 1, "x", "a", "b", in_start_period=False)
    assert h["Status"] == "starting" and h["FailingStreak"] == 1
    h = health.judge(h, hc, 1, "x", "a", "b", in_start_period=False)
    assert h["Status"] == "unhealthy" and h["FailingStreak"] == 2
    h = health.judge(h, hc, 0, "ok", "a", "b", in_start_period=False)
    assert h["Status"] == "healthy" and h["FailingStreak"] == 0
    for _ in range(10):
        h = health.judge(h, hc, 0, "ok", "a", "b", in_start_period=False)
    assert len(h["Log"]) == health.MAX_LOG


def test_image_healthcheck_merge():
    image = {"config": {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 10**9, "Retries": 5}}}
    assert health.config_healthcheck(image, None) == image["config"]["Healthcheck"]
    merged = health.config_healthcheck(image, health.from_flags(None, "2s", None, None, None, False))
    assert merged == {"Test": ["CMD", "true"], "Interval": 2 * 10**9, "Retries": 5}
    off = health.config_healthcheck(image, health.from_flags(None, None, None, None, None, True))
    assert off["Test"] == ["NONE"]  # the image's other fields stay, as Docker's merge keeps them
    assert health.active({"Healthcheck": {"Test": ["NONE"]}}) is None


def test_mount_csv():
    m = parse_mount('type=bind,src=/a,dst=/b,readonly,bind-propagation=rslave')
    assert (m.type, m.source, m.target, m.readonly, m.bind_propagation) == ("bind", "/a", "/b", True, "rslave")
    m = parse_mount("target=/t,tmpfs-size=64m,tmpfs-mode=1777,type=tmpfs")
    assert (m.tmpfs_size, m.tmpfs_mode) == (64 << 20, 0o1777)
    assert parse_mount("dst=/v").type == "volume"
    with pytest.raises(InvalidArgument, match="unexpected key 'colour'"):
        parse_mount("colour=red")


def test_tmpfs_options_later_wins():
    m = tmpfs_mount("/x", "exec,ro,size=1m")
    assert m["options"] == ["exec", "nosuid", "nodev", "rprivate", "ro", f"size={1 << 20}"]


def test_add_host_and_dns_checks():
    class Opts:
        extra_hosts = ["a:1.2.3.4", "b=::1", "c:host-gateway", "d:[::2]"]
        dns = ["10.0.0.1"]
    s = settings_from_options(Opts)
    assert s.extra_hosts == [["a", "1.2.3.4"], ["b", "::1"], ["c", "host-gateway"], ["d", "::2"]]
    Opts.extra_hosts = ["nope"]
    with pytest.raises(InvalidArgument, match="--add-host"):
        settings_from_options(Opts)


def test_resolv_conf_replacement():
    host = "nameserver 10.1.1.1\nsearch a.example\noptions ndots:1\n"
    assert resolv_conf(host) == host
    out = resolv_conf(host, nameservers=["9.9.9.9"], search=["."], options=["ndots:5"])
    assert out == "nameserver 9.9.9.9\noptions ndots:5\n"
