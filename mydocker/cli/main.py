"""`mydocker`: parse, call the engine, map errors to Docker's exit codes (125 engine, 126, 127).

Only the module of the command being run is imported: start-up time is a feature.
"""

from __future__ import annotations

import os
import sys

from mydocker.flags import Command, FlagError, UsageError, check_args, parse
from mydocker import collector
from mydocker.errors import MyDockerError, describe
from mydocker.lazy import lazy_module

api = lazy_module("mydocker.engine.api")
mydocker_exit = lazy_module("mydocker.exit")  # not `exit`: the builtin

PROG = "mydocker"
VERSION = "0.1.0"

# name -> (module holding `command` and `handle`, summary for the top-level help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("mydocker.cli.run", "Create and run a new container from an image"),
    "create": ("mydocker.cli.create", "Create a new container"),
    "ps": ("mydocker.cli.ps", "List containers"),
    "stats": ("mydocker.cli.stats", "Display a live stream of container resource usage statistics"),
    "logs": ("mydocker.cli.logs", "Fetch the logs of a container"),
    "exec": ("mydocker.cli.exec", "Execute a command in a running container"),
    "attach": ("mydocker.cli.attach", "Attach local standard input, output, and error streams to a running container"),
    "start": ("mydocker.cli.start", "Start one or more stopped containers"),
    "stop": ("mydocker.cli.stop", "Stop one or more running containers"),
    "restart": ("mydocker.cli.restart", "Restart one or more containers"),
    "kill": ("mydocker.cli.kill", "Kill one or more running containers"),
    "rm": ("mydocker.cli.rm", "Remove one or more containers"),
    "inspect": ("mydocker.cli.inspect", "Return low-level information on containers or images"),
    "wait": ("mydocker.cli.wait", "Block until one or more containers stop, then print their exit codes"),
    "top": ("mydocker.cli.top", "Display the running processes of a container"),
    "rename": ("mydocker.cli.rename", "Rename a container"),
    "pause": ("mydocker.cli.pause", "Pause all processes within one or more containers"),
    "unpause": ("mydocker.cli.unpause", "Unpause all processes within one or more containers"),
    "update": ("mydocker.cli.update", "Update configuration of one or more containers"),
    "container": ("mydocker.cli.container", "Manage containers"),
    "images": ("mydocker.cli.images", "List images"),
    "image": ("mydocker.cli.image", "Manage images"),
    "tag": ("mydocker.cli.tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "rmi": ("mydocker.cli.rmi", "Remove one or more images"),
    "commit": ("mydocker.cli.commit", "Create a new image from a container's changes"),
    "build": ("mydocker.cli.build", "Build an image from a Dockerfile"),
    "save": ("mydocker.cli.save", "Save one or more images to a tar archive"),
    "load": ("mydocker.cli.load", "Load an image from a tar archive or STDIN"),
    "import": ("mydocker.cli.import_", "Import the contents from a tarball to create a filesystem image"),
    "export": ("mydocker.cli.export", "Export a container's filesystem as a tar archive"),
    "cp": ("mydocker.cli.cp", "Copy files/folders between a container and the local filesystem"),
    "events": ("mydocker.cli.events", "Get real time events from the server"),
    "history": ("mydocker.cli.history", "Show the history of an image"),
    "volume": ("mydocker.cli.volume", "Manage volumes"),
    "info": ("mydocker.cli.info", "Display system-wide information"),
    "pull": ("mydocker.cli.pull", "Download an image from a registry"),
    "push": ("mydocker.cli.push", "Upload an image to a registry"),
    "login": ("mydocker.cli.login", "Log in to a registry"),
    "logout": ("mydocker.cli.logout", "Log out from a registry"),
    "network": ("mydocker.cli.network", "Manage networks"),
    "port": ("mydocker.cli.port", "List port mappings or a specific mapping for the container"),
    "system": ("mydocker.cli.system", "Manage the engine: system service serves the Docker Engine API"),
}


def root_command() -> Command:
    cmd = Command("", "A container engine in Python.", usage="[OPTIONS] COMMAND", interspersed=False)
    # Empty: the engine's default (root's, or an ordinary user's under its XDG dirs).
    cmd.flag("--root", kind="str", metavar="DIR", default=os.environ.get("MYDOCKER_ROOT", ""),
             help="engine state directory (default /var/lib/mydocker; rootless $XDG_DATA_HOME/mydocker)")
    cmd.flag("--runroot", kind="str", metavar="DIR", default=os.environ.get("MYDOCKER_RUNROOT", ""),
             help="runtime state directory (default /run/mydocker; rootless $XDG_RUNTIME_DIR/mydocker)")
    cmd.flag("--cluster-store", kind="str", metavar="URL", default=os.environ.get("MYDOCKER_CLUSTER_STORE", ""),
             help="etcd://host:port[,host:port] shared by the hosts of overlay networks")
    cmd.flag("-v", "--version", help="print the version and exit")
    for name, (_module, summary) in COMMANDS.items():
        cmd.subcommands[name] = Command(name, summary)
    return cmd


# Commands over in moments run without the cyclic garbage collector (mydocker/collector.py: it
# costs milliseconds around the container's fork); the others (pull, build, logs -f...) keep it.
_QUICK = {"run", "ps", "exec", "start", "stop", "restart", "kill", "rm", "inspect", "port"}


def exit_code(error: Exception, words: list[str]) -> int:
    """Docker's CLI: 125 for a flag it refuses and for what fails in `run` itself (once its arguments
    are right); 126 and 127 for a command that cannot be run; 1 for every other failure (an unknown
    command, a missing argument included). `words`: the command's."""
    code = error.exit_code if isinstance(error, MyDockerError) else 125
    if code != 125 or isinstance(error, FlagError):
        return code
    run = words[:1] == ["run"] or words[:2] == ["container", "run"]
    return 125 if run and not isinstance(error, UsageError) else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    words: list[str] = []  # the command's name (and a management command's verb), once parsed
    try:
        top = root_command()
        glob, rest = parse(top, argv, PROG)
        if glob.version:
            print(f"mydocker version {VERSION}")
            return 0
        if not rest or glob.get("help"):
            sys.stdout.write(top.help_text(PROG))
            return 0 if glob.get("help") or not argv else 125
        name, args = rest[0], rest[1:]
        words = rest[:2]
        if name not in COMMANDS:
            raise UsageError(f"unknown command: {name!r}. See '{PROG} --help'.")
        if name not in _QUICK:
            collector.resume()
        __import__(COMMANDS[name][0])  # importlib.import_module, without importing importlib
        module = sys.modules[COMMANDS[name][0]]
        cmd: Command = module.command
        opts, positionals = parse(cmd, args, PROG)
        if opts.get("help"):
            sys.stdout.write(cmd.help_text(PROG))
            return 0
        check_args(cmd, positionals, PROG)
        return module.handle(api.open_engine(glob.root, glob.runroot, glob.cluster_store), opts, positionals)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - no traceback reaches a user
        if os.environ.get("MYDOCKER_DEBUG") and not isinstance(e, MyDockerError):
            raise
        print(f"{PROG}: {describe(e)}", file=sys.stderr)
        return exit_code(e, words)


def run_main() -> None:
    collector.pause()  # until main knows the command
    code = main()
    client = sys.modules.get("mydocker.forkserver_client")  # the launcher's
    if client is not None:
        client.start_server()  # if it found none
    mydocker_exit.exit_now(code)


if __name__ == "__main__":
    run_main()
