"""A signal sent right after `start` reaches the user's program (runtime-tools' validation/killsig,
issue 18 item 8): `start` returns once the init is released, and the init must reach the user's
program at once. The init is PID 1 of its namespace: a signal it has no handler for is dropped, so
one that arrives while the runtime's Python still runs is lost.

runtime-tools' default config has a seccomp profile without close_range; the init used to close
inherited fds after loading it, one close() per possible fd (a million, ~0.1-0.8 s) once
close_range was refused."""

from __future__ import annotations

import pytest

ROUNDS = 3  # 3 signals each; the 20 rounds of the same sequence were run by hand


def seccomp_without_close_range() -> dict:
    """Docker's default profile minus close_range, as runtime-tools' default config has it."""
    from mydocker.engine.security import default_profile, to_oci_seccomp
    profile = to_oci_seccomp(default_profile(), [])
    for rule in profile["syscalls"]:
        rule["names"] = [name for name in rule["names"] if name != "close_range"]
    assert not any("close_range" in rule["names"] for rule in profile["syscalls"])
    return profile


@pytest.mark.parametrize("filtered", [True, False], ids=["seccomp-without-close_range", "no-seccomp"])
def test_a_signal_sent_right_after_start_reaches_the_trapping_program(oci, bundle, tmp_path, filtered):
    caught = tmp_path / "caught"
    caught.mkdir()
    profile = seccomp_without_close_range() if filtered else None

    def edit(config):
        config["mounts"].append({"destination": "/tmp", "type": "bind", "source": str(caught), "options": ["bind"]})
        if profile:
            config["linux"]["seccomp"] = profile

    for round_ in range(ROUNDS):
        for signal in ("TERM", "USR1", "USR2"):
            cid = f"sig{round_}{signal.lower()}"
            b = bundle(["sh", "-c", f"trap 'touch /tmp/{signal}' {signal}; sleep 10 & wait $!"], edit)
            oci("create", "--bundle", b, cid)
            oci("start", cid)
            oci("kill", cid, signal)  # at once: no `state` between, unlike runtime-tools
            oci.wait_status(cid, "stopped", timeout=5)  # the trap ran and the shell ended, long before sleep's 10 s
            assert (caught / signal).exists(), f"round {round_}: {signal} was lost"
            (caught / signal).unlink()
            oci("delete", cid)
