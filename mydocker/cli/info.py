"""`mydocker info`: where state lives and which storage driver containers get."""

from __future__ import annotations

from mydocker.flags import Command

command = (
    Command("info", "Display system-wide information", usage="info [OPTIONS]", max_args=0)
    .flag("-f", "--format", kind="str", metavar="FORMAT", help="only {{json .}} is understood")
)


def handle(engine, opts, args: list[str]) -> int:
    import json
    import sys
    info = engine.system.info()
    if opts.format:
        sys.stdout.write(json.dumps(info) + "\n")
        return 0
    labels = [("Containers", "Containers"), (" Running", "ContainersRunning"), (" Stopped", "ContainersStopped"),
              ("Images", "Images"), ("Server Version", "ServerVersion"), ("Storage Driver", "Driver"),
              ("Kernel Version", "KernelVersion"), ("Operating System", "OperatingSystem"),
              ("Architecture", "Architecture"), ("CPUs", "NCPU"), ("Root Dir", "DockerRootDir"),
              ("Run Root", "RunRoot"), ("IPv4 Forwarding", "IPv4Forwarding"), ("Firewall", "FirewallTable")]
    sys.stdout.write("".join(f" {label}: {info[key]}\n" for label, key in labels))
    return 0
