"""`mydocker-runtime`'s fork server (mydocker/forkserver.py): a foreground `run` (runtime/entry.py
decides which) in a process whose modules, the init's included, are loaded already.

    python -c "from mydocker.runtime.forkserver import main; main(PACKAGE_DIR)"   (forkserver_client.start_server)
"""

from __future__ import annotations

from mydocker import forkserver, forkserver_client


def preload() -> None:
    """What `run` loads, in this process and in its init (runtime/init.py loads all the init needs)."""
    import importlib
    for name in ("mydocker.exit", "mydocker.collector", "mydocker.runtime.entry", "mydocker.runtime.cli",
                 "mydocker.runtime.prewarm", "mydocker.runtime.create", "mydocker.runtime.start",
                 "mydocker.runtime.foreground", "mydocker.runtime.delete", "mydocker.runtime.init",
                 "mydocker.runtime.cgroups.v1", "mydocker.runtime.cgroups.v2", "mydocker.runtime.validate",
                 "mydocker.runtime.schema", "mydocker.runtime.seccomp", "mydocker.runtime.hooks"):
        importlib.import_module(name)


def same_cgroups(peer: int) -> bool:
    """A relative cgroupsPath hangs under the caller's own cgroup (runc's rule, runtime/cgroups): the
    served child must be where the client is."""
    return forkserver.read(f"/proc/{peer}/cgroup") == forkserver.read("/proc/self/cgroup")


def run() -> None:
    from mydocker.runtime import entry
    entry.run_served()


def main(package_dir: str) -> None:
    forkserver.main(package_dir, forkserver.FrontEnd(forkserver_client.RUNTIME, preload, run, same_cgroups))
