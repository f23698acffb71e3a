"""`mydocker inspect`: containers (or images) as Docker-shaped JSON, or through a -f template."""

from __future__ import annotations

import sys

from mydocker.flags import Command
from mydocker.errors import InvalidArgument, MyDockerError, NotFound
from mydocker.lazy import lazy_module

json = lazy_module("json")
gotemplate = lazy_module("mydocker.cli.gotemplate")

command = (
    Command("inspect", "Return low-level information on containers or images",
            usage="inspect [OPTIONS] NAME|ID [NAME|ID...]", min_args=1)
    .flag("-f", "--format", kind="str", metavar="FORMAT", help="format the output using a Go template")
    .flag("-s", "--size", help="display total file sizes")
    .flag("--type", kind="str", metavar="TYPE", help="only look for a container or an image")
)


def find(engine, ref: str, kind: str | None) -> dict:
    if kind not in (None, "container", "image"):
        raise InvalidArgument(f"invalid --type {kind!r}: use container or image")
    if kind != "image":
        try:
            return engine.containers.inspect(ref)
        except NotFound:
            if kind == "container":
                raise
    try:
        return engine.images.inspect(ref)
    except NotFound:
        raise NotFound(f"no such object: {ref} (neither a container nor an image)") from None


def write_documents(docs: list[dict], fmt: str | None) -> None:
    """Docker's inspect output: an indented JSON array, or `-f TEMPLATE` executed for each document."""
    if fmt and fmt.strip() != "json":
        template = gotemplate.Template(fmt.replace("\\n", "\n").replace("\\t", "\t"))
        sys.stdout.write("".join(template.execute(item) + "\n" for item in docs))
    else:
        sys.stdout.write(json.dumps(docs, indent=4, ensure_ascii=False) + "\n")


def handle(engine, opts, args: list[str]) -> int:
    found, code = [], 0
    for ref in args:
        try:
            found.append(find(engine, ref, opts.type))
        except MyDockerError as e:
            print(f"mydocker: {e}", file=sys.stderr)
            code = 1
    write_documents(found, opts.format)
    return code
