"""`mydocker network COMMAND`: create, ls, inspect, rm, prune, connect, disconnect, reconcile."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.cli.image import group
from mydocker.errors import MyDockerError, NotFound
from mydocker.lazy import lazy_module

image = lazy_module("mydocker.cli.image")
api = lazy_module("mydocker.engine.api")
inspect = lazy_module("mydocker.cli.inspect")
table = lazy_module("mydocker.cli.table")

SUBCOMMANDS = {
    "create": ("mydocker.cli.network", "Create a network"),
    "ls": ("mydocker.cli.network", "List networks"),
    "inspect": ("mydocker.cli.network", "Display detailed information on one or more networks"),
    "rm": ("mydocker.cli.network", "Remove one or more networks"),
    "prune": ("mydocker.cli.network", "Remove all unused networks"),
    "connect": ("mydocker.cli.network", "Connect a container to a network"),
    "disconnect": ("mydocker.cli.network", "Disconnect a container from a network"),
    "reconcile": ("mydocker.cli.network",
                  "Recreate bridges and firewall rules from the records (after a reboot or flush)"),
}

command = group("network", SUBCOMMANDS)

create_command = (
    Command("network create", "Create a network", usage="network create [OPTIONS] NETWORK", min_args=1, max_args=1)
    .flag("-d", "--driver", kind="str", metavar="DRIVER", default="bridge",
          help="driver: bridge, or overlay (needs --cluster-store)")
    .flag("--subnet", kind="str", metavar="CIDR", help="subnet, e.g. 10.77.0.0/24 (default: a free private one)")
    .flag("--gateway", kind="str", metavar="IP", help="gateway address (default: the subnet's first)")
    .flag("--internal", help="no traffic to or from outside the network")
    .flag("-l", "--label", kind="list", metavar="K=V", help="set metadata on the network")
)
ls_command = (
    Command("network ls", "List networks", usage="network ls [OPTIONS]", max_args=0)
    .flag("-q", "--quiet", help="only show network IDs")
    .flag("--no-trunc", help="do not truncate the output")
    .flag("--format", kind="str", metavar="FORMAT", help="table TEMPLATE, json, or a Go template")
    .flag("-f", "--filter", kind="list", metavar="KEY=VALUE", help="label=KEY[=VALUE], name=, id= or driver=")
)
LS_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
              "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT", "Subnet": "SUBNET",
              "Bridge": "BRIDGE"}
LS_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
inspect_command = (
    Command("network inspect", "Display detailed information on one or more networks",
            usage="network inspect [OPTIONS] NETWORK [NETWORK...]", min_args=1)
    .flag("-f", "--format", kind="str", metavar="FORMAT", help="format the output using a Go template, or json")
)
rm_command = Command("network rm", "Remove one or more networks", usage="network rm NETWORK [NETWORK...]", min_args=1)
prune_command = (
    Command("network prune", "Remove all unused networks", usage="network prune [OPTIONS]", max_args=0)
    .flag("-f", "--force", help="do not prompt for confirmation")
)
connect_command = (
    Command("network connect", "Connect a container to a network",
            usage="network connect [OPTIONS] NETWORK CONTAINER", min_args=2, max_args=2)
    .flag("--ip", kind="str", metavar="IP", help="IPv4 address on the network")
    .flag("--alias", kind="list", metavar="NAME", help="another name for the container on the network")
)
disconnect_command = (
    Command("network disconnect", "Disconnect a container from a network",
            usage="network disconnect [OPTIONS] NETWORK CONTAINER", min_args=2, max_args=2)
    .flag("-f", "--force", help="accepted for Docker compatibility")
)
reconcile_command = Command("network reconcile", SUBCOMMANDS["reconcile"][1], usage="network reconcile", max_args=0)


def handle(engine, opts, args: list[str]) -> int:
    return image.dispatch(engine, args, SUBCOMMANDS, "network", {
        "create": (create_command, handle_create), "ls": (ls_command, handle_ls),
        "inspect": (inspect_command, handle_inspect), "rm": (rm_command, handle_rm),
        "prune": (prune_command, handle_prune), "connect": (connect_command, handle_connect),
        "disconnect": (disconnect_command, handle_disconnect), "reconcile": (reconcile_command, handle_reconcile),
    })


def handle_create(engine, opts, args: list[str]) -> int:
    labels = api.parse_labels(opts.label)
    net = engine.networks.create(api.NetworkCreateOptions(args[0], driver=opts.driver, subnet=opts.subnet,
                                                          gateway=opts.gateway, internal=opts.internal, labels=labels))
    print(net.id)
    return 0


def handle_ls(engine, opts, args: list[str]) -> int:
    # overlay networks other hosts created show here too
    listing = engine.networks.list(api.parse_object_filters(opts.filter, ("label", "name", "id", "driver")))
    for warning in listing.warnings:
        print(f"mydocker: warning: {warning}", file=sys.stderr)
    nets = listing.networks
    if opts.quiet:
        sys.stdout.write("".join(f"{n.id if opts.no_trunc else n.id[:12]}\n" for n in nets))
        return 0
    items = [{"ID": n.id if opts.no_trunc else n.id[:12], "Name": n.name, "Driver": n.driver,
              "Scope": "global" if n.driver == "overlay" else "local", "IPv6": "false",
              "Internal": str(n.internal).lower(), "Labels": ",".join(f"{k}={v}" for k, v in n.labels.items()),
              "CreatedAt": n.created, "Subnet": n.subnet, "Bridge": n.bridge} for n in nets]
    # Docker's columns by default (the subnet and bridge: --format "{{.Subnet}} {{.Bridge}}")
    sys.stdout.write(table.render(opts.format or LS_DEFAULT, items, LS_HEADERS))
    return 0


def handle_inspect(engine, opts, args: list[str]) -> int:
    found, missing = [], []
    for ref in args:
        try:
            found.append(engine.networks.inspect(ref))
        except NotFound as e:
            missing.append(str(e))
    inspect.write_documents(found, opts.format)
    if missing:
        raise NotFound("; ".join(missing))
    return 0


def handle_rm(engine, opts, args: list[str]) -> int:
    code = 0
    for ref in args:
        try:
            engine.networks.remove(ref)
            print(ref)
        except MyDockerError as e:
            print(f"mydocker: {e}", file=sys.stderr)
            code = 1  # Docker's CLI: 1 when any of them failed
    return code


def handle_prune(engine, opts, args: list[str]) -> int:
    if not opts.force and sys.stdin.isatty():
        sys.stdout.write("WARNING! This will remove all networks not used by at least one container.\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed = engine.networks.prune()
    if removed:
        sys.stdout.write("Deleted Networks:\n" + "".join(f"{n}\n" for n in removed))
    return 0


def handle_connect(engine, opts, args: list[str]) -> int:
    engine.networks.connect(args[0], args[1], ip=opts.ip, aliases=opts.alias)
    return 0


def handle_disconnect(engine, opts, args: list[str]) -> int:
    engine.networks.disconnect(args[0], args[1])
    return 0


def handle_reconcile(engine, opts, args: list[str]) -> int:
    result = engine.networks.reconcile()
    sys.stdout.write(f"networks: {', '.join(result['networks']) or '-'}; rules in table {result['table']}; "
                     f"detached {len(result['detached'])} stale container(s)\n")
    return 0
