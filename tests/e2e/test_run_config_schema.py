"""The config.json the engine builds holds to the OCI runtime-spec schema.

The engine hands its own configs to the runtime with the schema check skipped (runtime.api.create
`checked`: 1.5-2 ms of CPU on every start, docs/startup.md); this holds the builder to the schema
instead, over the flags that shape the config.
"""

from __future__ import annotations

import json
import os

import pytest

from mydocker.runtime.validate import validate_config

FLAG_SETS = {
    "defaults, bridge, published port": ["-p", "127.0.0.1::80"],
    "limits and ids": ["--network", "none", "-m", "64m", "--memory-swap", "128m", "--memory-reservation", "32m",
                       "--cpus", "0.5", "-c", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0",
                       "--pids-limit", "100", "--ulimit", "nofile=1024:2048", "-u", "nobody", "-w", "/tmp",
                       "-e", "A=1", "--hostname", "inner", "-l", "k=v", "--init"],
    "security and mounts": ["--network", "none", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN",
                            "--security-opt", "no-new-privileges", "--read-only", "--tmpfs", "/run:size=1m",
                            "-v", "vol:/data", "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m",
                            "--add-host", "h:10.0.0.1", "--dns", "10.0.0.53", "--health-cmd", "true"],
    "privileged": ["--network", "none", "--privileged"],
}


@pytest.mark.parametrize("flags", FLAG_SETS.values(), ids=FLAG_SETS.keys())
def test_the_engines_config_passes_the_schema(mydocker, flags):
    cid = mydocker("create", *flags, "busybox", "true").out.strip()
    try:
        with open(os.path.join(mydocker.root, "containers", cid, "config.json")) as f:
            validate_config(json.load(f))  # raises InvalidArgument naming the field
        mydocker("start", cid)  # and the runtime takes it unchecked
        assert mydocker("wait", cid).out.strip() == "0"
    finally:
        mydocker("rm", "-f", "-v", cid)
