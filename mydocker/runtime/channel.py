"""A message channel between the runtime and the container's init (a SEQPACKET socketpair).

The book passes the user's command to the init through a pipe; here the pipe is a socketpair, so
the same channel also carries the init's setup errors back and the console's pty master (SCM_RIGHTS).
Built on `_socket` and `struct`: the `socket` module's enums cost start-up time on every create.
"""

from __future__ import annotations

import _socket
import errno
import os
import struct  # not array: array registers with collections.abc, which imports all of collections

from mydocker.errors import CommandNotExecutable, CommandNotFound, MyDockerError
from mydocker import jsonio

_MAX = 1 << 20
# A SEQPACKET datagram must fit the socket's send buffer (net.core.wmem_default, 208 KiB here, can be
# less): a longer message travels in parts of this size (halved while the kernel says EMSGSIZE), each
# but the last marked by a leading NUL (a JSON text never starts with one). The usual message is one
# datagram, as before.
_PART = 32 << 10
_MORE = b"\0"
_MAX_FDS = 64  # a message's descriptors: a console, or a `tasks` file per v1 hierarchy (about a dozen)


class Channel:
    def __init__(self, sock) -> None:
        self.sock = sock

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        return cls(a), cls(b)

    def send(self, msg: dict, fds: list[int] | None = None) -> None:
        data = jsonio.dumps(msg).encode()
        part = _PART
        while True:
            try:
                if len(data) <= part:
                    if fds:
                        send_fds(self.sock, data, fds)
                    else:
                        self.sock.send(data)
                    return
                self.sock.send(_MORE + data[:part])
                data = data[part:]
            except OSError as e:  # a send buffer smaller than the part: smaller parts
                if e.errno != errno.EMSGSIZE or part <= 1024:
                    raise
                part //= 2

    def pending(self) -> bool:
        """Whether a message (or the other side's close) waits to be read; never blocks."""
        try:
            self.sock.recv(1, _socket.MSG_PEEK | _socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True  # an error for recv() to report
        return True

    def recv(self) -> tuple[dict | None, list[int]]:
        """Next message and any fds it carried; (None, []) when the other side is gone."""
        fds: list[int] = []
        parts: list[bytes] = []
        while True:
            try:
                data, ancdata, _flags, _addr = self.sock.recvmsg(_MAX, _socket.CMSG_SPACE(4 * _MAX_FDS))
            except ConnectionResetError:
                # The peer closed with a message of ours unread (an init that failed before reading
                # "placed"): Linux reports that once, ahead of what the peer sent, still queued.
                data, ancdata, _flags, _addr = self.sock.recvmsg(_MAX, _socket.CMSG_SPACE(4 * _MAX_FDS))
            for level, kind, payload in ancdata:
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                    fds.extend(struct.unpack(f"{len(payload) // 4}i", payload[: len(payload) - len(payload) % 4]))
            if _flags & _socket.MSG_CTRUNC:  # descriptors dropped: never act on part of a message
                for fd in fds:
                    os.close(fd)
                raise OSError(errno.EMSGSIZE, f"a message carried more than {_MAX_FDS} descriptors")
            if not data.startswith(_MORE):
                break
            parts.append(data[1:])
        if not data:
            return None, fds
        return jsonio.loads(b"".join(parts) + data if parts else data), fds

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


def send_fds(sock, data: bytes, fds: list[int]) -> None:
    """One message with `fds` as SCM_RIGHTS (socket.send_fds without the socket module)."""
    sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))])


def error_message(exc: BaseException) -> dict:
    """Turn an exception in a child into a message the runtime raises again with context."""
    if isinstance(exc, CommandNotFound):
        kind = "notfound"
    elif isinstance(exc, CommandNotExecutable):
        kind = "notexec"
    elif isinstance(exc, MyDockerError):
        kind = "invalid"
    else:
        kind = "runtime"
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror if exc.filename is None or str(exc.filename) in exc.strerror \
            else f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc) or type(exc).__name__
    return {"type": "error", "kind": kind, "message": text}
