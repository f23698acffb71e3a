"""`mydocker run -e` with big environments (issue 18, item 5): up to the kernel's execve limit, as
runc runs them; over it, one line naming the limit, exit 125, and no container left."""

from __future__ import annotations

BIG_ENV = [f"BIG{i:03d}={chr(97 + i % 26) * 4000}" for i in range(100)]  # 400 KB in 100 variables
CHECK = 'echo "${#BIG000} ${#BIG099} $(env | grep -c ^BIG)"'


def env_flags(env: list[str]) -> list[str]:
    return [flag for item in env for flag in ("-e", item)]


def test_a_400_kb_environment_runs(mydocker):
    assert mydocker("run", "--rm", *env_flags(BIG_ENV), "busybox", "sh", "-c", CHECK).out == "4000 4000 100\n"


def test_a_400_kb_environment_reaches_exec(mydocker):
    mydocker("run", "-d", "--name", "bigenv", "busybox", "sleep", "30")
    try:
        assert mydocker("exec", *env_flags(BIG_ENV), "bigenv", "sh", "-c", CHECK).out == "4000 4000 100\n"
    finally:
        mydocker("rm", "-f", "bigenv")


def test_an_environment_over_the_kernels_limit_fails_in_one_line(mydocker):
    """Over 2 MiB the CLI's own command line would fail; a 1 MiB stack rlimit makes execve's limit
    256 KiB, which the 400 KB environment passes."""
    ran = mydocker("run", "--rm", "--ulimit", "stack=1048576:1048576", *env_flags(BIG_ENV), "busybox", "true",
                   rc=125)
    assert len(ran.err.strip().splitlines()) == 1 and "ARG_MAX" in ran.err and "Traceback" not in ran.err, ran
    assert mydocker("ps", "-a", "-q").out == ""
