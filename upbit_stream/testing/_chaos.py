"""Seeded chaos against the fake exchange: the fault driver and checks of the fake's log against Upbit's limits.

Shared by the reliability tests (virtual time, in-memory streams) and ``benchmarks/chaos.py`` (real
sockets on 127.0.0.1); ``_chaos_watch`` holds the observing side. Everything runs on trio's clock.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, TYPE_CHECKING

import trio

from .._core.specs import Spec

if TYPE_CHECKING:
    from ._connection import Connection
    from ._server import FakeUpbit, RequestRecord

__all__ = ["FAULTS", "ChaosDriver", "close_connection", "limit_violations", "live_keys", "opened", "rolling_max", "wanted_keys"]

#: Every fault the driver knows. "Disruptive" ones end the connection; the driver then waits until
#: the client has subscribed again before it injects the next fault.
FAULTS = (
    "drop", "drop_after_handshake", "drop_mid_subscribe", "close_after_handshake", "outage", "throttle",
    "stall", "garbage", "error_frame", "status",
)
_GARBAGE: tuple[bytes | str, ...] = (
    b"\x00\x01\xfe\xff", b"{not json", "plain text", b'{"unexpected": true}', b"[1, 2, 3]", b"", b'"UP"',
)
_RETRY_CLOSES = (1000, 1001, 1011, 1012, 1013)


# -- limit checks over the fake's request log ---------------------------------------------------


def rolling_max(times: Sequence[float], span: float) -> int:
    """The most events any window ``[t, t + span)`` holds (``times`` sorted ascending)."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= span:
            start += 1
        best = max(best, end - start + 1)
    return best


def limit_violations(
    records: Iterable[RequestRecord], *, requests_per_second: int = 5, requests_per_minute: int = 100,
    connects_per_second: int = 5,
) -> list[str]:
    """Upbit limits the fake's log shows broken: requests per connection and endpoint, connects overall."""
    requests: dict[str, list[float]] = {}
    connects: list[float] = []
    for record in records:
        if record.kind == "handshake":
            connects.append(record.time)
        elif record.kind == "message":
            requests.setdefault(f"connection #{record.connection}", []).append(record.time)
            requests.setdefault(f"{record.endpoint} endpoint", []).append(record.time)
    found = []
    for who, times in sorted(requests.items()):
        for count, span in ((requests_per_second, 1.0), (requests_per_minute, 60.0)):
            worst = rolling_max(times, span)
            if worst > count:
                found.append(f"{who}: {worst} requests in {span:g} s (limit {count})")
    worst = rolling_max(connects, 1.0)
    if worst > connects_per_second:
        found.append(f"{worst} connection attempts in 1 s (limit {connects_per_second})")
    return found


def wanted_keys(specs: Iterable[Spec[Any]]) -> set[tuple[str, str]]:
    """The ``(type, code)`` pairs a live subscription of ``specs`` must have on the server."""
    keys: set[tuple[str, str]] = set()
    for spec in specs:
        keys.update((spec.type, code) for code in (spec.codes or ("*",)))
    return keys


def live_keys(conn: Connection) -> set[tuple[str, str]]:
    """The ``(type, code)`` pairs the fake streams to ``conn`` right now (``"*"``: every code)."""
    keys = set(conn.realtime)
    if conn.my_order is not None:
        keys.update(("myOrder", code) for code in (conn.my_order or ("*",)))
    if conn.my_asset:
        keys.add(("myAsset", "*"))
    return keys


# -- the fault driver ---------------------------------------------------------------------------


