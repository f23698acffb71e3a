"""What a user asks of `run`, already parsed from the command line but not yet validated."""

from __future__ import annotations

from mydocker.record import factory, record


@record
class RunOptions:
    image: str
    command: list[str] = factory(list)
    name: str | None = None
    env: list[str] = factory(list)
    tty: bool = False
    interactive: bool = False
    remove: bool = False
    hostname: str | None = None
    workdir: str | None = None
    user: str | None = None
    entrypoint: str | None = None
