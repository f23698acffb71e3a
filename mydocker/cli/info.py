"""`mydocker info`: where state lives and which storage driver containers get."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.lazy import lazy_module

json = lazy_module("json")

command = (
    Command("info", "Display system-wide information", usage="info [OPTIONS]", max_args=0)
    .flag("-f", "--format", kind="str", metavar="FORMAT", help="only {{json .}} is understood")
)


def handle(engine, opts, args: list[str]) -> int:
    info = engine.system.info()
    if opts.format:
        sys.stdout.write(json.dumps(info) + "\n")
        return 0
    labels = [("Containers", "Containers"), (" Running", "ContainersRunning"), (" Stopped", "ContainersStopped"),
              ("Images", "Images"), ("Server Version", "ServerVersion"), ("Storage Driver", "Driver"),
              ("Kernel Version", "KernelVersion"), ("Operating System", "OperatingSystem"),
              ("Architecture", "Architecture"), ("CPUs", "NCPU"), ("Root Dir", "DockerRootDir"),
              ("Run Root", "RunRoot"), ("IPv4 Forwarding", "IPv4Forwarding"), ("Firewall", "FirewallTable")]
    lines = [f" {label}: {info[key]}\n" for label, key in labels if key in info]
    if info.get("Rootless"):
        maps = info["IDMappings"]
        lines += [" Rootless: true\n",
                  *(f"  {kind} Map: {', '.join(':'.join(map(str, m)) for m in maps[key])}\n"
                    for kind, key in (("UID", "UIDMap"), ("GID", "GIDMap"))),
                  f"  Cgroups: {info['CgroupDriver']}\n", f"  Default Network: {info['RootlessNetwork']}\n",
                  *([f"  Note: {info['RootlessNote']}\n"] if info.get("RootlessNote") else [])]
    sys.stdout.write("".join(lines))
    return 0
