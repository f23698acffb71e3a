"""rootfs.parent_mount: which mount holds the rootfs, and is it shared (runc's getParentMount)."""

from __future__ import annotations

from mydocker.runtime.rootfs import parent_mount

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /srv rw,relatime - tmpfs tmpfs rw
31 30 0:27 / /srv/a\\040b rw,relatime shared:7 master:2 - tmpfs tmpfs rw
32 30 0:28 / /srv/ab rw,relatime - tmpfs tmpfs rw
33 31 0:29 / /srv/a\\040b rw,relatime - tmpfs tmpfs rw
"""


def test_longest_prefix_wins_and_the_top_mount_decides(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(MOUNTINFO)
    assert parent_mount("/var/lib/x", str(info)) == ("/", True)
    assert parent_mount("/srv/x", str(info)) == ("/srv", False)
    assert parent_mount("/srv/abc", str(info)) == ("/srv", False)  # a name prefix is not a path prefix
    assert parent_mount("/srv/ab/rootfs", str(info)) == ("/srv/ab", False)
    assert parent_mount("/srv/a b/rootfs", str(info)) == ("/srv/a b", False)  # unescaped; mount 33 is on top
    info.write_text(MOUNTINFO.rsplit("33 ", 1)[0])
    assert parent_mount("/srv/a b", str(info)) == ("/srv/a b", True)  # the path is itself a mount point
