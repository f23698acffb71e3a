"""The Dockerfile language: parse text into instructions, and expand variables in their words.

Follows Docker's (BuildKit's) rules: parser directives (`# escape=`) only at the very top; a line
ending with the escape character continues on the next; comment lines are dropped, also inside a
continuation; RUN/CMD/ENTRYPOINT/SHELL take a JSON array (exec form) or a string (shell form);
ENV/LABEL take `k=v` pairs (quotes kept until expansion) or the legacy `ENV k v`. Variables are
expanded by the builder, not here, because their values depend on the ARG and ENV seen so far.
Every error names the Dockerfile line.
"""

from __future__ import annotations

import json
import re

from mydocker.errors import InvalidArgument
from mydocker.recordclass import factory, record

# instructions whose words the builder expands ($VAR) before use, as Docker does
EXPANDED = frozenset({"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME",
                      "WORKDIR", "ARG"})
KNOWN = frozenset({"FROM", "RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER",
                   "EXPOSE", "LABEL", "VOLUME", "STOPSIGNAL", "MAINTAINER", "HEALTHCHECK", "ONBUILD"})
_FLAGS = {"COPY": ("chown", "chmod", "from", "link"), "ADD": ("chown", "chmod", "link", "checksum", "keep-git-dir"),
          "FROM": ("platform",), "RUN": ("network", "mount", "security"),
          "HEALTHCHECK": ("interval", "timeout", "start-period", "start-interval", "retries")}
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DockerfileError(InvalidArgument):
    """A Dockerfile that cannot be parsed or built; the message starts with the line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"Dockerfile line {line}: {message}")
        self.line = line


@record
class Instruction:
    cmd: str                      # upper case: RUN, COPY, ...
    line: int                     # where it starts in the file (1-based)
    original: str                 # the logical line as written, continuations joined
    args: list[str] = factory(list)   # exec-form items, a shell-form string, paths, words
    json: bool = False            # exec (JSON array) form
    flags: dict = factory(dict)   # --chown=..., --from=..., --platform=...
    pairs: list = factory(list)   # ENV/LABEL/ARG: (name, raw value or None), quotes not yet removed


@record
class Dockerfile:
    escape: str
    instructions: list[Instruction]

    def stages(self) -> tuple[list[Instruction], list[list[Instruction]]]:
        """(ARGs before the first FROM, one list of instructions per stage starting with its FROM)."""
        meta: list[Instruction] = []
        stages: list[list[Instruction]] = []
        for ins in self.instructions:
            if ins.cmd == "FROM":
                stages.append([ins])
            elif stages:
                stages[-1].append(ins)
            elif ins.cmd == "ARG":
                meta.append(ins)
            else:
                raise DockerfileError(ins.line, f"{ins.cmd} before the first FROM: only ARG may come before FROM")
        if not stages:
            line = self.instructions[-1].line if self.instructions else 1
            raise DockerfileError(line, "no FROM instruction: a Dockerfile starts with FROM (or ARG then FROM)")
        return meta, stages


# logical lines


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Parser directives at the top of the file, and the index of the first line after them."""
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line.strip())
        if not m or not line.lstrip().startswith("#"):
            return found, i
        key = m.group(1).lower()
        if key in found:
            raise DockerfileError(i + 1, f"the parser directive {key} is given twice: keep one")
        found[key] = m.group(2)
    return found, len(lines)


def _logical_lines(lines: list[str], start: int, escape: str) -> list[tuple[int, str]]:
    """(first line number, text) per instruction: continuations joined, comments and blanks dropped."""
    cont = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[tuple[int, str]] = []
    text, first = "", 0
    for i in range(start, len(lines)):
        raw = lines[i].rstrip("\r")
        stripped = raw.lstrip(" \t")
        if stripped.startswith("#"):
            continue  # a comment, also between continuation lines
        if not stripped.strip():
            if text and not text.strip():
                text = ""
            continue  # an empty line, also inside a continuation (Docker warns, then goes on)
        if not text:
            first = i + 1
            piece = stripped
        else:
            piece = raw
        m = cont.search(piece)
        if m:
            text += piece[:m.start()]
            continue
        text += piece
        out.append((first, text))
        text = ""
    if text.strip():
        out.append((first, text))  # the file ended inside a continuation: the instruction ends there
    return out


# words


def split_words(text: str, escape: str = "\\") -> list[str]:
    """Whitespace-separated words, quotes and escapes respected but kept (Docker's parseWords)."""
    words: list[str] = []
    word, quote, in_word, i = [], "", False, 0
    while i < len(text):
        ch = text[i]
        if not quote and ch in " \t":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            i += 1
            continue
        in_word = True
        if ch == escape and i + 1 < len(text) and quote != "'":
            word.append(ch + text[i + 1])
            i += 2
            continue
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote = ch
        word.append(ch)
        i += 1
    if in_word:
        words.append("".join(word))
    return words


