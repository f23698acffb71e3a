"""`mydocker logout`."""

from __future__ import annotations

from mydocker.flags import Command

command = Command("logout", "Log out from a registry", usage="logout [SERVER]", max_args=1)


def handle(engine, opts, args: list[str]) -> int:
    registry, removed = engine.images.logout(args[0] if args else "")
    if removed:
        print(f"Removing login credentials for {registry}")
    else:
        print(f"Not logged in to {registry}")
    return 0
