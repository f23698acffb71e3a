"""`run` resource flags -> OCI linux.resources, with dockerd's checks and defaults."""

from __future__ import annotations

import os

import pytest

from mydocker.engine import resources as res
from mydocker.engine.options import ResourceOptions
from mydocker.engine.resources import parse_list
from mydocker.errors import InvalidArgument

MiB = 1024 * 1024


def resources_from_options(defaults: bool = True, **flags) -> dict:
    return res.resources_from_options(ResourceOptions(**flags), defaults)


@pytest.fixture(autouse=True)
def no_pids_controller(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host without a pids controller, so the other flags are seen alone (the default has its test)."""
    monkeypatch.setattr(res, "_has_pids_controller", lambda: False)


def test_no_flags_no_resources() -> None:
    assert resources_from_options() == {}


def test_memory_gets_dockers_default_swap() -> None:
    assert resources_from_options(memory="64m") == {"memory": {"limit": 64 * MiB, "swap": 128 * MiB}}


@pytest.mark.parametrize(("swap", "expected"), [("-1", -1), ("64m", 64 * MiB), ("1g", 1024 * MiB), ("0", 128 * MiB)])
def test_memory_swap(swap: str, expected: int) -> None:
    assert resources_from_options(memory="64m", memory_swap=swap)["memory"]["swap"] == expected


def test_unlimited_swap_alone() -> None:
    assert resources_from_options(memory_swap="-1") == {"memory": {"swap": -1}}


def test_reservation() -> None:
    assert resources_from_options(memory="1g", memory_reservation="512m")["memory"]["reservation"] == 512 * MiB
    assert resources_from_options(memory_reservation="512m") == {"memory": {"reservation": 512 * MiB}}


@pytest.mark.parametrize(("kwargs", "flag"), [
    ({"memory": "12x"}, "--memory"),
    ({"memory": "-1m"}, "--memory"),
    ({"memory": "5m"}, "--memory"),  # below dockerd's 6MB minimum
    ({"memory": "64m", "memory_swap": "32m"}, "--memory-swap"),
    ({"memory_swap": "1g"}, "--memory-swap"),  # swap needs memory
    ({"memory_swap": "lots"}, "--memory-swap"),
    ({"memory": "64m", "memory_reservation": "128m"}, "--memory-reservation"),
    ({"memory_reservation": "1m"}, "--memory-reservation"),
    ({"cpus": "x"}, "--cpus"),
    ({"cpus": "0.001"}, "--cpus"),
    ({"cpus": "1000"}, "--cpus"),
    ({"cpu_shares": -5}, "--cpu-shares"),
    ({"cpuset_cpus": "1-0"}, "--cpuset-cpus"),
    ({"cpuset_cpus": "a"}, "--cpuset-cpus"),
    ({"cpuset_cpus": "4096"}, "--cpuset-cpus"),
    ({"cpuset_mems": "0,"}, "--cpuset-mems"),
])
def test_bad_values_name_the_flag_on_one_line(kwargs: dict, flag: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        resources_from_options(**kwargs)
    message = str(caught.value)
    assert message.startswith(flag) and "\n" not in message


def test_minimum_memory_is_accepted() -> None:
    assert resources_from_options(memory="6m")["memory"]["limit"] == 6 * MiB


def test_cpus_become_quota_over_dockers_period() -> None:
    assert resources_from_options(cpus="0.5") == {"cpu": {"quota": 50000, "period": 100000}}
    assert resources_from_options(cpus="0") == {}


def test_cpus_up_to_the_cpus_we_may_use() -> None:
    n = len(os.sched_getaffinity(0))
    assert resources_from_options(cpus=str(n))["cpu"]["quota"] == n * 100000


@pytest.mark.parametrize(("shares", "expected"), [(1, 2), (2, 2), (512, 512), (10**6, 262144)])
def test_cpu_shares_are_clamped_like_dockerd(shares: int, expected: int) -> None:
    assert resources_from_options(cpu_shares=shares) == {"cpu": {"shares": expected}}


def test_cpu_shares_zero_is_unset() -> None:
    assert resources_from_options(cpu_shares=0) == {}


def test_cpuset() -> None:
    assert resources_from_options(cpuset_cpus="0", cpuset_mems="0") == {"cpu": {"cpus": "0", "mems": "0"}}


def test_cpuset_without_numa_information(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(res, "_NODE_ONLINE", str(tmp_path / "absent"))
    assert resources_from_options(cpuset_mems="3") == {"cpu": {"mems": "3"}}


@pytest.mark.parametrize(("limit", "expected"), [(None, {}), (0, {}), (-1, {}), (100, {"pids": {"limit": 100}})])
def test_pids_limit(limit: int | None, expected: dict) -> None:
    assert resources_from_options(pids_limit=limit) == expected


@pytest.mark.parametrize(("limit", "expected"), [(None, {"pids": {"limit": 2048}}), (0, {}), (-1, {}),
                                                 (100, {"pids": {"limit": 100}})])
def test_pids_limit_default_is_podmans_where_there_is_a_pids_controller(
        monkeypatch: pytest.MonkeyPatch, limit: int | None, expected: dict) -> None:
    monkeypatch.setattr(res, "_has_pids_controller", lambda: True)
    assert resources_from_options(pids_limit=limit) == expected


def test_parse_list() -> None:
    assert parse_list("0-2,4") == {0, 1, 2, 4}
    assert parse_list("7") == {7}


@pytest.mark.parametrize(("limit", "expected"),
                         [(None, {}), (0, {"pids": {"limit": -1}}), (-1, {"pids": {"limit": -1}}),
                                                 (100, {"pids": {"limit": 100}})])
def test_without_defaults_only_the_flags_given_and_unlimited_spelled_out(
        monkeypatch: pytest.MonkeyPatch, limit: int | None, expected: dict) -> None:
    """`update`: an absent flag leaves the limit as it is (no default), and 0/-1 must lift a set one."""
    monkeypatch.setattr(res, "_has_pids_controller", lambda: True)
    assert resources_from_options(pids_limit=limit, defaults=False) == expected
    assert resources_from_options(memory="64m", defaults=False) == {"memory": {"limit": 64 * MiB, "swap": 128 * MiB}}
