"""GET /system/df: the engine's disk usage (engine/diskusage.py) in Docker's shape."""

from __future__ import annotations

from mydocker.apiserver.convert import container_summary, image_summaries
from mydocker.apiserver.handlers import Context, table


def system_df(ctx: Context) -> None:
    usage = ctx.api.system.df()
    containers_api = ctx.api.containers
    images = image_summaries(usage["images"])
    counts: dict[str, int] = {}
    shared = {row["ID"]: row["SharedSize"] for row in usage["images"]}
    for row in usage["images"]:
        counts[row["ID"]] = max(counts.get(row["ID"], 0), row["Containers"])
    for image in images:
        image["Containers"] = counts.get(image["Id"], 0)
        image["SharedSize"] = shared.get(image["Id"], 0)
    records = [rec for rec, _ in usage["containers"]]
    fields = containers_api.summaries(records, no_trunc=True) if records else []
    containers = []
    for (rec, size_rw), f in zip(usage["containers"], fields):
        entry = container_summary(rec, f, [])
        entry["Mounts"] = usage["mounts"].get(rec.id, [])  # the CLI's LOCAL VOLUMES counts the local driver's
        entry["SizeRw"] = size_rw
        entry["SizeRootFs"] = size_rw + next((i["Size"] for i in images if i["Id"] == _config_of(usage, rec)), 0)
        containers.append(entry)
    volumes = [{"Name": v["Name"], "Driver": v["Driver"], "Mountpoint": v["Mountpoint"], "Labels": v["Labels"],
                "Scope": v["Scope"], "CreatedAt": v["CreatedAt"], "Options": v["Options"],
                "UsageData": {"Size": v["Size"], "RefCount": v["RefCount"]}} for v in usage["volumes"]]
    ctx.json(200, {"LayersSize": usage["layers_size"], "Images": images, "Containers": containers,
                   "Volumes": volumes, "BuildCache": []})


def _config_of(usage: dict, rec) -> str | None:
    """The image id (config digest) of a container's image (recorded by manifest)."""
    return next((row["ID"] for row in usage["images"] if row.get("Manifest") == rec.image_id), None)


ROUTES = table([
    (("GET",), "/system/df", system_df),
])