class ChaosDriver:
    """Injects seeded random faults into ``fake``, one at a time, while the client keeps up."""

    def __init__(
        self, fake: FakeUpbit, seed: int, *, kinds: Sequence[str] = FAULTS, endpoints: Sequence[str] = ("public",),
        settle: tuple[float, float] = (0.0, 10.0), max_outage: float = 60.0, max_stall: float = 60.0,
        resume_timeout: float = 1800.0,
    ) -> None:
        unknown = set(kinds) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.fake = fake
        self.rng = random.Random(seed)
        self.kinds = tuple(kinds)
        self.endpoints = tuple(endpoints)
        self.settle = settle
        self.max_outage = max_outage
        self.max_stall = max_stall
        self.resume_timeout = resume_timeout
        self.injected: Counter[str] = Counter()
        self.outages: list[tuple[float, float]] = []
        self.stuck = 0  # times the client had not subscribed again within resume_timeout
        self._disrupted_at = float("-inf")

    async def run(self, faults: int) -> None:
        """Inject ``faults`` faults, then leave the exchange healthy."""
        try:
            for _ in range(faults):
                await self.wait_resumed()
                await trio.sleep(self.rng.uniform(*self.settle))
                kind = self.rng.choice(self.kinds)
                await getattr(self, f"_{kind}")()
                self.injected[kind] += 1
        finally:
            self.heal()

    def heal(self) -> None:
        """End every stall and refusal."""
        self.fake._refusals.clear()
        self.fake.resume()

    async def wait_resumed(self) -> bool:
        """Wait until each endpoint has subscribed again since the last disruptive fault."""
        since = self._disrupted_at
        with trio.move_on_after(self.resume_timeout):
            for endpoint in self.endpoints:
                def accepted(r: RequestRecord, e: str = endpoint) -> bool:
                    return r.kind == "message" and r.endpoint == e and r.time > since and not r.error

                await self.fake.wait_for_request(accepted)
            return True
        self.stuck += 1
        return False

    def _disrupt(self) -> None:
        self._disrupted_at = trio.current_time()

    async def _next(self, kind: str, timeout: float = 120.0) -> RequestRecord | None:
        since = trio.current_time()
        with trio.move_on_after(timeout):
            [*_, record] = await self.fake.wait_for_request(
                lambda r: r.kind == kind and r.time > since and r.status in (None, 101) and not r.error)
            return record
        return None

    async def _drop(self) -> None:
        self._disrupt()
        self.fake.drop_all()

    async def _drop_after_handshake(self) -> None:
        await self._drop()
        record = await self._next("handshake")
        if record is not None and await opened(self.fake, record.connection) is not None:
            await self._drop()

    async def _drop_mid_subscribe(self) -> None:
        await self._drop()
        if await self._next("message") is not None:
            await self._drop()

    async def _close_after_handshake(self) -> None:
        await self._drop()
        record = await self._next("handshake")
        if record is not None:
            self._disrupt()
            await close_connection(self.fake, record.connection, self.rng.choice(_RETRY_CLOSES))

    async def _outage(self) -> None:
        await self._drop()
        length = self.rng.uniform(0.0, self.max_outage)
        for _ in range(int(length * 10) + 10):
            self.fake.refuse_handshakes(1, self.rng.choice((503, 503, 502, 429)))
        start = trio.current_time()
        await trio.sleep(length)
        self.fake._refusals.clear()
        self.outages.append((start, trio.current_time()))

    async def _throttle(self) -> None:
        self.fake.refuse_handshakes(1, self.rng.choice((429, 429, 429, 418)))
        await self._drop()

    async def _stall(self) -> None:
        length = self.rng.uniform(0.0, self.max_stall)
        self.fake.stall(length, endpoint=self.rng.choice((None, *self.endpoints)))
        await trio.sleep(length)

    async def _garbage(self) -> None:
        self.fake.send_raw(self.rng.choice(_GARBAGE))

    async def _error_frame(self) -> None:
        self.fake.send_frame({"error": {"name": "Too Many Requests", "message": "요청 한도 초과"}})

    async def _status(self) -> None:
        self.fake.send_raw(b'{"status":"UP"}')


async def opened(fake: FakeUpbit, connection_id: int, timeout: float = 1.0) -> Connection | None:
    """The fake's connection ``connection_id`` once its handshake is done (None if it never opens)."""
    with trio.move_on_after(timeout):
        while True:
            conn = next((c for c in fake.connections if c.id == connection_id), None)
            if conn is not None:
                return conn
            await trio.sleep(0.001)
    return None


async def close_connection(fake: FakeUpbit, connection_id: int, code: int, reason: str = "chaos") -> bool:
    """Start closing the fake's connection ``connection_id`` with close code ``code``, once it is open.

    Returns at once; the close handshake finishes (or times out) in the fake's nursery.
    """
    conn = await opened(fake, connection_id)
    if conn is None:
        return False
    conn.closed_by = f"close {code}"
    fake.nursery.start_soon(_close, fake, conn, code, reason)  # type: ignore[union-attr]
    return True


async def _close(fake: FakeUpbit, conn: Connection, code: int, reason: str) -> None:
    with trio.move_on_after(fake.close_timeout):
        await conn.ws.aclose(code, reason)
    conn.cancel_scope.cancel()
