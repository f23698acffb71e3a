"""`mydocker logout`."""

from __future__ import annotations

from mydocker.flags import Command

command = Command("logout", "Log out from a registry", usage="logout [SERVER]", max_args=1)


def handle(engine, opts, args: list[str]) -> int:
    from mydocker.engine.distribution import Distribution, registry_domain
    server = args[0] if args else ""
    if Distribution.of(engine).logout(server):
        print(f"Removing login credentials for {registry_domain(server)}")
    else:
        print(f"Not logged in to {registry_domain(server)}")
    return 0
