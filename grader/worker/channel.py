"""Length-prefixed JSON frames over a Unix socket (never pickle), with byte caps and deadlines.

A worker's frames pass only through functions of C types bound at import, before any
student code runs: the JSON encoder and scanner of `_json` (`grader.runtime.jsontext`), and
`_socket.socket`'s own `sendall` and `recvmsg`. Student code that rebinds `json.dumps`, `JSONEncoder.encode`,
`socket.socket.sendall` or `_socket.socket.recvmsg` changes nothing a worker sends or reads.
"""

from __future__ import annotations

import _socket
import os
import select
import socket
import struct
import time
from typing import Any

from grader.runtime.jsontext import dumps, loads

__all__ = [
    "MAX_FRAME",
    "ChannelClosed",
    "FrameError",
    "FrameBuffer",
    "FrameTimeout",
    "ProbeFailed",
    "decode_frame",
    "encode_frame",
    "read_frame",
    "recv_frame_blocking",
    "send_all",
    "send_frame",
    "unsolicited",
]

MAX_FRAME = 8 * 1024 * 1024
_HEADER = struct.Struct(">I")
_MAX_FDS = 4
_FD_BYTES = 4  # an int in SCM_RIGHTS
_send_all = _socket.socket.sendall
_receive_message = _socket.socket.recvmsg
_ANCILLARY_SPACE = _socket.CMSG_LEN(_MAX_FDS * _FD_BYTES)
_SOL_SOCKET, _SCM_RIGHTS = _socket.SOL_SOCKET, _socket.SCM_RIGHTS
# SCM_CREDENTIALS: the kernel's word on which process sent a piece (pid, uid, gid), which a
# sender without privileges cannot make name another process
_CREDENTIALS = struct.Struct("iII")
_CREDENTIALS_SPACE = socket.CMSG_SPACE(_CREDENTIALS.size)


try:  # the judge-facing module owns this class; reuse it so `except` clauses agree
    if os.environ.get("GRADER_SANDBOX_ROLE") == "warm-parent":
        raise ImportError("the warm parent imports no judge modules")
    from grader.runtime.failures import ProbeFailed  # type: ignore[attr-defined]
except ImportError:

    class ProbeFailed(Exception):  # type: ignore[no-redef]
        """A probe got no usable reply: status "error" (died, garbage) or "timeout" (hung)."""

        def __init__(self, status: str, message: str) -> None:
            super().__init__(f"{status}: {message}")
            self.status = status
            self.message = message


class FrameError(Exception):
    """The peer sent something that is not a well-formed frame within the size cap."""


class ChannelClosed(FrameError):
    """The peer closed its end (for a worker: it died)."""


class FrameTimeout(Exception):
    """No complete frame arrived before the deadline."""


def encode_frame(obj: Any, max_bytes: int = MAX_FRAME) -> bytes:
    """Header plus UTF-8 JSON (compact, as json.dumps with ensure_ascii=False and no spaces);
    raises FrameError when the body would exceed max_bytes, ValueError on a circular reference."""
    body = dumps(obj).encode("utf-8")
    if len(body) > max_bytes:
        raise FrameError(f"frame of {len(body)} bytes exceeds the cap of {max_bytes}")
    return _HEADER.pack(len(body)) + body


def decode_frame(body: bytes) -> Any:
    """Parse a frame body; any malformed JSON (or absurd nesting) is a FrameError."""
    try:
        return loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"malformed frame: {type(exc).__name__}") from None


def send_all(sock: socket.socket, data: bytes) -> None:
    """`sock.sendall(data)` through the C method itself, whatever the socket classes now hold."""
    _send_all(sock, data)


def send_frame(
    sock: socket.socket, obj: Any, max_bytes: int = MAX_FRAME, fds: list[int] | None = None
) -> None:
    """Send one frame (blocking, or bounded by the socket's timeout); fds ride on its first byte."""
    data = encode_frame(obj, max_bytes)
    if fds:
        sent = socket.send_fds(sock, [data[:1]], fds)
        data = data[sent:]
    sock.sendall(data)


def _receive(sock: socket.socket, size: int, fds: list[int]) -> bytes:
    """Up to `size` bytes, and any fds passed with them (what socket.recv_fds does, in C calls)."""
    data, ancillary, _flags, _address = _receive_message(sock, size, _ANCILLARY_SPACE)
    for level, kind, payload in ancillary:
        if level == _SOL_SOCKET and kind == _SCM_RIGHTS:
            whole = len(payload) - len(payload) % _FD_BYTES
            fds.extend(memoryview(payload[:whole]).cast("i").tolist())
    return data


