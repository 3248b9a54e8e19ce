"""The fake's server end of RFC 6455 on wsproto's public sans-I/O API, with permessage-deflate (RFC 7692) on request."""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import attrs
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
)
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

__all__ = ["CloseReason", "ConnectionClosed", "Deflater", "Handshake", "ServerWebSocket", "remote_address", "ws_frame",
           "ws_payloads"]

_BROKEN = (trio.BrokenResourceError, trio.ClosedResourceError)


def ws_frame(payload: bytes | str) -> bytes:
    """A complete unmasked server frame (binary for bytes, text for str), as wsproto would write it."""
    if isinstance(payload, str):
        return _frame(0x81, payload.encode())
    return _frame(0x82, payload)


def ws_payloads(frames: bytes) -> list[bytes]:
    """The payloads of complete unmasked frames joined one after another (as ``ws_frame`` makes them)."""
    payloads, at, end = [], 0, len(frames)
    while at < end:
        size = frames[at + 1] & 0x7F
        if size == 126:
            size, at = int.from_bytes(frames[at + 2:at + 4], "big"), at + 4
        elif size == 127:
            size, at = int.from_bytes(frames[at + 2:at + 10], "big"), at + 10
        else:
            at += 2
        payloads.append(frames[at:at + size])
        at += size
    return payloads


