"""One accepted WebSocket connection: its subscription, bounded send queue, sender and idle timer."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import trio

from .._core.enums import Format
from ._faults import Gate, GateStream, MessageLimiter
from ._requests import TypeRequest
from ._websocket import ConnectionClosed, ServerWebSocket, ws_frame, ws_payloads

if TYPE_CHECKING:
    from ._server import FakeUpbit

__all__ = ["Connection", "OutQueue", "ws_frame"]  # ws_frame: also where benchmarks/scaling.py takes it

# Realtime key → variants: (depth, level) for orderbook, (30, 0) otherwise.
Variant = tuple[int, Decimal]
_PLAIN: Variant = (30, Decimal(0))

#: At most this many queued *_LIST frames (and bytes) are joined into one.
LIST_EVENTS = 64
LIST_BYTES = 64 * 1024


class OutQueue:
    """A bounded FIFO of outgoing frames; data frames beyond ``capacity`` are dropped and counted."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: deque[tuple[bytes | str, float, bool]] = deque()  # bounded: data frames capped; forced ones answer limited requests
        self.dropped = 0
        self._lot = trio.lowlevel.ParkingLot()

    def put(self, frame: bytes | str, *, data: bool = True, force: bool = False) -> bool:
        if not force and len(self.items) >= self.capacity:
            self.dropped += 1
            return False
        self.items.append((frame, trio.current_time(), data))
        if self._lot:
            self._lot.unpark_all()
        return True

    async def wait(self) -> None:
        while not self.items:
            await self._lot.park()