def _recv_exact_blocking(sock: socket.socket, size: int, fds: list[int]) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        data = _receive(sock, min(size - len(chunks), 1 << 20), fds)
        if not data:
            raise ChannelClosed("peer closed the channel")
        chunks += data
    return bytes(chunks)


def recv_frame_blocking(sock: socket.socket, max_bytes: int = MAX_FRAME) -> tuple[Any, list[int]]:
    """Read one frame and any fds passed with it; blocks until it is complete."""
    fds: list[int] = []
    (size,) = _HEADER.unpack(_recv_exact_blocking(sock, _HEADER.size, fds))
    if size > max_bytes:
        raise FrameError(f"frame of {size} bytes exceeds the cap of {max_bytes}")
    return decode_frame(_recv_exact_blocking(sock, size, fds)), fds


def _wait_readable(fd: int, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    # poll() rounds sub-millisecond waits up to a whole millisecond; a spent deadline checks without waiting
    if not poller.poll(remaining * 1000 if remaining >= 0.001 else 0):
        raise FrameTimeout("deadline passed")


def _recv_available(sock: socket.socket, size: int, senders: list | None = None) -> bytes | None:
    """Up to `size` bytes that have arrived, without waiting; None when nothing has. With
    `senders` (on a socket with SO_PASSCRED), the pid of the process that sent them is appended
    (None if the kernel named none): one read never joins pieces of two senders."""
    try:
        if senders is None:
            data = sock.recv(size, socket.MSG_DONTWAIT)
        else:
            data, ancillary, _flags, _address = sock.recvmsg(size, _CREDENTIALS_SPACE, socket.MSG_DONTWAIT)
            senders.append(_sender(ancillary))
    except BlockingIOError:
        return None
    except ConnectionError as exc:
        raise ChannelClosed(str(exc)) from None
    if not data:
        raise ChannelClosed("peer closed the channel")
    return data


def _sender(ancillary: list) -> int | None:
    for level, kind, payload in ancillary:
        if level == _SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(payload) >= _CREDENTIALS.size:
            return _CREDENTIALS.unpack_from(payload)[0]
    return None


def _recv_exact_until(sock: socket.socket, size: int, deadline: float, senders: list | None = None) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        # the reply is usually there already: wait only when it is not
        data = _recv_available(sock, min(size - len(chunks), 1 << 20), senders)
        if data is None:
            _wait_readable(sock.fileno(), deadline)
        else:
            chunks += data
    return bytes(chunks)


def read_frame(sock: socket.socket, deadline: float, max_bytes: int = MAX_FRAME, senders: list | None = None) -> Any:
    """Judge side: one frame, never more than max_bytes buffered, never waiting past deadline.

    With `senders`, the pid of the sender of each piece read is appended to it (see _recv_available)."""
    (size,) = _HEADER.unpack(_recv_exact_until(sock, _HEADER.size, deadline, senders))
    if size > max_bytes:
        raise FrameError(f"frame of {size} bytes exceeds the cap of {max_bytes}")
    return decode_frame(_recv_exact_until(sock, size, deadline, senders))


def unsolicited(sock: socket.socket) -> bool:
    """Judge side: whether bytes wait on the channel though the peer was asked nothing."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, OSError):
        return False


class FrameBuffer:
    """Judge side, for a long-lived link: bytes are kept across deadlines, so a frame cut by one is not lost."""

    def __init__(self, sock: socket.socket, max_bytes: int = MAX_FRAME) -> None:
        self.sock = sock
        self.max_bytes = max_bytes
        self._data = bytearray()

    def _complete(self) -> Any:
        if len(self._data) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self._data)
        if size > self.max_bytes:
            raise FrameError(f"frame of {size} bytes exceeds the cap of {self.max_bytes}")
        if len(self._data) < _HEADER.size + size:
            return None
        body = bytes(self._data[_HEADER.size : _HEADER.size + size])
        del self._data[: _HEADER.size + size]
        return decode_frame(body)

    def read(self, deadline: float) -> Any:
        """The next frame; FrameTimeout leaves any partial frame buffered for the next call."""
        while (frame := self._complete()) is None:
            if not self._receive():
                _wait_readable(self.sock.fileno(), deadline)
        return frame

    def read_nowait(self) -> Any:
        """The next frame if it has fully arrived, else None (a partial frame stays buffered)."""
        while (frame := self._complete()) is None:
            if not self._receive():
                return None
        return frame

    def _receive(self) -> bool:
        """Buffer what has arrived; False when nothing had."""
        data = _recv_available(self.sock, 1 << 16)
        if data is None:
            return False
        self._data += data
        return True