def _frame(first: int, data: bytes) -> bytes:
    n = len(data)
    if n < 126:
        header = bytes((first, n))
    elif n < 65536:
        header = bytes((first, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((first, 127)) + n.to_bytes(8, "big")
    return header + data


class Deflater:
    """The server's side of an agreed permessage-deflate: one compressor (zlib's default level) whose
    context carries over from message to message unless ``no_context_takeover`` (RFC 7692 §7.2.1)."""

    def __init__(self, window_bits: int, no_context_takeover: bool) -> None:
        self.window_bits, self.no_context_takeover = window_bits, no_context_takeover
        self._settings = (zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -window_bits)  # raw deflate
        self._zlib = zlib.compressobj(*self._settings)

    def frame(self, payload: bytes | str) -> bytes:
        """``payload`` compressed into one complete frame (RSV1 set; text for str, binary for bytes)."""
        data = self._zlib.compress(payload.encode() if isinstance(payload, str) else payload)
        data += self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self.no_context_takeover:
            self._zlib = zlib.compressobj(*self._settings)
        return _frame(0xC1 if isinstance(payload, str) else 0xC2, data[:-4])  # RFC 7692: less the 00 00 ff ff


@attrs.frozen
class CloseReason:
    """Why a connection ended: the close code (1006: no close frame) and the reason text."""

    code: int
    reason: str | None = None


class ConnectionClosed(Exception):
    """Raised by I/O on a connection that has ended (``reason``: how, if known)."""

    def __init__(self, reason: CloseReason | None) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen
class Handshake:
    """A client's upgrade request: ``path`` (with any query), its HTTP headers (names lower-case, as wsproto
    gives them: without ``Host``, ``Sec-WebSocket-Extensions`` and ``Sec-WebSocket-Protocol``) and the
    extension offers of ``Sec-WebSocket-Extensions`` (``"permessage-deflate; client_max_window_bits"``)."""

    path: str
    headers: list[tuple[bytes, bytes]]
    extensions: tuple[str, ...]


class ServerWebSocket:
    """One server connection over ``stream``: ``read_request``, then ``reject`` or ``accept``; after ``accept``
    run ``reader`` as a task (it answers pings and the client's close, and queues messages for ``get_message``).

    wsproto reads what arrives (inflating compressed messages) and writes the handshake, pings, pongs and
    closes; data frames are written here, through ``deflater`` once permessage-deflate is agreed. Every
    write goes out under one lock, so frames reach the wire in the order the compressor made them (its
    context carries over from message to message unless the client asked otherwise).
    """

    def __init__(self, stream: trio.abc.Stream, *, max_message_size: int = 1 << 20, queue_size: int = 8,
                 receive_size: int = 64 * 1024) -> None:
        self.stream = stream
        self.max_message_size = max_message_size
        self.closed: CloseReason | None = None
        #: The ``Sec-WebSocket-Extensions`` value answered (``"permessage-deflate; …"``), None if none was agreed.
        self.extensions: str | None = None
        self.deflater: Deflater | None = None
        self._ws = WSConnection(ConnectionType.SERVER)
        self._receive_size = receive_size
        self._lock = trio.StrictFIFOLock()
        self._messages_in, self._messages = trio.open_memory_channel[bytes | str](queue_size)
        self._parts: list[bytes | str] = []
        self._size = 0
        self._pings: OrderedDict[bytes, trio.Event] = OrderedDict()
        self._unanswered: set[bytes] = set()  # bounded: pings in flight when the connection ended
        self._closed_both_ways = trio.Event()
        self._reading = True

    # -- the opening handshake ------------------------------------------------------------------------

    async def read_request(self) -> Handshake | None:
        """Read up to the client's upgrade request; None when the stream ends first or the request is not a
        WebSocket upgrade (then answered as wsproto suggests, a 400 or 426)."""
        while True:
            for event in self._ws.events():
                if isinstance(event, Request):
                    offers = tuple(str(offer) for offer in event.extensions)
                    return Handshake(event.target, list(event.extra_headers), offers)
            data = await self._receive()
            if not data:
                return None
            try:
                self._ws.receive_data(data)
            except RemoteProtocolError as exc:
                if exc.event_hint is not None:
                    try:
                        await self._write(self._ws.send(exc.event_hint))
                    except _BROKEN:
                        pass
                return None

    async def reject(self, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> None:
        """Refuse the upgrade with HTTP ``status``, ``headers`` and ``body``."""
        headers = [*headers, (b"Content-Length", str(len(body)).encode())]
        data = self._ws.send(RejectConnection(status_code=status, headers=headers, has_body=True))
        data += self._ws.send(RejectData(data=body))
        self.closed = CloseReason(1006, "Rejected WebSocket handshake")
        self._closed_both_ways.set()
        await self._write(data)

    async def accept(self, *, compression: bool) -> bool:
        """Switch protocols; with ``compression``, agree to permessage-deflate if the client offered it,
        on the parameters it asked for (wsproto answers each one RFC 7692 lets the client ask for).
        False if the stream broke meanwhile (the connection is then closed, 1006)."""
        deflate = PerMessageDeflate()
        extensions: list[Extension] = [deflate] if compression else []
        response = self._ws.send(AcceptConnection(extensions=extensions))
        head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions":
                self.extensions = value.strip()
        if deflate.enabled():
            self.deflater = Deflater(deflate.server_max_window_bits, deflate.server_no_context_takeover)
        try:
            await self._write(response)
        except _BROKEN:
            await self._abort()
            return False
        return True

    # -- messages ---------------------------------------------------------------------------------------

    async def get_message(self) -> bytes | str:
        """The next message (bytes from a binary frame, str from a text one); ConnectionClosed once the
        connection ended and every message that came before was taken, or at once after ``aclose``."""
        try:
            return await self._messages.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise ConnectionClosed(self.closed) from None

    async def send_message(self, message: bytes | str) -> None:
        """Send one message: a binary frame for bytes, a text frame for str (compressed if agreed)."""
        await self.send_messages((message,))

    async def send_messages(self, messages: Iterable[bytes | str]) -> None:
        """Send messages in one write, each in one frame (compressed if agreed)."""
        async with self._lock:  # compressed and written in one go: the client inflates in this order
            if self.closed is not None:
                raise ConnectionClosed(self.closed)  # closing or closed: no more data
            frame = ws_frame if self.deflater is None else self.deflater.frame
            await self._write_or_abort(b"".join(map(frame, messages)))

    async def ping(self, payload: bytes) -> None:
        """Send a ping and wait for its pong (a pong also answers every earlier ping still waiting)."""
        if payload in self._pings:
            raise ValueError(f"a ping with payload {payload!r} is already waiting")
        answered = self._pings[payload] = trio.Event()
        await self._send_events([Ping(payload=payload)])
        await answered.wait()
        if payload in self._unanswered:
            self._unanswered.discard(payload)
            raise ConnectionClosed(self.closed)

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close with ``code`` and ``reason``: send the close frame, stop handing out messages, wait for the
        client's close frame (the reader must still run) and close the stream; idempotent."""
        if self.closed is not None:
            return
        try:
            if self._ws.state is ConnectionState.OPEN:
                self.closed = CloseReason(code, reason)
                await self._send_events([CloseConnection(code=code, reason=reason)])
            await self._messages.aclose()
            await self._closed_both_ways.wait()
        except ConnectionClosed:
            pass
        finally:
            await self._close_stream()

    # -- the reader task --------------------------------------------------------------------------------

    async def reader(self) -> None:
        """Feed what arrives to wsproto until the connection ends: queue messages, answer pings and the
        client's close frame (then close the stream, as RFC 6455 asks of a server)."""
        async with self._messages_in:
            try:
                while self._reading:
                    for event in self._ws.events():
                        await self._handle(event)
                        if not self._reading:
                            return
                    data = await self._receive()
                    if not data:
                        await self._abort()
                        return
                    if self._ws.state is not ConnectionState.CLOSED:
                        try:
                            self._ws.receive_data(data)
                        except RemoteProtocolError:
                            await self._abort()
                            await self._close_stream()
                            return
            except ConnectionClosed:
                return

    async def _handle(self, event: Event) -> None:
        if isinstance(event, Message):
            await self._on_message(event)
        elif isinstance(event, Ping):
            if self._ws.state is ConnectionState.OPEN:  # a ping after our close frame goes unanswered
                await self._send_events([event.response()])
        elif isinstance(event, Pong):
            self._on_pong(bytes(event.payload))
        elif isinstance(event, CloseConnection):
            await self._on_close(event)

    async def _on_message(self, event: Message[Any]) -> None:
        self._parts.append(bytes(event.data) if isinstance(event.data, bytearray) else event.data)
        self._size += len(event.data)
        if self._size > self.max_message_size:
            text = f"Exceeded maximum message size: {self.max_message_size} bytes"
            self._parts, self._size, self._reading = [], 0, False
            self.closed = CloseReason(1009, text)
            await self._send_events([CloseConnection(code=1009, reason=text)])
            await self._messages.aclose()
            return
        if not event.message_finished:
            return
        parts: list[Any] = self._parts
        message: bytes | str = b"".join(parts) if isinstance(event, BytesMessage) else "".join(parts)
        self._parts, self._size = [], 0
        try:
            await self._messages_in.send(message)
        except _BROKEN:  # get_message's side is closed (aclose): nobody takes messages any more
            pass

    def _on_pong(self, payload: bytes) -> None:
        if payload not in self._pings:
            return
        while self._pings:
            key, answered = self._pings.popitem(last=False)
            answered.set()
            if key == payload:
                return

    async def _on_close(self, event: CloseConnection) -> None:
        """The client's close frame: answer it (unless it answers ours), or a frame wsproto could not parse:
        fail the connection with its code. Either way the stream is closed."""
        state = self._ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            self.closed = CloseReason(event.code, event.reason or None)
            await self._send_events([event.response()])
        elif state is ConnectionState.OPEN:  # not a close frame: what wsproto could not parse
            self.closed = CloseReason(event.code, event.reason or None)
            try:
                await self._send_events([CloseConnection(code=event.code, reason=event.reason)])
            except ConnectionClosed:
                pass
        elif self.closed is None:
            self.closed = CloseReason(event.code, event.reason or None)
        self._reading = False
        self._closed_both_ways.set()
        self._pings_end()
        await self._close_stream()

    # -- plumbing ---------------------------------------------------------------------------------------

    async def _send_events(self, events: list[Event]) -> None:
        """Control frames (and the handshake) as wsproto writes them."""
        async with self._lock:
            if self.closed is not None and isinstance(events[0], Ping):
                raise ConnectionClosed(self.closed)
            try:
                data = b"".join(self._ws.send(event) for event in events)
            except LocalProtocolError:  # the connection is closing: no more frames
                raise ConnectionClosed(self.closed) from None
            await self._write_or_abort(data)

    async def _write_or_abort(self, data: bytes) -> None:
        try:
            await self._write(data)
        except _BROKEN:
            await self._abort()
            raise ConnectionClosed(self.closed) from None

    async def _write(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def _receive(self) -> bytes:
        try:
            return bytes(await self.stream.receive_some(self._receive_size))
        except _BROKEN:
            return b""

    async def _abort(self) -> None:
        """The stream ended without a close handshake (1006)."""
        if self.closed is None:
            self.closed = CloseReason(1006, None)
        self._reading = False
        self._closed_both_ways.set()
        self._pings_end()
        await self._messages_in.aclose()  # get_message hands out what came before, then ConnectionClosed

    def _pings_end(self) -> None:
        while self._pings:  # a ping that will never be answered fails as the connection ends
            payload, answered = self._pings.popitem(last=False)
            self._unanswered.add(payload)
            answered.set()

    async def _close_stream(self) -> None:
        self._reading = False
        try:
            await self.stream.aclose()
        except trio.BrokenResourceError:
            pass


def remote_address(stream: trio.abc.Stream) -> str:
    """``host:port`` of the peer of a TCP (or TLS over TCP) stream, else the stream's repr (in memory)."""
    inner = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
    if isinstance(inner, trio.SocketStream):
        host, port, *_ = inner.socket.getpeername()
        return f"{host}:{port}"
    return repr(stream)