class Connection:
    """Server-side state of one client connection (see ``FakeUpbit.connections``)."""

    def __init__(self, server: FakeUpbit, conn_id: int, endpoint: str, path: str, remote: str,
                 ws: ServerWebSocket, stream: GateStream, gate: Gate,
                 auth_error: str | None, origin: bool = False) -> None:
        self.server = server
        self.id = conn_id
        self.endpoint = endpoint
        self.path = path
        self.remote = remote
        self.ws = ws
        self.stream = stream
        self.gate = gate
        self.auth_error = auth_error
        self.opened_at = trio.current_time()
        self.last_activity = self.opened_at
        self.format = Format.DEFAULT
        self.types: tuple[TypeRequest, ...] = ()
        self.realtime: dict[tuple[str, str], tuple[Variant, ...]] = {}
        self.my_order: frozenset[str] | None = None  # None: not subscribed; empty: every market
        self.my_asset = False
        self.queue = OutQueue(server.send_queue_size)
        self.origin = origin  # the handshake carried an Origin header (1 request per 10 s if origin_rule)
        self.limiter = MessageLimiter(server.requests_per_second, server.requests_per_minute,
                                      origin=origin and server.origin_rule, teapot_after=server.teapot_after,
                                      teapot_seconds=server.teapot_seconds)
        self.sent = 0
        self.requests = 0
        self.closed_by: str | None = None
        self.close_after_send: tuple[int, str] | None = None  # set: close with (code, reason) once the queue is sent
        self.cancel_scope = trio.CancelScope()
        self._blast_chunks: Sequence[tuple[bytes, int]] = ()
        self._blast_wakeup = trio.Event()

    def __repr__(self) -> str:
        return f"<Connection #{self.id} {self.endpoint} {self.format} {len(self.realtime)} streams>"

    @property
    def dropped(self) -> int:
        """Data frames not sent because this connection's queue was full (a slow client)."""
        return self.queue.dropped

    @property
    def deflate(self) -> str | None:
        """The permessage-deflate parameters agreed (the ``Sec-WebSocket-Extensions`` answer); None: uncompressed."""
        return self.ws.extensions

    @property
    def stalled(self) -> bool:
        return self.gate.stalled

    def touch(self) -> None:
        self.last_activity = trio.current_time()

    def subscribe(self, types: tuple[TypeRequest, ...]) -> None:
        """Replace the whole live subscription with the realtime parts of ``types``."""
        realtime: dict[tuple[str, str], list[Variant]] = {}
        my_order: set[str] | None = None
        my_asset = False
        for t in types:
            if not t.realtime:
                continue
            if t.type == "myAsset":
                my_asset = True
            elif t.type == "myOrder":
                my_order = (my_order or set()) | set(t.codes)
            else:
                for code, depth in zip(t.codes, t.depths):
                    variants = realtime.setdefault((t.type, code), [])
                    variant = (depth, t.level) if t.type == "orderbook" else _PLAIN
                    if variant not in variants:
                        variants.append(variant)
        self.types = types
        self.realtime = {k: tuple(v) for k, v in realtime.items()}
        self.my_order = None if my_order is None else frozenset(my_order)
        self.my_asset = my_asset
        self.set_blast(self.server._blast_chunks_for(self))

    def refuse_and_close(self, frame: bytes, code: int, reason: str) -> None:
        """Send ``frame`` (an error), then close the connection with ``code``; later requests are ignored."""
        self.queue.put(frame, data=False, force=True)
        self.close_after_send = (code, reason)

    def set_blast(self, chunks: Sequence[tuple[bytes, int]]) -> None:
        self._blast_chunks = chunks
        self._blast_wakeup.set()

    # -- tasks ----------------------------------------------------------------------------------

    async def receive_loop(self) -> None:
        while True:
            try:
                message = await self.ws.get_message()
            except ConnectionClosed:
                return
            self.server._on_message(self, message)

    async def send_loop(self) -> None:
        """Send queued frames in order; in blast mode, between them, pre-framed chunks of the ring."""
        items = self.queue.items
        try:
            while True:
                while items:
                    frame, queued_at, data = items.popleft()
                    delay = self.server.delay_seconds
                    if data and delay:
                        await trio.sleep_until(queued_at + delay)
                    elif data and self.format.listed and items:
                        frame = self._joined(frame, items)
                    await self.ws.send_message(frame)
                    self.sent += 1
                if self.close_after_send is not None:
                    await self._close_after_refusal(*self.close_after_send)
                    return
                chunks = self._blast_chunks
                if not chunks:
                    self._blast_wakeup = trio.Event()
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._wake_on_queue, nursery.cancel_scope)
                        nursery.start_soon(self._wake_on_blast, nursery.cancel_scope)
                    continue
                if self.server.blast_rate:
                    await self._paced_blast(chunks)
                    continue
                for chunk, count in chunks:
                    if items or chunks is not self._blast_chunks:
                        break
                    await self._send_chunk(chunk)
                    self.sent += count
                    self.server.blast_frames_sent += count
        except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
            return

    def _joined(self, first: bytes | str, items: deque[tuple[bytes | str, float, bool]]) -> bytes | str:
        """``first`` and the *_LIST data frames queued behind it as one list frame, as Upbit sends when
        several events are ready (at most ``LIST_EVENTS`` frames and ``LIST_BYTES`` bytes)."""
        if not isinstance(first, bytes) or not first.startswith(b"["):
            return first
        parts, size = [first], len(first)
        while items and len(parts) < LIST_EVENTS:
            frame, _, data = items[0]
            if not data or not isinstance(frame, bytes) or not frame.startswith(b"[") or size + len(frame) > LIST_BYTES:
                break
            items.popleft()
            parts.append(frame)
            size += len(frame)
        if len(parts) == 1:
            return first
        self.sent += len(parts) - 1  # ``sent`` counts queued frames, however they were joined
        return b"[" + b",".join(part[1:-1] for part in parts) + b"]"

    async def _close_after_refusal(self, code: int, reason: str) -> None:
        """Close as ``/info`` does after refusing a request; the receive loop ends with the close."""
        self.closed_by = "refusal"
        with trio.move_on_after(self.server.close_timeout) as scope:
            await self.ws.aclose(code, reason)
        if scope.cancelled_caught:
            self.cancel_scope.cancel()

    async def _paced_blast(self, chunks: Sequence[tuple[bytes, int]]) -> None:
        """Send ring frames at ``blast_rate`` per second, stamped with the send time, every 1 ms."""
        frames = self.server._ring.stamped(self.format, self.realtime)  # type: ignore[union-attr]
        if not frames:
            return
        rate = self.server.blast_rate
        assert rate is not None  # only called when blast_rate is set
        start = trio.current_time()
        sent, index, deadline = 0, 0, start
        while not self.queue.items and chunks is self._blast_chunks:
            deadline += 0.001
            await trio.sleep_until(deadline)
            count = int((trio.current_time() - start) * rate) - sent  # catch up after a late wake-up
            if count <= 0:
                continue
            sent += count
            stamp = str(int(time.time() * 1000)).encode()
            parts = []
            for _ in range(count):
                frame, pos = frames[index % len(frames)]
                index += 1
                parts.append(frame if pos < 0 else frame[:pos] + stamp + frame[pos + 13:])
            await self._send_chunk(b"".join(parts))
            self.sent += count
            self.server.blast_frames_sent += count

    async def _send_chunk(self, chunk: bytes) -> None:
        """Blast frames as pre-framed; to a client that agreed permessage-deflate, each one through the
        compressor, so that client inflates every frame as it would on Upbit."""
        if self.ws.deflater is not None:
            await self.ws.send_messages(ws_payloads(chunk))
        else:
            await self.stream.send_all(chunk)

    async def _wake_on_queue(self, scope: trio.CancelScope) -> None:
        await self.queue.wait()
        scope.cancel()

    async def _wake_on_blast(self, scope: trio.CancelScope) -> None:
        await self._blast_wakeup.wait()
        scope.cancel()

    async def idle_watch(self, timeout: float | None) -> None:
        """Close the connection after ``timeout`` seconds without traffic in either direction."""
        if timeout is None:
            return
        while True:
            await self.gate.wait()
            deadline = self.last_activity + timeout
            if trio.current_time() >= deadline:
                break
            await trio.sleep_until(deadline)
            if self.gate.stalled:
                continue
        self.closed_by = "idle"
        self.server.counters.idle_closes += 1
        if self.server.idle_close == "abrupt":  # the TCP connection goes, no close frame (as drop_all)
            sock = getattr(self.stream.inner, "socket", None)
            if sock is not None:
                sock.close()
        else:
            with trio.move_on_after(self.server.close_timeout):
                await self.ws.aclose(1000, "Idle Timeout")
        self.cancel_scope.cancel()
