"""`mydocker container COMMAND`: the container verbs under one noun, plus `prune`."""

from __future__ import annotations

from mydocker.flags import Command
from mydocker.cli.image import group
from mydocker.lazy import lazy_module

image = lazy_module("mydocker.cli.image")
inspect = lazy_module("mydocker.cli.inspect")

SUBCOMMANDS = {
    "ls": ("mydocker.cli.ps", "List containers"),
    "ps": ("mydocker.cli.ps", "List containers"),
    "run": ("mydocker.cli.run", "Create and run a new container from an image"),
    "create": ("mydocker.cli.create", "Create a new container"),
    "start": ("mydocker.cli.start", "Start one or more stopped containers"),
    "stop": ("mydocker.cli.stop", "Stop one or more running containers"),
    "restart": ("mydocker.cli.restart", "Restart one or more containers"),
    "kill": ("mydocker.cli.kill", "Kill one or more running containers"),
    "rm": ("mydocker.cli.rm", "Remove one or more containers"),
    "logs": ("mydocker.cli.logs", "Fetch the logs of a container"),
    "exec": ("mydocker.cli.exec", "Execute a command in a running container"),
    "inspect": ("mydocker.cli.inspect", "Display detailed information on one or more containers"),
    "wait": ("mydocker.cli.wait", "Block until one or more containers stop, then print their exit codes"),
    "top": ("mydocker.cli.top", "Display the running processes of a container"),
    "cp": ("mydocker.cli.cp", "Copy files/folders between a container and the local filesystem"),
    "rename": ("mydocker.cli.rename", "Rename a container"),
    "pause": ("mydocker.cli.pause", "Pause all processes within one or more containers"),
    "unpause": ("mydocker.cli.unpause", "Unpause all processes within one or more containers"),
    "prune": ("mydocker.cli.container", "Remove all stopped containers"),
}

command = group("container", SUBCOMMANDS)

prune_command = (
    Command("container prune", "Remove all stopped containers", usage="container prune [OPTIONS]", max_args=0)
    .flag("-f", "--force", help="do not prompt for confirmation")
)


def handle(engine, opts, args: list[str]) -> int:
    local = {"prune": (prune_command, handle_prune)}
    if args and args[0] == "inspect":  # `container inspect` never falls back to images
        local["inspect"] = (inspect.command, lambda e, o, a: inspect.handle(e, _typed(o), a))
    return image.dispatch(engine, args, SUBCOMMANDS, "container", local)


def _typed(opts):
    opts["type"] = "container"
    return opts


def handle_prune(engine, opts, args: list[str]) -> int:
    removed = engine.containers.prune().deleted
    print("Deleted Containers:" if removed else "", end="\n" if removed else "")
    for container_id in removed:
        print(container_id)
    print(("\n" if removed else "") + "Total reclaimed space: 0B")
    return 0
