"""Declarative record classes, written like @dataclass, for code on the start-up path.

`import dataclasses` pulls in inspect, ast, dis and tokenize (cost: docs/startup.md), so records on
the start-up path use this instead: annotated fields, defaults, `factory(list)` for fresh mutable
defaults, keyword or positional construction, repr, equality and `asdict`.
"""

from __future__ import annotations

_MISSING = object()


class factory:
    """A default made fresh for each instance: `env: list[str] = factory(list)`."""

    __slots__ = ("make",)

    def __init__(self, make) -> None:
        self.make = make


def record(cls):
    names = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}

    def __init__(self, *args, **kwargs) -> None:
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes at most {len(names)} positional arguments")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names or key in values:
                raise TypeError(f"{cls.__name__}() got an unexpected or repeated argument {key!r}")
            values[key] = value
        for name in names:
            value = values.get(name, _MISSING)
            if value is _MISSING:
                value = defaults.get(name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{cls.__name__}() missing required argument {name!r}")
                if isinstance(value, factory):
                    value = value.make()
            setattr(self, name, value)
        post_init = getattr(self, "__post_init__", None)
        if post_init:
            post_init()

    def __repr__(self) -> str:
        return f"{cls.__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    cls.__init__, cls.__repr__, cls.__eq__ = __init__, __repr__, __eq__
    cls.__hash__ = None
    cls.__record_fields__ = names
    return cls


def fields(obj) -> tuple[str, ...]:
    return obj.__record_fields__


def asdict(obj):
    """Records (nested in lists and dicts too) as plain JSON-able values."""
    if hasattr(obj, "__record_fields__"):
        return {name: asdict(getattr(obj, name)) for name in obj.__record_fields__}
    if isinstance(obj, (list, tuple)):
        return [asdict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: asdict(v) for k, v in obj.items()}
    return obj


class lazy:
    """functools.cached_property, without functools (docs/startup.md): computed on first access,
    then kept in the instance's __dict__, which takes precedence."""

    def __init__(self, compute) -> None:
        self.compute, self.name = compute, compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.compute(obj)
        return value
