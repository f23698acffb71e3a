"""`mydocker commit CONTAINER [REPOSITORY[:TAG]]`: the container's changes become a new image."""

from __future__ import annotations

from mydocker.flags import Command

command = (
    Command("commit", "Create a new image from a container's changes",
            usage="commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", min_args=1, max_args=2)
    .flag("-a", "--author", kind="str", metavar="NAME", help='author (e.g. "Jane <jane@example.com>")')
    .flag("-c", "--change", kind="list", metavar="LINE", help="apply a Dockerfile instruction (CMD, ENV, WORKDIR, ...)")
    .flag("-m", "--message", kind="str", metavar="TEXT", help="commit message")
    .flag("-p", "--pause", kind="str", metavar="BOOL", help="accepted for compatibility")
)


def handle(engine, opts, args: list[str]) -> int:
    import os
    from mydocker.errors import NotFound
    from mydocker.image import snapshot
    record = engine.records.find_container(args[0])
    directory = os.path.join(engine.root, "containers", record.id)
    writable = snapshot.writable_dir(directory)
    if not os.path.isdir(writable):
        raise NotFound(f"container {args[0]} has no filesystem left to commit: it was removed")
    if snapshot.driver_of(directory) == "vfs":
        # vfs keeps no separate changes: the whole root filesystem becomes one layer on nothing
        image_id = engine.images.import_dir(writable, args[1] if len(args) > 1 else None,
                                            opts.change, opts.message or "")
    else:
        image_id = engine.images.commit(writable, record.image_id, args[1] if len(args) > 1 else None,
                                        opts.change, message=opts.message or "", author=opts.author or "",
                                        created_by=f"mydocker commit {record.name}")
    print(image_id)
    return 0
