"""The full suite runs in one pytest process: once the CRI tests (tests/e2e/test_cri.py) have loaded
grpc there, later tests still create containers in-process, and the runtime forks its init right
after unshare(CLONE_NEWPID). grpc's core registers pthread_atfork handlers that stop its threads
before a fork and start them again after; in the parent, still inside the unshare, a new thread
cannot be made (clone(CLONE_THREAD) is EINVAL while pid_ns_for_children differs), and grpc aborts
the whole process. Importing crikit turns grpc's fork support off before grpc loads; this checks it holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import os, sys
sys.path.insert(0, {repo!r})
from tests import crikit  # first, as tests/e2e/test_cri.py does
import grpc
from cri_api.v1 import api_pb2
from mydocker.runtime.process import _fork_into_new_pid_namespace
rt, _ = crikit.cri_stubs({sock!r})
try:
    rt.Version(api_pb2.VersionRequest(), timeout=0.2)  # nobody listens: grpc's threads are running now
except grpc.RpcError:
    pass
for _ in range(20):
    pid = _fork_into_new_pid_namespace()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print("forked")
"""


def test_a_cri_client_in_the_process_does_not_abort_the_runtimes_forks(tmp_path):
    pytest.importorskip("cri_api", reason="no CRI client (pip install container-runtime-interface-api)")
    code = CHILD.format(repo=str(REPO), sock=str(tmp_path / "nobody.sock"))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}  # no GRPC_* from the caller's environment
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert (proc.returncode, proc.stdout.strip()) == (0, "forked"), proc.stderr[-2000:]
