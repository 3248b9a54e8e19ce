"""Fault plumbing: the gate stream under each connection (stall, traffic clock), limits and counters."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import attrs
import trio

__all__ = ["ConnectLimiter", "FaultCounters", "Gate", "GateStream", "MessageLimiter"]


@attrs.define
class FaultCounters:
    """How many faults the handle injected, and how many limit answers the server gave."""

    drops: int = 0
    dropped_connections: int = 0
    stalls: int = 0
    stalled_connections: int = 0
    raw_frames: int = 0
    injected_frames: int = 0
    refused_handshakes: int = 0
    rate_limited_handshakes: int = 0
    teapot_handshakes: int = 0
    rate_limited_messages: int = 0
    teapot_messages: int = 0
    idle_closes: int = 0


class Gate:
    """Open by default; while closed, the gated stream neither reads nor writes (a half-open peer)."""

    def __init__(self) -> None:
        self._open = trio.Event()
        self._open.set()

    @property
    def stalled(self) -> bool:
        return not self._open.is_set()

    def close(self) -> None:
        if self._open.is_set():
            self._open = trio.Event()

    def open(self) -> None:
        self._open.set()

    async def wait(self) -> None:
        if not self._open.is_set():
            await self._open.wait()


class GateStream(trio.abc.HalfCloseableStream):
    """Wraps the accepted TCP stream: every read and write passes the gate and marks traffic."""

    def __init__(self, inner: trio.abc.Stream, gate: Gate, on_traffic: Callable[[], None]) -> None:
        self.inner = inner
        self.gate = gate
        self._on_traffic = on_traffic
        self._send_lock = trio.Lock()
        self.bytes_sent = 0
        self.bytes_received = 0

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.gate.wait()
        async with self._send_lock:
            await self.gate.wait()
            await self.inner.send_all(data)
        self.bytes_sent += len(data)
        self._on_traffic()

    async def wait_send_all_might_not_block(self) -> None:
        await self.gate.wait()
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await self.gate.wait()
        data = await self.inner.receive_some(max_bytes)
        await self.gate.wait()  # bytes that arrive during a stall are held until resume
        if data:
            self.bytes_received += len(data)
            self._on_traffic()
        return bytes(data)

    async def send_eof(self) -> None:
        if not isinstance(self.inner, trio.abc.HalfCloseableStream):
            raise trio.BrokenResourceError("this stream cannot half-close")
        await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()


class Escalation:
    """Upbit's "I'm a teapot": ``teapot_after`` refusals (429) within 60 s ban for ``teapot_seconds`` (418)."""

    def __init__(self, teapot_after: int | None, teapot_seconds: float) -> None:
        self.teapot_after, self.teapot_seconds = teapot_after, teapot_seconds
        self._refused: deque[float] = deque()  # bounded: pruned to 60 s, cleared at teapot_after
        self.banned_until = float("-inf")

    def banned(self, now: float) -> bool:
        """True while a ban is in force."""
        return now < self.banned_until

    def refuse(self, now: float) -> int:
        """Count a refusal at ``now``: 429, or 418 when it starts a ban."""
        while self._refused and self._refused[0] <= now - 60.0:
            self._refused.popleft()
        self._refused.append(now)
        if self.teapot_after is not None and len(self._refused) >= self.teapot_after:
            self._refused.clear()
            self.banned_until = now + self.teapot_seconds
            return 418
        return 429


class ConnectLimiter(Escalation):
    """Handshakes over ``per_second`` in any 1 s window get 429; ``teapot_after`` 429s in 60 s ban with 418."""

    def __init__(self, per_second: int | None, teapot_after: int | None, teapot_seconds: float) -> None:
        super().__init__(teapot_after, teapot_seconds)
        self.per_second = per_second
        self._granted: deque[float] = deque()  # bounded: pruned to 1 s, at most per_second

    def check(self, now: float) -> int | None:
        """Return None to let the handshake through, else the HTTP status to refuse it with."""
        if self.banned(now):
            return 418
        if self.per_second is None:
            return None
        while self._granted and self._granted[0] <= now - 1.0:
            self._granted.popleft()
        if len(self._granted) >= self.per_second:
            return self.refuse(now)
        self._granted.append(now)
        return None


class MessageLimiter(Escalation):
    """Per connection: a request is over the limit if it would make more than ``per_second`` in any
    1 s window, more than ``per_minute`` in any 60 s window or (``origin``: the handshake carried an
    ``Origin`` header) more than 1 in any 10 s window. Refused requests are not counted.

    ``teapot_after`` refusals within 60 s ban the connection for ``teapot_seconds``: ``check`` then
    answers 418 for every request (Upbit's "I'm a teapot" after repeated 429s, per connection).
    """

    def __init__(self, per_second: int | None, per_minute: int | None, *, origin: bool = False,
                 teapot_after: int | None = None, teapot_seconds: float = 60.0) -> None:
        super().__init__(teapot_after, teapot_seconds)
        self.per_second, self.per_minute, self.origin = per_second, per_minute, origin
        self._times: deque[float] = deque()  # bounded: pruned to 60 s, at most per_minute

    def check(self, now: float) -> int | None:
        """None lets the request through, else 429 (over a limit) or 418 (banned after repeated 429s)."""
        if self.banned(now):
            return 418
        if self.allow(now):
            return None
        return self.refuse(now)

    def allow(self, now: float) -> bool:
        while self._times and self._times[0] <= now - 60.0:
            self._times.popleft()
        if self.per_minute is not None and len(self._times) >= self.per_minute:
            return False
        if self.origin and self._times and self._times[-1] > now - 10.0:
            return False
        if self.per_second is not None:
            recent = sum(1 for t in reversed(self._times) if t > now - 1.0) if self._times else 0
            if recent >= self.per_second:
                return False
        self._times.append(now)
        return True