def _json_list(text: str) -> list[str] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _take_flags(ins: Instruction, rest: str) -> str:
    allowed = _FLAGS.get(ins.cmd, ())
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        name, eq, value = word[2:].partition("=")
        if not name:
            break  # a bare `--`: not a flag
        if name not in allowed:
            choices = ", ".join("--" + a for a in allowed) or "none"
            raise DockerfileError(ins.line, f"unknown flag --{name} for {ins.cmd} (it accepts: {choices})")
        if not eq and name != "link":
            raise DockerfileError(ins.line, f"{ins.cmd} --{name} needs a value: --{name}=VALUE")
        ins.flags[name] = value if eq else "true"
        rest = after.lstrip(" \t")
    return rest


def _pairs(ins: Instruction, rest: str, escape: str) -> None:
    """ENV/LABEL: `k=v k2="v 2"`, or the legacy one-pair `k v...`."""
    words = split_words(rest, escape)
    if not words:
        raise DockerfileError(ins.line, f"{ins.cmd} needs at least one NAME=value")
    if "=" not in words[0]:
        if ins.cmd == "LABEL" or len(words) < 2:
            raise DockerfileError(ins.line, f"{ins.cmd} {rest.strip()!r}: give NAME=value"
                                  + (" (or the legacy form: ENV NAME value)" if ins.cmd == "ENV" else ""))
        name, _, value = rest.strip().partition(" ")
        ins.pairs.append((name, value.strip(" \t")))
        return
    for word in words:
        name, eq, value = word.partition("=")
        if not eq or not name:
            raise DockerfileError(ins.line, f"{ins.cmd}: {word!r} is not NAME=value: write every entry as NAME=value")
        ins.pairs.append((name, value))


def _parse_instruction(number: int, text: str, escape: str) -> Instruction:
    word, _, rest = text.strip(" \t").partition(" ")
    if "\t" in word:
        word, _, tail = word.partition("\t")
        rest = tail + " " + rest if rest else tail
    cmd = word.upper()
    rest = rest.strip(" \t")
    ins = Instruction(cmd=cmd, line=number, original=text.strip(" \t"))
    if cmd not in KNOWN:
        raise DockerfileError(number, f"unknown instruction {word!r}: see the Dockerfile reference for the list")
    if cmd == "ONBUILD":
        raise DockerfileError(number, f"{cmd} is not supported by mydocker build yet: remove it")
    rest = _take_flags(ins, rest)
    if cmd == "HEALTHCHECK":  # NONE, or CMD in exec (["CMD", ...]) or shell (["CMD-SHELL", "..."]) form
        kind, _, command = rest.partition(" ")
        command = command.strip(" \t")
        if kind.upper() == "NONE" and not command and not ins.flags:
            ins.args = ["NONE"]
        elif kind.upper() == "CMD" and command:
            items = _json_list(command)
            ins.args, ins.json = (["CMD", *items], True) if items is not None else (["CMD-SHELL", command], False)
        else:
            raise DockerfileError(number, "HEALTHCHECK takes NONE, or [--interval=D --timeout=D --start-period=D "
                                          "--retries=N] CMD command")
        return ins
    if cmd in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        items = _json_list(rest)
        if items is not None:
            ins.args, ins.json = items, True
        elif cmd == "SHELL":
            raise DockerfileError(number, 'SHELL needs the JSON form, e.g. SHELL ["/bin/sh", "-c"]')
        elif rest or cmd != "RUN":
            ins.args = [rest]
        if cmd == "RUN" and not rest:
            raise DockerfileError(number, "RUN needs a command")
        if cmd == "SHELL" and not items:
            raise DockerfileError(number, "SHELL needs at least the shell program")
    elif cmd in ("ENV", "LABEL"):
        _pairs(ins, rest, escape)
    elif cmd == "ARG":
        words = split_words(rest, escape)
        if not words:
            raise DockerfileError(number, "ARG needs a name, e.g. ARG VERSION or ARG VERSION=1.0")
        for w in words:
            name, eq, value = w.partition("=")
            if not _NAME.match(name):
                raise DockerfileError(number, f"ARG {name!r} is not a valid name: use letters, digits and _")
            ins.pairs.append((name, value if eq else None))
    elif cmd in ("COPY", "ADD", "VOLUME"):
        items = _json_list(rest)
        ins.json = items is not None
        ins.args = items if items is not None else rest.split()
        if cmd == "VOLUME" and not ins.args:
            raise DockerfileError(number, "VOLUME needs at least one path")
        if cmd != "VOLUME" and len(ins.args) < 2:
            raise DockerfileError(number, f"{cmd} needs at least one source and a destination: {cmd} SRC... DEST")
    elif cmd == "FROM":
        words = rest.split()
        if len(words) == 3 and words[1].lower() == "as":
            if not re.match(r"^[a-zA-Z][a-zA-Z0-9_.-]*$", words[2]):
                raise DockerfileError(number, f"invalid stage name {words[2]!r}: use letters, digits, _ . -")
            ins.flags["as"] = words[2].lower()
            words = words[:1]
        if len(words) != 1:
            raise DockerfileError(number, "FROM takes an image and optionally AS NAME: FROM IMAGE [AS NAME]")
        ins.args = words
    elif cmd == "EXPOSE":
        ins.args = rest.split()
        if not ins.args:
            raise DockerfileError(number, "EXPOSE needs at least one port")
    else:  # WORKDIR USER STOPSIGNAL MAINTAINER: one value
        if not rest:
            raise DockerfileError(number, f"{cmd} needs a value")
        if cmd in ("STOPSIGNAL",) and len(rest.split()) != 1:
            raise DockerfileError(number, f"{cmd} takes exactly one value")
        ins.args = [rest]
    return ins


