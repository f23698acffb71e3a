"""A build's context: the directory COPY/ADD read from (or the tar or Dockerfile `build -` reads on
stdin), its .dockerignore rules, the globbing of COPY sources, and the checksums that key a copying
step in the build cache.

Patterns follow Go's filepath.Match, as Docker's do, with Docker's `**` (any number of directories)
and `!` exceptions; the last matching .dockerignore line wins.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat

from mydocker.errors import InvalidArgument, NotFound
from mydocker.lazy import lazy_module

fs = lazy_module("mydocker.linux.fs")
layer = lazy_module("mydocker.image.layer")
tarfile = lazy_module("tarfile")

# (exclude?, regex) per .dockerignore line, in file order
IgnoreRules = list[tuple[bool, re.Pattern]]


class BuildContext:
    """The context directory of one build, what its .dockerignore excludes, and the Dockerfile's
    text when it came on stdin. `close()` removes a context made from stdin."""

    def __init__(self, root: str, shown: str, dockerfile_text: str | None = None, scratch: str | None = None) -> None:
        """`shown`: the context as the user gave it, for messages; `scratch`: a directory to remove
        at the end (holding a context made from stdin)."""
        if not os.path.isdir(root):
            raise NotFound(f"the build context {shown} is not a directory: give the directory to build from")
        self.root = root
        self.ignore = read_dockerignore(root)
        self.dockerfile_text = dockerfile_text
        self.scratch = scratch
        self.from_stdin = scratch is not None

    @classmethod
    def open(cls, path: str, dockerfile: str | None, stdin: bytes | None, temp_dir) -> BuildContext:
        """The context `path`; "-": what the caller read from stdin, a tar (plain or compressed) to
        unpack into a directory made by `temp_dir(prefix)` or else the Dockerfile, with an empty
        context (Docker's manner). `dockerfile` "-": the Dockerfile is `stdin`."""
        text = stdin.decode("utf-8", "surrogateescape") if dockerfile == "-" else None
        if path != "-":
            return cls(os.path.abspath(path), path, text)
        if dockerfile == "-":
            raise InvalidArgument("build -f - -: stdin cannot be both the context and the Dockerfile; give a context")
        scratch = temp_dir(".build-stdin-")
        root = os.path.join(scratch, "context")
        try:
            os.mkdir(root, 0o700)
            tar = os.path.join(scratch, "context.tar")
            with open(tar, "wb") as f:
                f.write(stdin or b"")
            if is_archive(tar):  # as ADD tells a tar (plain or compressed) from a file
                layer.apply_layer(tar, root)
            else:
                text = (stdin or b"").decode("utf-8", "surrogateescape")
            return cls(root, path, text, scratch)
        except BaseException:
            fs.remove_tree(scratch)
            raise

    def close(self) -> None:
        if self.scratch is not None:
            fs.remove_tree(self.scratch)
            self.scratch = None

    def read_dockerfile(self, name: str | None) -> str:
        """The Dockerfile's text: from stdin (`-f -`, or `build -` without a tar), else the file
        `name` (-f) as given or inside the context; default <context>/Dockerfile."""
        if self.dockerfile_text is not None:
            return self.dockerfile_text
        path = name or os.path.join(self.root, "Dockerfile")
        # relative to the context when it came as a tar (the API's), or is not found from here
        if name and not os.path.isabs(path) and (self.from_stdin or not os.path.exists(path)):
            path = os.path.join(self.root, path)
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"no Dockerfile at {path}: write one or give its path with -f") from None


def is_archive(path: str) -> bool:
    """Whether `path` is a tar ADD unpacks and `build -` takes for a context: a regular file
    tarfile can read (plain, gzip, bzip2, xz)."""
    if not os.path.isfile(path):
        return False
    try:
        return tarfile.is_tarfile(path)
    except (OSError, EOFError):
        return False


def read_dockerignore(context: str) -> IgnoreRules:
    """The rules of `context`/.dockerignore (none when there is no such file)."""
    path = os.path.join(context, ".dockerignore")
    if not os.path.exists(path):
        return []
    rules = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").strip().lstrip("/")) or "."
            rules.append((not negate, re.compile(_pattern_regex(pattern))))
    return rules


def _pattern_regex(pattern: str) -> str:
    """Go filepath.Match with Docker's `**` (any number of directories)."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            if pattern[i:i + 1] == "/":
                out[-1] = "(.*/)?"
                i += 1
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "^" + "".join(out) + "$"


def ignored(rules: IgnoreRules | None, rel: str) -> bool:
    """Whether `rel` (relative to the context) or a directory above it is excluded."""
    if not rules:
        return False
    parts = rel.split("/")
    result = False
    for exclude, regex in rules:
        for n in range(1, len(parts) + 1):
            if regex.match("/".join(parts[:n])):
                result = exclude  # a pattern matching a directory applies to what is inside
                break
    return result


def glob_sources(root: str, pattern: str, ignore: IgnoreRules | None) -> list[str]:
    """Paths relative to `root` matching the COPY source `pattern` (Go filepath.Match per
    component), less what `ignore` excludes."""
    rel = os.path.normpath("/" + pattern).lstrip("/") or "."
    if rel == ".":
        return ["."]
    if not any(c in rel for c in "*?["):
        return [rel] if os.path.lexists(os.path.join(root, rel)) and not ignored(ignore, rel) else []
    found = ["."]
    for part in rel.split("/"):
        nxt = []
        for base in found:
            directory = os.path.join(root, base)
            if not os.path.isdir(directory):
                continue
            if any(c in part for c in "*?["):
                names = sorted(n for n in os.listdir(directory) if fnmatch.fnmatchcase(n, part))
            else:
                names = [part] if os.path.lexists(os.path.join(directory, part)) else []
            nxt += [os.path.normpath(os.path.join(base, n)) for n in names]
        found = nxt
    return [f for f in found if not ignored(ignore, f)]


def sources_checksum(root: str, sources: list[str], ignore: IgnoreRules | None) -> str:
    """The sha256 (hex) of the names, modes, link targets and contents of everything a copy of
    `sources` (relative to `root`) takes: what keys a COPY/ADD step in the build cache."""
    digest = hashlib.sha256()
    for rel in sources:
        _checksum(os.path.join(root, rel), rel, digest, ignore)
    return digest.hexdigest()


def _checksum(path: str, rel: str, digest, ignore: IgnoreRules | None) -> None:
    st = os.lstat(path)
    digest.update(f"{rel}\0{st.st_mode}\0".encode())
    if stat.S_ISLNK(st.st_mode):
        digest.update(os.readlink(path).encode())
    elif stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    elif stat.S_ISDIR(st.st_mode):
        for name in sorted(os.listdir(path)):
            sub = os.path.normpath(os.path.join(rel, name))
            if not ignored(ignore, sub):
                _checksum(os.path.join(path, name), sub, digest, ignore)
