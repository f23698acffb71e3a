"""`ps`'s selection of containers: Docker's filters (status, name, id, exited, ancestor, label, health,
before, since), -a, -n and -l, over the observed records."""

from __future__ import annotations

from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

re = lazy_module("re")
reference = lazy_module("mydocker.image.reference")
labels = lazy_module("mydocker.engine.labels")

STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
KEYS = ("status", "name", "id", "exited", "ancestor", "label", "health", "before", "since")
HEALTH = ("starting", "healthy", "unhealthy", "none")


def parse_filters(values: list[str]) -> dict[str, list[str]]:
    """KEY=VALUE strings as typed (`ps -f`) into Docker's filter map, checked."""
    out: dict[str, list[str]] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or key not in KEYS:
            raise InvalidArgument(f"invalid filter {item!r}: use status=, name=, id=, exited=, ancestor=, "
                                  "label=, health=, before= or since=")
        out.setdefault(key, []).append(value)
    check(out)
    return out


def check(filters: dict[str, list[str]]) -> None:
    for key, values in filters.items():
        for value in values:
            if key not in KEYS:
                raise InvalidArgument(f"invalid filter {key + '=' + value!r}: use status=, name=, id=, exited=, "
                                      "ancestor=, label=, health=, before= or since=")
            if key == "status" and value not in STATUSES:
                raise InvalidArgument(f"invalid filter 'status={value}': use one of {', '.join(STATUSES)}")
            if key == "health" and value not in HEALTH:
                raise InvalidArgument(f"invalid filter 'health={value}': use one of {', '.join(HEALTH)}")
            if key == "exited" and not value.lstrip("-").isdigit():
                raise InvalidArgument(f"invalid filter 'exited={value}': give an exit code")


def select(service, opts) -> list:
    """The records `ps` shows for api.ListOptions, newest first."""
    filters = opts.filters
    check(filters)
    wants_all = opts.all or opts.latest or opts.last >= 0 or "status" in filters or "exited" in filters
    records = service.list(all=True)  # newest first
    order = {r.id: i for i, r in enumerate(records)}
    if not wants_all:
        records = [r for r in records if r.status in ("running", "restarting", "paused")]
    records = [r for r in records if matches(r, filters, order, service.records)]
    if opts.latest:
        return records[:1]
    if opts.last >= 0:
        return records[:opts.last]
    return records


def matches(rec, filters: dict[str, list[str]], order: dict[str, int], records) -> bool:
    for key, values in filters.items():
        if key == "status" and rec.status not in values:
            return False
        if key == "name" and not any(re.search(v, rec.name) for v in values):
            return False
        if key == "id" and not any(rec.id.startswith(v) for v in values):
            return False
        if key == "exited" and (rec.status != "exited" or str(rec.exit_code) not in values):
            return False
        if key == "ancestor" and not any(_same_image(v, rec) for v in values):
            return False
        if key == "label":
            if not labels.labels_match(rec.config.get("Labels"), values):
                return False
        if key == "health" and (rec.health or {}).get("Status", "none") not in values:
            return False
        if key in ("before", "since"):
            for v in values:
                other = records.find_container(v)
                if key == "before" and not order[rec.id] > order[other.id]:
                    return False
                if key == "since" and not order[rec.id] < order[other.id]:
                    return False
    return True


def _same_image(ref: str, rec) -> bool:
    if ref in (rec.image, rec.image_id) or rec.image_id.removeprefix("sha256:").startswith(ref):
        return True
    try:
        return str(reference.parse(ref)) == str(reference.parse(rec.image))
    except Exception:  # noqa: BLE001 - not a reference: no match
        return False
