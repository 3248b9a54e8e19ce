"""The handle's control surface: fault injection and the simulated account's API."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._core.encode import encode_event
from ._requests import RequestError

if TYPE_CHECKING:
    from ._connection import Connection

__all__ = ["Controls"]


class Controls:
    """Mixed into ``FakeUpbit``: everything a test does *to* the exchange."""

    def _targets(self, endpoint: str | None) -> list[Connection]:
        if endpoint not in (None, "public", "private", "info"):
            raise ValueError("endpoint must be None, 'public', 'private' or 'info'")
        return [c for c in self._conns.values() if endpoint is None or c.endpoint == endpoint]  # type: ignore[attr-defined]

    # -- faults ---------------------------------------------------------------------------------

    def drop_all(self, endpoint: str | None = None) -> int:
        """Close every (matching) connection's TCP socket at once, without a WebSocket close frame."""
        conns = self._targets(endpoint)
        for conn in conns:
            conn.closed_by = "drop"
            conn.cancel_scope.cancel()
            sock = getattr(conn.stream.inner, "socket", None)
            if sock is not None:
                sock.close()  # abrupt: the peer sees EOF/reset, never a close frame
            # an in-memory stream (virtual-time tests) is closed forcefully as its handler ends
        self.counters.drops += 1  # type: ignore[attr-defined]
        self.counters.dropped_connections += len(conns)  # type: ignore[attr-defined]
        return len(conns)

    def stall(self, duration: float | None = None, endpoint: str | None = None) -> int:
        """Stop reading and writing on every (matching) open connection, sockets kept open.

        Pings go unanswered and data stops, like a half-open peer; new connections are not affected.
        Lasts until ``resume()`` or for ``duration`` seconds.
        """
        conns = self._targets(endpoint)
        for conn in conns:
            conn.gate.close()
        self.counters.stalls += 1  # type: ignore[attr-defined]
        self.counters.stalled_connections += len(conns)  # type: ignore[attr-defined]
        if duration is not None:
            self.nursery.start_soon(self._resume_later, duration, conns)  # type: ignore[attr-defined]
        return len(conns)

    async def _resume_later(self, duration: float, conns: list[Connection]) -> None:
        await trio.sleep(duration)
        self._resume(conns)

    def resume(self) -> None:
        """End every stall."""
        self._resume(list(self._conns.values()))  # type: ignore[attr-defined]

    def _resume(self, conns: Iterable[Connection]) -> None:
        for conn in conns:
            if conn.gate.stalled:
                conn.touch()
                conn.gate.open()

    def send_raw(self, data: bytes | str, endpoint: str | None = None) -> int:
        """Send ``data`` as is to every (matching) connection: bytes as a binary frame, str as text."""
        conns = self._targets(endpoint)
        for conn in conns:
            conn.queue.put(data, data=False, force=True)
        self.counters.raw_frames += len(conns)  # type: ignore[attr-defined]
        return len(conns)

    def send_frame(self, obj: Any, endpoint: str | None = None) -> int:
        """Send an event (encoded in each connection's format) or a JSON value to every connection."""
        conns = self._targets(endpoint)
        for conn in conns:
            if attrs.has(type(obj)):
                frame = encode_event(obj, conn.format)
            else:
                frame = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str).encode()
            conn.queue.put(frame, data=False, force=True)
        self.counters.injected_frames += len(conns)  # type: ignore[attr-defined]
        return len(conns)

    def refuse_handshakes(self, n: int = 1, status: int = 429) -> None:
        """Refuse the next ``n`` handshakes with HTTP ``status`` (429, 418, 503, …)."""
        self._refusals.extend([status] * n)  # type: ignore[attr-defined]

    def delist(self, code: str) -> None:
        """Stop listing ``code``: from now on every request naming it is refused (INVALID_PARAM),
        as Upbit refuses a delisted market; streams already running are left alone."""
        if code not in self.market.codes:  # type: ignore[attr-defined]
            raise ValueError(f"{code!r} is not a market of this fake exchange")
        self._delisted.add(code)  # type: ignore[attr-defined]

    def refuse_stream(self, type_: str, code: str, name: str = "INVALID_PARAM", message: str = "") -> None:
        """Answer every request asking for ``type_`` of ``code`` with the error ``name``, applying nothing."""
        self._refused_streams[(type_, code)] = RequestError(name, message)  # type: ignore[attr-defined]

    def delay(self, seconds: float) -> None:
        """Hold every data frame ``seconds`` after it is produced before sending it (0 ends the delay)."""
        self.delay_seconds = max(0.0, float(seconds))

    # -- the simulated account --------------------------------------------------------------------

    def place_order(self, code: str, side: str, ord_type: str = "limit", price: Any = None, volume: Any = None,
                    identifier: str | None = None) -> str:
        """Place an order (side "bid"/"ask"; ord_type "limit", "price" or "market"); return its uuid.

        Emits myOrder ``wait`` and myAsset (locked funds); market orders also fill at once.
        """
        if code not in self.market:  # type: ignore[attr-defined]
            raise ValueError(f"unknown market {code!r}")
        order_uuid, events = self.account.place_order(  # type: ignore[attr-defined]
            code, side, ord_type, price, volume, self.now_ms(), identifier)  # type: ignore[attr-defined]
        self._publish_all(events)
        return str(order_uuid)

    def fill(self, order_uuid: str, volume: Any = None, price: Any = None) -> None:
        """Fill part (``volume``) or all of an open order: myOrder ``trade`` (then ``done``), myAsset."""
        self._publish_all(self.account.fill(order_uuid, self.now_ms(), volume, price))  # type: ignore[attr-defined]

    def cancel(self, order_uuid: str) -> None:
        """Cancel an open order: myOrder ``cancel`` and myAsset (unlocked funds)."""
        self._publish_all(self.account.cancel(order_uuid, self.now_ms()))  # type: ignore[attr-defined]

    def deposit(self, currency: str, amount: Decimal | int | str) -> None:
        """Credit the account: one myAsset event."""
        self._publish_all(self.account.deposit(currency, amount, self.now_ms()))  # type: ignore[attr-defined]

    def _publish_all(self, events: Sequence[Any]) -> None:
        for event in events:
            self.publish(event)  # type: ignore[attr-defined]
