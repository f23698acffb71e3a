"""The part of Go's text/template that `--format` and `inspect -f` use, over plain dicts and lists.

    {{.ID}}  {{.State.Status}}  {{json .}}  {{json .Config.Env}}  {{.Names | upper}}
    {{index .Labels "k"}}  {{join .Args ","}}  {{printf "%s:%d" .Name 3}}  {{len .Mounts}}
    {{if .State.Running}}up{{else}}down{{end}}  {{range .Mounts}}{{.Destination}} {{end}}  {{with .X}}..{{end}}
    {{- trims -}}, eq ne lt le gt ge and or not, "strings" `raw` 12 true false nil, $ (the top value)

A missing key is an error, as with Docker's inspect. Values print as Go prints them:
true/false, [a b], map[k:v], <no value> for nil.
"""

from __future__ import annotations

import json
import re

from mydocker.errors import InvalidArgument

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+(?:\.\d+)?)
                     |(?P<field>(?:\$?(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\$|\.))|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
                     |(?P<punct>[()|]))""", re.X)


class TemplateError(InvalidArgument):
    pass


def render(template: str, data) -> str:
    return Template(template).execute(data)


class Template:
    def __init__(self, text: str) -> None:
        self.text = text
        self.nodes, end = self._parse(self._lex(text), 0, ())
        if end is not None:
            raise TemplateError(f"template {text!r}: unexpected {{{{{end}}}}}")

    # lexing: text pieces and actions, with {{- -}} trimming applied
    @staticmethod
    def _lex(text: str) -> list[tuple[str, str]]:
        items: list[tuple[str, str]] = []
        pos = 0
        for m in _ACTION.finditer(text):
            literal = text[pos:m.start()]
            if m.group(1):
                literal = literal.rstrip()
            if items and items[-1][0] == "trim":
                items.pop()
                literal = literal.lstrip()
            items.append(("text", literal))
            body = m.group(2).strip()
            if not body.startswith("/*"):
                items.append(("action", body))
            if m.group(3):
                items.append(("trim", ""))
            pos = m.end()
        rest = text[pos:]
        if items and items[-1][0] == "trim":
            items.pop()
            rest = rest.lstrip()
        if "{{" in rest:
            raise TemplateError(f"template {text!r}: unclosed action: add }}}}")
        items.append(("text", rest))
        return items

    def _parse(self, items, i, stops) -> tuple[list, str | None]:
        self._items, self._pos = items, i
        return self._list(stops)

    def _list(self, stops) -> tuple[list, str | None]:
        """Nodes up to one of `stops` ("else", "end"); returns them and the stop action's text."""
        nodes: list = []
        items = self._items
        while self._pos < len(items):
            kind, body = items[self._pos]
            self._pos += 1
            if kind == "text":
                if body:
                    nodes.append(("text", body))
                continue
            word = body.split(None, 1)[0] if body else ""
            if word in ("end", "else"):
                if word not in stops:
                    raise TemplateError(f"template {self.text!r}: unexpected {{{{{body}}}}}")
                return nodes, body
            if word in ("if", "range", "with"):
                nodes.append(self._block(word, body[len(word):], body))
                continue
            nodes.append(("print", self._pipeline(body, body)))
        return nodes, None

    def _block(self, word: str, pipe_text: str, body: str) -> tuple:
        pipe = self._pipeline(pipe_text, body)
        then, stop = self._list(("else", "end"))
        other: list = []
        if stop is not None and stop.startswith("else"):
            rest = stop[4:].strip()
            if rest:  # {{else if ...}}: a nested block that ends with our {{end}}
                inner = rest.split(None, 1)[0]
                if inner not in ("if", "with"):
                    raise TemplateError(f"template {self.text!r}: unexpected {{{{{stop}}}}}")
                return word, pipe, then, [self._block(inner, rest[len(inner):], rest)]
            other, stop = self._list(("end",))
        if stop is None:
            raise TemplateError(f"template {self.text!r}: {{{{{word}}}}} without {{{{end}}}}")
        return word, pipe, then, other

    def _pipeline(self, text: str, whole: str) -> list:
        tokens = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise TemplateError(f"template {self.text!r}: cannot parse {{{{{whole}}}}} near {text[pos:]!r}")
            pos = m.end()
            kind = m.lastgroup
            value = m.group(kind)
            if kind == "str":
                tokens.append(("lit", json.loads(value)))
            elif kind == "raw":
                tokens.append(("lit", value[1:-1]))
            elif kind == "num":
                tokens.append(("lit", float(value) if "." in value else int(value)))
            elif kind == "ident" and value in ("true", "false", "nil"):
                tokens.append(("lit", {"true": True, "false": False, "nil": None}[value]))
            else:
                tokens.append((kind, value))
        commands, _ = self._commands(tokens, 0, whole)
        if not commands or not commands[0]:
            raise TemplateError(f"template {self.text!r}: empty action {{{{{whole}}}}}")
        return commands

    def _commands(self, tokens, i, whole) -> tuple[list, int]:
        commands: list[list] = [[]]
        while i < len(tokens):
            kind, value = tokens[i]
            i += 1
            if kind == "punct" and value == "|":
                commands.append([])
            elif kind == "punct" and value == "(":
                inner, i = self._commands(tokens, i, whole)
                if i < len(tokens) and tokens[i][0] == "field" and tokens[i][1].startswith(".") and tokens[i][1] != ".":
                    commands[-1].append(("chain", (inner, tokens[i][1])))  # (index .Mounts 0).Destination
                    i += 1
                else:
                    commands[-1].append(("pipe", inner))
            elif kind == "punct" and value == ")":
                return commands, i
            else:
                commands[-1].append((kind, value))
        return commands, i

    # execution
    def execute(self, data) -> str:
        out: list[str] = []
        self._run(self.nodes, data, data, out)
        return "".join(out)

    def _run(self, nodes, dot, top, out) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "print":
                out.append(_show(self._eval_pipe(node[1], dot, top)))
            else:
                value = self._eval_pipe(node[1], dot, top)
                then, other = node[2], node[3]
                if kind == "if":
                    self._run(then if _truth(value) else other, dot, top, out)
                elif kind == "with":
                    self._run(then if _truth(value) else other, value if _truth(value) else dot, top, out)
                else:  # range
                    items = list(value.values() if isinstance(value, dict) else value or [])
                    if not items:
                        self._run(other, dot, top, out)
                    for item in items:
                        self._run(then, item, top, out)

    def _eval_pipe(self, commands, dot, top):
        value = _NONE = object()
        for command in commands:
            value = self._eval_command(command, dot, top, None if value is _NONE else [value])
        return value

    def _eval_command(self, command, dot, top, piped):
        head_kind, head = command[0]
        if head_kind == "ident":
            fn = _FUNCS.get(head)
            if fn is None:
                raise TemplateError(f"template {self.text!r}: function {head!r} not defined")
            args = [self._operand(op, dot, top) for op in command[1:]] + (piped or [])
            try:
                return fn(*args)
            except TemplateError:
                raise
            except Exception as e:  # noqa: BLE001 - a bad call in a user's template
                raise TemplateError(f"template {self.text!r}: error calling {head}: {e}") from None
        if len(command) > 1 or piped:
            raise TemplateError(f"template {self.text!r}: {head} is not a function: it takes no arguments")
        return self._operand(command[0], dot, top)

    def _operand(self, op, dot, top):
        kind, value = op
        if kind == "lit":
            return value
        if kind == "pipe":
            return self._eval_pipe(value, dot, top)
        if kind == "chain":
            return self._operand(("field", value[1]), self._eval_pipe(value[0], dot, top), top)
        if kind == "ident":
            return self._eval_command([op], dot, top, None)
        base = top if value.startswith("$") else dot
        for name in [p for p in value.lstrip("$").split(".") if p]:
            if isinstance(base, dict):
                if name not in base:
                    raise TemplateError(f"template {self.text!r}: map has no entry for key {name!r}")
                base = base[name]
            elif base is None:
                return None
            else:
                raise TemplateError(f"template {self.text!r}: can't evaluate field {name} in {type(base).__name__}")
        return base