def parse(text: str) -> Dockerfile:
    """Parse a Dockerfile's text; raises DockerfileError naming the line."""
    lines = text.split("\n")
    directives, start = _directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(1, f"invalid escape directive {escape!r}: use \\ or `")
    instructions = [_parse_instruction(n, t, escape) for n, t in _logical_lines(lines, start, escape)]
    if not instructions:
        raise DockerfileError(1, "the Dockerfile is empty: it needs at least a FROM instruction")
    return Dockerfile(escape, instructions)


# variable expansion (Docker's shell-word lexer)


def _name_at(word: str, i: int) -> int:
    j = i
    while j < len(word) and (word[j].isalnum() or word[j] == "_") and word[j].isascii():
        j += 1
    return j


def _dollar(word: str, i: int, env: dict[str, str], escape: str, line: int) -> tuple[str, int]:
    """Expand the `$...` starting at word[i] (the `$`); return (text, index after it)."""
    i += 1
    if i >= len(word):
        return "$", i
    ch = word[i]
    if ch == "{":
        end = _name_at(word, i + 1)
        name = word[i + 1:end]
        if not name:
            raise DockerfileError(line, f"bad substitution in {word!r}: write ${{NAME}}")
        if end < len(word) and word[end] == "}":
            return env.get(name, ""), end + 1
        op = word[end:end + 2] if word[end:end + 1] == ":" else word[end:end + 1]
        if op not in (":-", ":+", ":?", "-", "+", "?"):
            raise DockerfileError(line, f"unsupported modifier in {word!r}: use ${{NAME:-default}} or ${{NAME:+alt}}")
        arg, j = _expand(word, end + len(op), env, escape, line, stop="}")
        if j >= len(word) or word[j] != "}":
            raise DockerfileError(line, f"missing '}}' in {word!r}")
        value = env.get(name)
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            return (arg if unset else value), j + 1
        if op.endswith("+"):
            return ("" if unset else arg), j + 1
        if unset:
            raise DockerfileError(line, f"{name}: {arg or 'is not set'}")
        return value, j + 1
    if ch.isdigit():
        return "", i + 1  # positional parameters are empty, as in Docker
    end = _name_at(word, i)
    if end == i:
        return "$", i  # a lone $ stays
    return env.get(word[i:end], ""), end


def _expand(word: str, i: int, env: dict[str, str], escape: str, line: int, stop: str = "") -> tuple[str, int]:
    out: list[str] = []
    while i < len(word):
        ch = word[i]
        if stop and ch == stop:
            break
        if ch == escape:
            if i + 1 < len(word):
                out.append(word[i + 1])
            i += 2
        elif ch == "'":
            end = word.find("'", i + 1)
            if end < 0:
                raise DockerfileError(line, f"unmatched single quote in {word!r}")
            out.append(word[i + 1:end])
            i = end + 1
        elif ch == '"':
            i += 1
            while True:
                if i >= len(word):
                    raise DockerfileError(line, f"unmatched double quote in {word!r}")
                c = word[i]
                if c == '"':
                    i += 1
                    break
                if c == escape and i + 1 < len(word):
                    if word[i + 1] in ('"', "$", escape):
                        out.append(word[i + 1])
                        i += 2
                        continue
                    out.append(c)
                    i += 1
                elif c == "$":
                    text, i = _dollar(word, i, env, escape, line)
                    out.append(text)
                else:
                    out.append(c)
                    i += 1
        elif ch == "$":
            text, i = _dollar(word, i, env, escape, line)
            out.append(text)
        else:
            out.append(ch)
            i += 1
    return "".join(out), i


def expand(word: str, env: dict[str, str], escape: str = "\\", line: int = 0) -> str:
    """One word with $VAR, ${VAR}, ${VAR:-x}, ${VAR:+x} expanded and quotes/escapes removed."""
    text, _ = _expand(word, 0, env, escape, line)
    return text
