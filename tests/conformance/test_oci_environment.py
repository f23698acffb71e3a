"""Big environments (issue 18, item 5): the limit is the kernel's execve limit (ARG_MAX, a quarter of
the stack rlimit; MAX_ARG_STRLEN per string), not the runtime's socket; past it, create fails with
one line that names the limit, and leaves nothing behind. runc runs a 360 KB environment."""

from __future__ import annotations

import json

from tests.conformance.conftest import base_config

# 400 KB in 100 variables: over one datagram of the runtime's channel (208 KiB), under execve's 2 MiB.
BIG_ENV = [f"BIG{i:03d}={chr(97 + i % 26) * 4000}" for i in range(100)]
CHECK = 'echo "${#BIG000} ${#BIG099} $(env | grep -c ^BIG)"'


def with_env(env: list[str]):
    return lambda c: c["process"]["env"].extend(env)


def one_line(err: str, *words: str) -> None:
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def test_a_400_kb_environment_runs(oci, bundle):
    code, out = oci.output(bundle(["sh", "-c", CHECK], with_env(BIG_ENV)), "bigenv")
    assert (code, out) == (0, "4000 4000 100\n")


def test_a_400_kb_environment_reaches_an_exec(oci, bundle, tmp_path):
    oci("run", "--detach", "--bundle", bundle(["sleep", "30"]), "bigexec")
    process = base_config(["sh", "-c", CHECK])["process"]
    process["env"] += BIG_ENV
    (tmp_path / "p.json").write_text(json.dumps(process))
    assert oci("exec", "--process", str(tmp_path / "p.json"), "bigexec").out == "4000 4000 100\n"


def test_an_environment_over_the_kernels_limit_fails_create_in_one_line(oci, bundle):
    # 3 MiB: over a quarter of the usual 8 MiB stack rlimit (execve would say E2BIG).
    env = [f"HUGE{i:03d}={'x' * 100_000}" for i in range(30)]
    one_line(oci("create", "--bundle", bundle(["true"], with_env(env)), "hugeenv", rc=1).err,
             "environment", "ARG_MAX")
    oci("state", "hugeenv", rc=1)


def test_an_environment_under_a_small_stack_rlimit_is_checked_against_it(oci, bundle):
    """The limit follows process.rlimits' RLIMIT_STACK as execve's does: 400 KB over a 1 MiB stack."""
    def edit(c):
        c["process"]["env"].extend(BIG_ENV)
        c["process"]["rlimits"] = [{"type": "RLIMIT_STACK", "soft": 1 << 20, "hard": 1 << 20}]
    one_line(oci("create", "--bundle", bundle(["true"], edit), "stackenv", rc=1).err, "262144", "ARG_MAX")


def test_one_variable_over_the_kernels_per_string_limit_is_named(oci, bundle):
    one_line(oci("create", "--bundle", bundle(["true"], with_env(["ONE=" + "x" * 140_000])), "onevar", rc=1).err,
             "ONE", "MAX_ARG_STRLEN")
    oci("state", "onevar", rc=1)


def test_an_exec_over_the_kernels_limit_fails_in_one_line(oci, bundle, tmp_path):
    oci("run", "--detach", "--bundle", bundle(["sleep", "30"]), "smallexec")
    process = base_config(["true"])["process"]
    process["env"] += BIG_ENV
    process["rlimits"] = [{"type": "RLIMIT_STACK", "soft": 1 << 20, "hard": 1 << 20}]
    (tmp_path / "p.json").write_text(json.dumps(process))
    one_line(oci("exec", "--process", str(tmp_path / "p.json"), "smallexec", rc=255).err, "262144", "ARG_MAX")
