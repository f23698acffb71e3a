"""JSON through the `_json` C accelerator alone, for the runtime's start-up path.

`import json` pulls in `re`, and `re` pulls in `enum`, `functools` and `collections` (docs/startup.md).
The C scanner and encoder that `json` itself uses need none of them.
"""

import _json

from mydocker.lazy import lazy_module

json = lazy_module("json")

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Context:
    """The attributes `_json.make_scanner` reads from a JSONDecoder."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_Context())
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)


class JSONError(ValueError):
    def __init__(self, msg: str, doc: str, pos: int) -> None:
        self.msg, self.pos = msg, pos
        self.lineno = doc.count("\n", 0, pos) + 1
        self.colno = pos - doc.rfind("\n", 0, pos)
        super().__init__(f"{msg}: line {self.lineno} column {self.colno} (char {pos})")


def loads(text: str | bytes) -> object:
    if isinstance(text, bytes):
        text = text.decode()
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as e:
        raise JSONError("Expecting value", text, e.value) from None
    except (ValueError, SystemError):
        # The scanner's error path needs json.decoder, which the fast path never imports
        # (without it the scanner fails with SystemError): let the stdlib parser say what is wrong.
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            raise JSONError(e.msg, text, e.pos) from None
        raise
    rest = len(text) - len(text[end:].lstrip(_WHITESPACE))
    if rest != len(text) and text[end:].strip(_WHITESPACE):
        raise JSONError("Extra data", text, end)
    return value


def dumps(value: object) -> str:
    return "".join(_encode(value, 0))


def pretty(value: object, indent: int = 2, _level: int = 0) -> str:
    """dumps with `indent` spaces per level (for people reading `state` or `spec`)."""
    pad, inner = " " * (indent * _level), " " * (indent * (_level + 1))
    if isinstance(value, dict) and value:
        items = [f"{inner}{dumps(str(k))}: {pretty(v, indent, _level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        return "[\n" + ",\n".join(f"{inner}{pretty(v, indent, _level + 1)}" for v in value) + f"\n{pad}]"
    return dumps(value)


def load_file(path: str) -> object:
    with open(path, "rb") as f:
        return loads(f.read())
