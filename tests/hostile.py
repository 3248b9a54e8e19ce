"""A scriptable hostile WebSocket server on 127.0.0.1, on raw trio sockets (HTTP upgrade and frames by hand).

No WebSocket library is involved (frames come from ``hostile_wire``), so the server can do what a
library would refuse to: answer any HTTP status, drop or reset the handshake, send a close frame
and keep the TCP connection open, stall (stop reading and writing), send thousands of fragments,
oversize messages, any close code, garbage. It records what the client sent.

API::

    async with open_hostile_server(script, ssl_context=None) as server:
        server.url            # "ws://127.0.0.1:<port>/websocket/v1" ("wss://" with ssl_context)
        server.port
        server.script = fn    # the script hook: ``async def fn(peer: Peer) -> None``, run once per
                              # accepted connection (default ``echo``); may be changed at any time
        peer = await server.next_peer()   # the next connection, in accept order (its script is running)
        server.peers          # every Peer so far

    Peer (one TCP connection; ``peer.index`` counts from 0). Handshake:
        await peer.read_request() -> Request     # the client's request head (also ``peer.request``)
        await peer.accept()                      # reads the request if needed, answers 101
        await peer.respond(status, headers, body, content_length=True)   # any HTTP answer
        await peer.redirect(status, location)
    Sending (no checks: any opcode, code or length):
        await peer.send_raw(data) / send_frame(opcode, payload, fin=, rsv=) / send_text(s) / send_binary(b)
        await peer.send_fragments(count, piece=b"x", opcode=OP_BINARY)   # one message in ``count`` frames
        await peer.send_close(code, reason)      # a close frame only: TCP stays open
        await peer.send_ping(payload)
    Reading and recording (every frame read lands in ``peer.received``):
        await peer.receive_frame() -> Frame | None   # None at EOF or reset (``peer.ended`` says which)
        await peer.drain(timeout)                # read and record until EOF, reset or timeout
        await peer.until_close()                 # read until the client's close frame, then hang up
        await peer.echo()                        # echo messages, answer pings and a close, then hang up
        peer.close_frame / peer.close_code       # the client's first close frame, if any
    Ending:
        await peer.stall()                       # stop reading and writing until ``peer.resume()``
        await peer.hang_up()                     # TCP close (FIN);  await peer.reset()  # RST
        peer.events                              # (trio time, what) for "eof", "reset", "close frame", ...

Any request path is served (``server.url + "/private"`` for a private endpoint); header names in
``peer.request.headers`` are lower-case. ``send_close(None)`` sends a close frame without a code.
When a script returns, the server closes the connection (FIN) unless the script already did;
``BrokenResourceError`` / ``ClosedResourceError`` in a script (the client went away) only end it.
``unused_port()`` gives a port nobody listens on (connection refused).
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio
from hostile_wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Frame,
    FrameReader,
    Request,
    close_payload,
    encode_frame,
    parse_request,
    response,
    switching_protocols,
)

__all__ = ["HostileServer", "Peer", "echo", "open_hostile_server", "unused_port"]

Script = Callable[["Peer"], Awaitable[None]]
_MAX_HEAD = 64 * 1024
_GONE = (trio.BrokenResourceError, trio.ClosedResourceError)


def unused_port() -> int:
    """A 127.0.0.1 port with no listener: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Peer:
    """One accepted connection, driven by a script; see the module docstring."""

    def __init__(self, stream: trio.abc.Stream, index: int) -> None:
        self.stream = stream
        self.index = index
        self.request: Request | None = None
        self.received: list[Frame] = []
        self.events: list[tuple[float, str]] = []
        self.ended: str | None = None  # "eof" or "reset" once the client's side is gone
        self._reader = FrameReader()
        self._head = bytearray()
        self._resume = trio.Event()
        self._closed = False

    # -- handshake -------------------------------------------------------------------------------

    async def read_request(self) -> Request:
        while b"\r\n\r\n" not in self._head:
            if len(self._head) > _MAX_HEAD:
                raise ValueError("request head too long")
            data = await self._receive()
            if not data:
                raise trio.BrokenResourceError("client left before the request ended")
            self._head += data
        head, _, rest = bytes(self._head).partition(b"\r\n\r\n")
        self._reader.feed(rest)
        self.request = parse_request(head + b"\r\n\r\n")
        self._note("request")
        return self.request

    async def accept(self, extra: tuple[tuple[str, str], ...] = ()) -> None:
        request = self.request or await self.read_request()
        await self.send_raw(switching_protocols(request.headers.get("sec-websocket-key", ""), extra))

    async def respond(self, status: int, headers: tuple[tuple[str, str], ...] = (), body: bytes = b"",
                      *, content_length: bool = True) -> None:
        if self.request is None:
            await self.read_request()
        await self.send_raw(response(status, headers, body, content_length=content_length))

    async def redirect(self, status: int, location: str) -> None:
        await self.respond(status, (("Location", location), ("Connection", "close")))

    # -- sending ---------------------------------------------------------------------------------

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def send_frame(self, opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0) -> None:
        await self.send_raw(encode_frame(opcode, payload, fin=fin, rsv=rsv))

    async def send_text(self, text: str) -> None:
        await self.send_frame(OP_TEXT, text.encode())

    async def send_binary(self, data: bytes) -> None:
        await self.send_frame(OP_BINARY, data)

    async def send_fragments(self, count: int, piece: bytes = b"x", opcode: int = OP_BINARY) -> None:
        """One message in ``count`` frames of ``piece`` each, written in batches of 1024 frames."""
        frames = [encode_frame(opcode if i == 0 else OP_CONT, piece, fin=i == count - 1) for i in range(count)]
        for start in range(0, count, 1024):
            await self.send_raw(b"".join(frames[start:start + 1024]))

    async def send_close(self, code: int | None = 1000, reason: str | bytes = b"") -> None:
        await self.send_frame(OP_CLOSE, close_payload(code, reason))
        self._note(f"sent close {code}")

    async def send_ping(self, payload: bytes = b"") -> None:
        await self.send_frame(OP_PING, payload)

    # -- reading ---------------------------------------------------------------------------------

    async def _receive(self) -> bytes:
        try:
            data = await self.stream.receive_some(65536)
        except trio.BrokenResourceError:
            self._end("reset")
            return b""
        if not data:
            self._end("eof")
        return bytes(data)

    async def receive_frame(self) -> Frame | None:
        if self.request is None:
            await self.read_request()
        while (frame := self._reader.next_frame()) is None:
            if self.ended is not None or self._closed:
                return None
            data = await self._receive()
            if not data:
                return None
            self._reader.feed(data)
        self.received.append(frame)
        if frame.opcode == OP_CLOSE and self.close_frame is frame:
            self._note(f"close frame {frame.close_code}")
        return frame

    async def drain(self, timeout: float = 5.0) -> None:
        with trio.move_on_after(timeout):
            while await self.receive_frame() is not None:
                pass

    async def until_close(self) -> None:
        """Read (and record) until the client's close frame or EOF, then hang up without answering."""
        while (frame := await self.receive_frame()) is not None and frame.opcode != OP_CLOSE:
            pass
        await self.hang_up()

    async def echo(self) -> None:
        """Echo whole messages, answer pings; on the client's close frame, answer it and hang up."""
        parts: list[bytes] = []
        kind = OP_BINARY
        while (frame := await self.receive_frame()) is not None:
            if frame.opcode == OP_PING:
                await self.send_frame(OP_PONG, frame.payload)
            elif frame.opcode == OP_CLOSE:
                await self.send_frame(OP_CLOSE, frame.payload[:2])
                break
            elif frame.opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                kind = frame.opcode if frame.opcode != OP_CONT else kind
                parts.append(frame.payload)
                if frame.fin:
                    await self.send_frame(kind, b"".join(parts))
                    parts = []
        await self.hang_up()

    @property
    def close_frame(self) -> Frame | None:
        return next((f for f in self.received if f.opcode == OP_CLOSE), None)

    @property
    def close_code(self) -> int | None:
        frame = self.close_frame
        return None if frame is None else frame.close_code

    # -- ending ----------------------------------------------------------------------------------

    async def stall(self) -> None:
        """Neither read nor write until ``resume()`` (or the server closes)."""
        self._note("stall")
        await self._resume.wait()

    def resume(self) -> None:
        self._resume.set()

    async def hang_up(self) -> None:
        if not self._closed:
            self._closed = True
            self._note("hang up")
            await self.stream.aclose()

    async def reset(self) -> None:
        """Close with a TCP RST (``SO_LINGER`` 0), unread data or not."""
        if not self._closed:
            self._closed = True
            sock = getattr(self.stream, "transport_stream", self.stream).socket  # type: ignore[union-attr]
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._note("reset sent")
            await trio.aclose_forcefully(self.stream)

    def _note(self, what: str) -> None:
        self.events.append((trio.current_time(), what))

    def _end(self, how: str) -> None:
        if self.ended is None:
            self.ended = how
            self._note(how)


