"""Validate config.json against the runtime-spec JSON schema, with messages that name the field.

A small draft-04 validator for the keywords that schema uses (type, properties, required, items,
enum, pattern, minimum, maximum, minItems, $ref, allOf, anyOf, oneOf, patternProperties,
additionalProperties): the jsonschema package costs tens of milliseconds to import on every create.
"""

from __future__ import annotations

from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

runtime_schema = lazy_module("mydocker.runtime.schema")
re = lazy_module("re")

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


class _Invalid(Exception):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(where, problem)
        self.where, self.problem = where, problem


def validate_config(config: object) -> None:
    """Raise InvalidArgument naming the first field that breaks the schema."""
    try:
        _Validator(runtime_schema.SCHEMAS).check(config, runtime_schema.SCHEMAS["config-schema.json"],
                                                 "config-schema.json", "")
    except _Invalid as e:
        raise InvalidArgument(f"config.json: {e.where or '(top level)'} {e.problem}") from None


class _Validator:
    def __init__(self, schemas: dict[str, dict]) -> None:
        self.schemas = schemas

    def resolve(self, ref: str, base: str) -> tuple[dict, str]:
        name, _, pointer = ref.partition("#")
        name = name or base
        node = self.schemas[name]
        for part in filter(None, pointer.split("/")):
            node = node[part]
        return node, name

    def check(self, value: object, schema: dict, base: str, where: str) -> None:
        if "$ref" in schema:
            target, base = self.resolve(schema["$ref"], base)
            self.check(value, target, base, where)
            return
        kind = schema.get("type")
        if kind is not None and not _is_type(value, kind):
            raise _Invalid(where, f"must be {_type_name(kind)}, not {_json_type(value)}")
        if "enum" in schema and value not in schema["enum"]:
            raise _Invalid(where, f"must be one of {', '.join(map(str, schema['enum']))}, not {value!r}")
        if isinstance(value, str) and "pattern" in schema and not _matches(schema["pattern"], value):
            raise _Invalid(where, f"{value!r} does not match the pattern {schema['pattern']}")
        if _is_number(value):
            if "minimum" in schema and value < schema["minimum"]:
                raise _Invalid(where, f"must be at least {schema['minimum']}, not {value}")
            if "maximum" in schema and value > schema["maximum"]:
                raise _Invalid(where, f"must be at most {schema['maximum']}, not {value}")
        if isinstance(value, list):
            if len(value) < schema.get("minItems", 0):
                raise _Invalid(where, f"needs at least {schema['minItems']} item(s)")
            items = schema.get("items")
            if isinstance(items, dict):
                for i, item in enumerate(value):
                    self.check(item, items, base, f"{where}[{i}]")
        if isinstance(value, dict):
            self._object(value, schema, base, where)
        for sub in schema.get("allOf", ()):
            self.check(value, sub, base, where)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                self._alternatives(value, schema[key], key, base, where)

    def _object(self, value: dict, schema: dict, base: str, where: str) -> None:
        for name in schema.get("required", ()):
            if name not in value:
                raise _Invalid(_join(where, name), "is required")
        properties = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in properties:
                self.check(item, properties[name], base, _join(where, name))
                continue
            matched = False
            for pattern, sub in patterns.items():
                if _matches(pattern, name):
                    matched = True
                    self.check(item, sub, base, _join(where, name))
            if not matched and isinstance(extra, dict):
                self.check(item, extra, base, _join(where, name))
            elif not matched and extra is False:
                raise _Invalid(_join(where, name), "is not allowed here")

    def _alternatives(self, value: object, options: list, key: str, base: str, where: str) -> None:
        first = None
        passed = 0
        for sub in options:
            try:
                self.check(value, sub, base, where)
                passed += 1
            except _Invalid as e:
                first = first or e
        if passed == 0:
            raise first if len(options) == 1 and first else _Invalid(where, "matches none of the allowed forms")
        if key == "oneOf" and passed > 1:
            raise _Invalid(where, "matches more than one of the allowed forms")


def _upper_word(text: str) -> bool:
    return text.isascii() and text.isalpha() and text.isupper()


# The schema's patterns as plain checks: `re` would add its import (and enum's) to every create.
_PATTERNS = {
    "^[1-9][0-9]*[KMG]B$": lambda v: len(v) > 2 and v[-1] == "B" and v[-2] in "KMG" and v[0] in "123456789"
    and v[:-2].isascii() and v[:-2].isdigit(),
    "^MB:[^\\n]*$": lambda v: v.startswith("MB:") and "\n" not in v,
    "^RLIMIT_[A-Z]+$": lambda v: v.startswith("RLIMIT_") and _upper_word(v[7:]),
    "^[cbup]$": lambda v: v in ("c", "b", "u", "p"),
    ".{1,}": lambda v: any(c != "\n" for c in v),
}


def _matches(pattern: str, value: str) -> bool:
    check = _PATTERNS.get(pattern)
    if check is not None:
        return check(value)
    return re.search(pattern, value) is not None


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_type(value: object, kind: str | list) -> bool:
    if isinstance(kind, list):
        return any(_is_type(value, k) for k in kind)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)
                or (isinstance(value, float) and value.is_integer()))
    if kind == "number":
        return _is_number(value)
    expected = _TYPES.get(kind)
    return expected is None or isinstance(value, expected)


def _type_name(kind: str | list) -> str:
    return " or ".join(kind) if isinstance(kind, list) else {"object": "an object", "array": "a list",
                                                             "integer": "an integer"}.get(kind, f"a {kind}")


def _json_type(value: object) -> str:
    for name, kind in (("null", type(None)), ("a boolean", bool), ("an integer", int), ("a number", float),
                       ("a string", str), ("a list", list), ("an object", dict)):
        if isinstance(value, kind):
            return name
    return type(value).__name__