def _truth(value) -> bool:
    return bool(value) if value is not None else False


def _show(value) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.0f}" if abs(value) < 1e21 else f"{value:e}"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_show(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _index(value, *keys):
    for key in keys:
        try:
            value = value[key] if isinstance(value, dict) else value[int(key)]
        except (KeyError, IndexError):
            if isinstance(value, dict):
                return None
            raise TemplateError(f"index {key} out of range") from None
    return value


def _printf(fmt: str, *args) -> str:
    conv = re.sub(r"%v", "%s", fmt).replace("%q", "%r")
    return conv % tuple(_show(a) if isinstance(a, (bool, list, dict, type(None))) else a for a in args)


_FUNCS = {
    "json": lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":")),
    "upper": lambda v: str(v).upper(),
    "lower": lambda v: str(v).lower(),
    "title": lambda v: str(v).title(),
    "join": lambda v, sep: sep.join(_show(x) for x in v or []),
    "split": lambda v, sep: str(v).split(sep),
    "index": _index,
    "len": lambda v: len(v or []),
    "printf": _printf,
    "print": lambda *a: "".join(_show(x) for x in a),
    "println": lambda *a: " ".join(_show(x) for x in a) + "\n",
    "truncate": lambda v, n: str(v)[:int(n)],
    "pad": lambda v, left, right: " " * int(left) + str(v) + " " * int(right),
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "and": lambda *a: next((x for x in a if not _truth(x)), a[-1]),
    "or": lambda *a: next((x for x in a if _truth(x)), a[-1]),
    "not": lambda a: not _truth(a),
}
