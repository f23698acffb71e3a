"""network/slirp_keeper.hold: the rootless stack's keeper holds the stack's exit fd while the netns's pin
is there, and lets go (the stack, here `cat` reading that pipe, then exits and is reaped) once the pin
is deleted; with a timeout it returns still holding."""

from __future__ import annotations

import os

from mydocker.linux import inotify
from mydocker.network import slirp_keeper


def test_holds_while_the_pin_is_there_and_lets_go_when_it_goes(tmp_path):
    pin = tmp_path / "netns"
    pin.write_text("")
    exit_r, exit_w = os.pipe()
    stack = os.posix_spawn("/bin/cat", ["cat"], {}, file_actions=[(os.POSIX_SPAWN_DUP2, exit_r, 0)])
    os.close(exit_r)
    watch = inotify.Watch([str(tmp_path)], inotify.IN_DELETE | inotify.IN_MOVED_FROM)
    try:
        (tmp_path / "other").write_text("")   # another file's event: still holding
        (tmp_path / "other").unlink()
        assert slirp_keeper.hold(exit_w, stack, watch.fd, str(pin), timeout=0.2) is False
        os.kill(stack, 0)                      # the stack still runs
        pin.unlink()
        assert slirp_keeper.hold(exit_w, stack, watch.fd, str(pin), timeout=10) is True
        try:
            os.kill(stack, 0)
            raise AssertionError("the stack was not reaped")
        except ProcessLookupError:
            pass
        try:
            os.close(exit_w)
            raise AssertionError("the exit fd was not let go")
        except OSError:
            pass
    finally:
        watch.close()
