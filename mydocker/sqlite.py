"""SQLite's C module, loaded without functools.

`_sqlite3` imports `functools.lru_cache` when it loads (for each connection's statement cache), and
functools brings collections: 2–2.5 ms, a twentieth of `mydocker run --rm busybox true`, for a cache
the engine's few short statements never need more of than a dict. So, unless functools is loaded
already, `_sqlite3` is given a module holding the small cache below in functools' place, and the
real functools stays loadable for whoever imports it later (docs/startup.md).
"""

from __future__ import annotations

import sys


def _statement_cache(maxsize: int):
    """functools.lru_cache(maxsize) as `_sqlite3` calls it: wrapping `make(sql) -> statement`.
    First in, first out: the engine's statements are a few dozen, far under `maxsize` (128)."""
    def wrap(make):
        if maxsize <= 0:
            return make
        cache: dict = {}

        def cached(sql):
            statement = cache.get(sql)
            if statement is None:
                if len(cache) >= maxsize:
                    del cache[next(iter(cache))]
                statement = cache[sql] = make(sql)
            return statement
        return cached
    return wrap


def _load():
    if "_sqlite3" in sys.modules or "functools" in sys.modules:
        import _sqlite3
        return _sqlite3
    stand_in = type(sys)("functools")
    stand_in.lru_cache = _statement_cache
    sys.modules["functools"] = stand_in
    try:
        import _sqlite3
    except (ImportError, AttributeError):  # a Python whose _sqlite3 wants more of functools: the real one
        sys.modules.pop("functools", None)
        import _sqlite3
    finally:
        if sys.modules.get("functools") is stand_in:
            del sys.modules["functools"]
    return _sqlite3


sqlite3 = _load()
