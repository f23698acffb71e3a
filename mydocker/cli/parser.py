"""argparse with Docker's manners: usage errors are one line and exit 125, flags stop at the image."""

from __future__ import annotations

import argparse

from mydocker.errors import InvalidArgument


class UsageError(InvalidArgument):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        message = message.replace("unrecognized arguments", "unknown flag or argument")
        if "arguments are required: image" in message:
            message = f"'{self.prog}' requires at least 1 argument: the image to run"
        raise UsageError(f"{message}. See '{self.prog} --help'.")


def new_parser(prog: str, description: str) -> Parser:
    return Parser(prog=prog, description=description, allow_abbrev=False)
