"""Two commands on one container at the same time (issue 18): `rm -f` against an attached `run`.

Whatever the interleaving, both succeed (run reports the SIGKILL as 137, rm exits 0) and nothing of
the container is left: record, files, runtime state, mounts, cgroups, netns, links (the `mydocker`
fixture checks the host objects).
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

# After the container's record appears: at once (most often still being created), as it starts, mid-run.
DELAYS = (0.0, 0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8)


def _appeared(mydocker, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while mydocker("inspect", "--format", "{{.Id}}", name, rc=None).rc != 0:
        assert time.monotonic() < deadline, f"container {name} never appeared"


def _nothing_left(mydocker) -> None:
    assert mydocker("ps", "-aq").out == ""
    for directory in (os.path.join(mydocker.root, "containers"), os.path.join(mydocker.runroot, "runtime"),
                      os.path.join(mydocker.runroot, "locks"), os.path.join(mydocker.runroot, "netns")):
        assert not os.path.isdir(directory) or not [n for n in os.listdir(directory)
                                                    if not n.startswith(".")], directory


@pytest.mark.parametrize("network", ["default", "none"])
@pytest.mark.parametrize("remove", [False, True], ids=["keep", "rm"])
def test_rm_f_races_an_attached_run(mydocker, network, remove):
    options = [*(["--rm"] if remove else []), *(["--network", "none"] if network == "none" else [])]
    failures = []
    for i, delay in enumerate(DELAYS):
        name = f"race{i}"
        run = subprocess.Popen(mydocker.argv("run", *options, "--name", name, "busybox", "sleep", "100"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _appeared(mydocker, name)
            time.sleep(delay)
            rm = mydocker("rm", "-f", name, rc=None)
            _out, err = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        if (run.returncode, rm.rc) != (137, 0):
            failures.append(f"delay {delay}: run rc={run.returncode} {err.strip()!r}; rm rc={rm.rc} {rm.err.strip()!r}")
        _nothing_left(mydocker)
    assert not failures, "\n".join(failures)
