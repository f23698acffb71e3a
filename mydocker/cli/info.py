"""`mydocker info`: where state lives and which storage driver containers get."""

from __future__ import annotations

from mydocker.flags import Command

command = (
    Command("info", "Display system-wide information", usage="info [OPTIONS]", max_args=0)
    .flag("-f", "--format", kind="str", metavar="FORMAT", help="only {{json .}} is understood")
)


def handle(engine, opts, args: list[str]) -> int:
    import json
    import os
    import sys
    from mydocker.cli.main import VERSION
    from mydocker.image import snapshot
    containers = engine.records.containers()
    info = {
        "Containers": len(containers),
        "ContainersRunning": sum(c.status == "running" for c in containers),
        "ContainersStopped": sum(c.status != "running" for c in containers),
        "Images": len(engine.images.list()),
        "Driver": snapshot.probe(os.path.join(engine.root, "containers")),
        "DockerRootDir": engine.root,
        "RunRoot": engine.runroot,
        "ServerVersion": VERSION,
        "KernelVersion": os.uname().release,
        "OperatingSystem": _os_name(),
        "Architecture": os.uname().machine,
        "NCPU": os.cpu_count(),
        **engine.networks.info(),  # IPv4Forwarding (containers' traffic needs it), firewall table, bridge
    }
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


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