async def echo(peer: Peer) -> None:
    """The default script: accept, then ``peer.echo()``."""
    await peer.accept()
    await peer.echo()


class HostileServer:
    """The server's handle: ``url``, ``port``, the ``script`` hook and the ``peers`` it accepted."""

    def __init__(self, port: int, secure: bool, script: Script) -> None:
        self.port = port
        self.url = f"{'wss' if secure else 'ws'}://127.0.0.1:{port}/websocket/v1"
        self.script = script
        self.peers: list[Peer] = []
        self._arrived = trio.Condition()
        self._taken = 0

    async def next_peer(self, index: int | None = None) -> Peer:
        """Peer number ``index`` (default: the one after those already taken by earlier calls)."""
        wanted = self._taken if index is None else index
        async with self._arrived:
            while len(self.peers) <= wanted:
                await self._arrived.wait()
        if index is None:
            self._taken += 1
        return self.peers[wanted]

    async def _handle(self, stream: trio.abc.Stream) -> None:
        peer = Peer(stream, len(self.peers))
        self.peers.append(peer)
        async with self._arrived:
            self._arrived.notify_all()
        try:
            await self.script(peer)
        except _GONE:
            peer._end("reset")
        finally:
            if not peer._closed:
                peer._closed = True
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(stream)  # cancelled at once: never blocks


@asynccontextmanager
async def open_hostile_server(script: Script = echo, *, ssl_context: ssl.SSLContext | None = None
                              ) -> AsyncIterator[HostileServer]:
    """Listen on 127.0.0.1 (a free port) until the block ends; every connection runs ``server.script``."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    server = HostileServer(port, ssl_context is not None, script)
    served: list[trio.abc.Listener[trio.abc.Stream]] = list(listeners)
    if ssl_context is not None:
        served = [trio.SSLListener(listener, ssl_context, https_compatible=True) for listener in listeners]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, server._handle, served)
        try:
            yield server
        finally:
            for peer in server.peers:
                peer.resume()
            nursery.cancel_scope.cancel()
