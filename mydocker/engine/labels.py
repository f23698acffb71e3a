"""Labels and KEY=VALUE files as Docker reads them: `--label k=v`, `--label-file`, `--env-file`, and the
`label=` filter of ps, images, network ls and volume ls."""

from __future__ import annotations

from mydocker.errors import InvalidArgument


def parse_labels(values: list[str], files: list[str] = ()) -> dict[str, str]:
    """`--label-file` lines first, then `--label` (a later one wins); `k` alone is k="" (Docker)."""
    labels: dict[str, str] = {}
    for entry in [*(line for path in files for line in read_kv_file(path, "label")), *values]:
        key, _, value = entry.partition("=")
        if not key.strip():
            raise InvalidArgument(f"invalid label {entry!r}: use --label key=value (a non-empty key)")
        labels[key] = value
    return labels


def read_kv_file(path: str, what: str) -> list[str]:
    """The KEY[=VALUE] lines of an --env-file or --label-file: blank lines and # comments skipped,
    leading whitespace dropped (Docker's opts.ParseEnvFile)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InvalidArgument(f"cannot read the {what} file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"the {what} file {path} is not UTF-8 text") from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key = line.partition("=")[0]
        if not key or any(c.isspace() for c in key):
            raise InvalidArgument(f"invalid line {number} of the {what} file {path}: {line!r} "
                                  "(use KEY=VALUE, no spaces in KEY)")
        out.append(line)
    return out


def labels_match(labels: dict | None, wanted: list[str]) -> bool:
    """Docker's `label=` filter: every `k` present, every `k=v` equal."""
    labels = labels or {}
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def parse_object_filters(values: list[str], keys: tuple[str, ...]) -> dict[str, list[str]]:
    """`-f KEY=VALUE` of images, network ls, volume ls into Docker's filter map (only `keys` allowed)."""
    out: dict[str, list[str]] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or key not in keys:
            raise InvalidArgument(f"invalid filter {item!r}: use {', '.join(k + '=' for k in keys)}")
        out.setdefault(key, []).append(value)
    return out
