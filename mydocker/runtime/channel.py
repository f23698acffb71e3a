"""A message channel between the runtime and the container's init (a SEQPACKET socketpair).

The book passes the user's command to the init through a pipe; here the pipe is a socketpair, so
the same channel also carries the init's setup errors back and the console's pty master (SCM_RIGHTS).
"""

from __future__ import annotations

import array
import json
import socket

_MAX = 1 << 20


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        return cls(a), cls(b)

    def send(self, msg: dict, fds: list[int] | None = None) -> None:
        data = json.dumps(msg).encode()
        if fds:
            socket.send_fds(self.sock, [data], fds)
        else:
            self.sock.send(data)

    def recv(self) -> tuple[dict | None, list[int]]:
        """Next message and any fds it carried; (None, []) when the other side is gone."""
        fds = array.array("i")
        data, ancdata, _flags, _addr = self.sock.recvmsg(_MAX, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
        if not data:
            return None, list(fds)
        return json.loads(data), list(fds)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()
