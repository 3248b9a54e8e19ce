"""A stream wrapper that watches the WebSocket bytes trio-websocket reads and writes: status, close frames, fragments.

trio-websocket (0.12) cannot say why a handshake failed before its 101 (its reader ends quietly
and ``wrap_client_stream`` waits for the connect timeout), rejects close code 1014 (its wsproto
table predates it), has no limit on fragments and leaves a ``ping`` waiting forever when the
connection ends. ``FrameWatch`` sits between it and the TCP/TLS stream, so the connector learns
all of that from the bytes, through trio-websocket's public API only (it takes any stream):

- before the 101: the HTTP status, or the EOF/reset/garbage that ended the attempt; a non-101
  answer is kept from trio-websocket (it sees EOF), so its reader never raises;
- after: the close frames either way (``first_close``, ``peer_close``, ``our_close``) and
  whether the stream ended;
- a message's ``max_fragments + 1``-th frame is not passed on: in its place trio-websocket gets a
  close frame 1009 as if from the peer, which it answers (so the peer gets our 1009) and reports.

Payload bytes are counted, never copied (a close frame's 125 bytes at most). ``on_end`` is called
when the stream is lost or a close frame passes, whichever comes first and then again.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import NamedTuple

import trio

from .._core.errors import ConnectError
from .seam import described, handshake_refused, peer_close_code_valid, response_status

__all__ = ["Close", "FrameWatch"]


class Close(NamedTuple):
    """A close frame seen on the wire: who sent it, its code (``None``: none or malformed), its reason."""

    ours: bool
    code: int | None
    reason: str


def _peer_close(payload: bytes) -> Close:
    if not payload:
        return Close(False, 1005, "")  # a close frame without a code: RFC 6455's 1005
    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError:
        return Close(False, None, "")
    return Close(False, code if code is not None and peer_close_code_valid(code) else None, reason)


class FrameWatch(trio.abc.Stream):
    """The stream trio-websocket is given; see the module docstring."""

    def __init__(self, stream: trio.abc.Stream, *, max_fragments: int) -> None:
        self._stream = stream
        self._max_fragments = max_fragments
        self.on_end: Callable[[], None] = lambda: None
        self.status: int | None = None  # of the HTTP answer, once its head is in
        self.failure = ""  # what ended the stream, if it ended
        self.lost = False  # EOF, reset, closed, or an answer that was not a 101
        self.first_close: Close | None = None  # the first close frame either way
        self.peer_close: Close | None = None
        self.our_close: Close | None = None
        self._head: bytearray | None = bytearray()  # the answer's head, until complete
        self._cut = False  # a 1009 replaced the rest of the stream
        self._header = bytearray()  # of the frame being read
        self._skip = 0  # payload bytes left in the frame being read
        self._close_payload: bytearray | None = None  # of the close frame being read
        self._fragments = 0  # frames of the fragmented message in progress
        self._send_lock = trio.StrictFIFOLock()

    @property
    def ended(self) -> bool:
        return self.lost or self.first_close is not None

    def handshake_error(self) -> ConnectError:
        """Why the attempt ended before the 101."""
        if self.status is not None and self.status != 101:
            return handshake_refused(self.status)
        return ConnectError(f"handshake failed: {self.failure or 'the server closed the connection'}")

    # -- trio.abc.Stream -------------------------------------------------------------------------

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._cut:  # trio-websocket has its close frame: drop the rest until the peer hangs up
            while await self._receive(max_bytes):
                pass
            return b""
        if self._head is not None:
            return await self._receive_head(max_bytes)
        data = await self._receive(max_bytes)
        if data:
            cut = self._scan(data)
            if cut is not None:
                return self._cut_at(data, cut)
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._head is None and self.our_close is None and len(data) >= 2 and data[0] & 0x0F == 0x8:
            self._our_close(bytes(data))
        async with self._send_lock:
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._lose(described(exc.__cause__ or exc))
                raise

    async def send_close(self, code: int, reason: str = "") -> None:
        """Write a close frame of our own (masked, as a client's), unless one was sent.

        For the endings trio-websocket leaves without one: it fails a connection (1002, 1007)
        without telling the peer, and answers no close frame its wsproto rejects (1014).
        """
        if self.our_close is not None or self.lost:
            return
        payload = struct.pack("!H", code) + reason.encode()[:100].decode(errors="ignore").encode()
        key = os.urandom(4)
        masked = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
        await self.send_all(bytes([0x88, 0x80 | len(payload)]) + key + masked)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        self._lose("closed")
        await self._stream.aclose()

    # -- reading ---------------------------------------------------------------------------------

    async def _receive(self, max_bytes: int | None) -> bytes | bytearray:
        try:
            data = await self._stream.receive_some(max_bytes)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._lose(described(exc.__cause__ or exc))
            raise
        if not data:
            self._lose("the server closed the connection")
        return data

    async def _receive_head(self, max_bytes: int | None) -> bytes | bytearray:
        """Bytes up to and past the end of the answer's head, passed on only if it is a 101."""
        head = self._head
        assert head is not None
        while True:
            data = await self._receive(max_bytes)
            if not data:
                return data
            head += data
            try:
                status = response_status(head)
            except ConnectError as exc:
                self._lose(str(exc).removeprefix("handshake failed: "))
                return b""
            if status is None:
                continue
            self.status = status
            if status != 101:
                self._lose(f"HTTP {status}")
                return b""
            self._head = None
            rest = head.find(b"\r\n\r\n") + 4
            cut = self._scan(bytes(head[rest:]))
            if cut is not None:
                return self._cut_at(bytes(head), rest + cut)
            return head

    def _scan(self, data: bytes | bytearray) -> int | None:
        """Follow the frames in ``data``; the offset of a frame over the fragment limit, if one starts there."""
        i, end = 0, len(data)
        header = self._header
        while i < end:
            if self._skip:
                take = min(self._skip, end - i)
                if self._close_payload is not None:
                    self._close_payload += data[i:i + take]
                self._skip -= take
                i += take
                if not self._skip and self._close_payload is not None:
                    self._peer_closed()
                continue
            if not header and self._over_limit(data[i]):
                return i
            need = self._header_size()
            take = min(need - len(header), end - i)
            header += data[i:i + take]
            i += take
            if len(header) == 2:
                need = self._header_size()
            if len(header) == need:
                self._frame_header(header, need)
        return None

    def _over_limit(self, first: int) -> bool:
        opcode, fin = first & 0x0F, first & 0x80
        if opcode == 0x0:
            self._fragments += 1
            if self._fragments > self._max_fragments:
                return True
            if fin:
                self._fragments = 0
        elif opcode in (0x1, 0x2):
            self._fragments = 0 if fin else 1
        return False

    def _header_size(self) -> int:
        header = self._header
        if len(header) < 2:
            return 2
        size = header[1] & 0x7F
        return 2 + (2 if size == 126 else 8 if size == 127 else 0) + (4 if header[1] & 0x80 else 0)

    def _frame_header(self, header: bytearray, size: int) -> None:
        length = header[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", header[2:4])[0]
        elif length == 127:
            length = struct.unpack("!Q", header[2:10])[0]
        is_close = header[0] & 0x0F == 0x8 and self.peer_close is None
        header.clear()
        self._skip = length
        self._close_payload = bytearray() if is_close and length <= 125 else None
        if is_close and length > 125:
            self._close_seen(Close(False, None, ""))
        elif self._close_payload is not None and not length:
            self._peer_closed()

    def _peer_closed(self) -> None:
        payload = bytes(self._close_payload or b"")
        self._close_payload = None
        self._close_seen(_peer_close(payload))

    def _cut_at(self, data: bytes | bytearray, offset: int) -> bytes:
        reason = f"message in more than {self._max_fragments} fragments".encode()
        self._cut = True
        self._close_seen(Close(True, 1009, reason.decode()))
        return bytes(data[:offset]) + bytes([0x88, 2 + len(reason)]) + struct.pack("!H", 1009) + reason

    # -- ends ------------------------------------------------------------------------------------

    def _our_close(self, frame: bytes) -> None:
        size = frame[1] & 0x7F
        if frame[1] & 0x80 and size <= 125 and len(frame) >= 6 + size:
            key, payload = frame[2:6], frame[6:6 + size]
            plain = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            code = struct.unpack("!H", plain[:2])[0] if len(plain) >= 2 else 1005
            self._close_seen(Close(True, code, plain[2:].decode(errors="replace")))
        else:
            self._close_seen(Close(True, None, ""))

    def _close_seen(self, close: Close) -> None:
        if close.ours:
            self.our_close = self.our_close or close
        else:
            self.peer_close = self.peer_close or close
        self.first_close = self.first_close or close
        self.on_end()

    def _lose(self, why: str) -> None:
        if not self.lost:
            self.lost = True
            self.failure = self.failure or why
        self.on_end()
