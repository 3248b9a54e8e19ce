"""Seeded chaos against the fake exchange: a fault driver, an observing set of subscribers, limit checks.

Shared by ``tests/test_chaos.py`` (virtual time, in-memory streams) and ``benchmarks/chaos.py``
(real sockets on 127.0.0.1). Everything here runs on trio's clock, so the same code serves both.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._enums import StreamType
from .._fanout import StreamGap
from .._specs import PRIVATE_TYPES, Spec
from .._stats import ConnectionEventKind

if TYPE_CHECKING:
    from .._session import UpbitSession
    from ._connection import Connection
    from ._server import FakeUpbit, RequestRecord

__all__ = ["FAULTS", "ChaosDriver", "Observer", "close_connection", "limit_violations", "live_keys", "opened", "rolling_max", "wanted_keys"]

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


def wanted_keys(specs: Iterable[Spec]) -> set[tuple[str, str]]:
    """The ``(type, code)`` pairs a live subscription of ``specs`` must have on the server."""
    keys = set()
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
                await self.fake.wait_for_request(
                    lambda r, e=endpoint: r.kind == "message" and r.endpoint == e and r.time >= since and not r.error)
            return True
        self.stuck += 1
        return False

    def _disrupt(self) -> None:
        self._disrupted_at = trio.current_time()

    async def _next(self, kind: str, timeout: float = 120.0) -> RequestRecord | None:
        since = trio.current_time()
        with trio.move_on_after(timeout):
            [*_, record] = await self.fake.wait_for_request(
                lambda r: r.kind == kind and r.time >= since and r.status in (None, 101) and not r.error)
            return record
        return None

    async def _drop(self) -> None:
        self._disrupt()
        self.fake.drop_all()

    async def _drop_after_handshake(self) -> None:
        await self._drop()
        record = await self._next("handshake")
        if record is not None and await opened(self.fake, record.connection) is not None:
            self.fake.drop_all()

    async def _drop_mid_subscribe(self) -> None:
        await self._drop()
        if await self._next("message") is not None:
            self.fake.drop_all()

    async def _close_after_handshake(self) -> None:
        await self._drop()
        record = await self._next("handshake")
        if record is not None:
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


# -- the observing subscribers ------------------------------------------------------------------


@attrs.define(eq=False)
class Watched:
    """What one observed subscription saw."""

    name: str
    specs: tuple[Spec, ...]
    events: int = 0
    snapshots: int = 0
    gaps: int = 0
    closed: int = 0
    failure: BaseException | None = None
    resumes: list[float] = attrs.Factory(list)
    duplicates: int = 0
    out_of_order: int = 0
    last_realtime: dict[str, float] = attrs.Factory(dict)
    _pending: set[str] = attrs.Factory(set)
    _gap_at: float | None = None
    _last_sid: dict[str, int] = attrs.Factory(dict)

    @property
    def endpoint(self) -> str:
        return "private" if self.specs[0].type in PRIVATE_TYPES else "public"

    def see(self, event: Any, now: float) -> None:
        if isinstance(event, StreamGap):
            self.gaps += 1
            self._gap_at = now
            self._pending = {c for s in self.specs if s.mode == "both" for c in s.codes}
            return
        self.events += 1
        if event.stream_type is StreamType.SNAPSHOT:
            self.snapshots += 1
            self._pending.discard(event.code)
            if self._gap_at is not None and not self._pending:
                self.resumes.append(now - self._gap_at)
                self._gap_at = None
            return
        self.last_realtime[event.code] = now
        if event.type == "trade":
            last = self._last_sid.get(event.code)
            if last is not None and event.sequential_id == last:
                self.duplicates += 1
            elif last is not None and event.sequential_id < last:
                self.out_of_order += 1
            self._last_sid[event.code] = max(event.sequential_id, last or 0)


class Observer:
    """Holds subscriptions open on ``session`` and records what they and the connection events show."""

    def __init__(self, session: UpbitSession, subscriptions: Mapping[str, Sequence[Spec]]) -> None:
        self.session = session
        self.watched = [Watched(name, tuple(specs)) for name, specs in subscriptions.items()]
        self.connection_events: Counter[tuple[str, ConnectionEventKind]] = Counter()
        self.longest_outage = 0.0
        self.running = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Subscribe everything, report started, and watch until cancelled."""
        self.running = True
        try:
            async with self.session.connection_events(buffer=4096) as events, trio.open_nursery() as nursery:
                for watched in self.watched:
                    await nursery.start(self._consume, watched)
                task_status.started()
                async for event in events:
                    self.connection_events[event.endpoint, event.kind] += 1
                    if event.kind is ConnectionEventKind.RECONNECTED and event.downtime is not None:
                        self.longest_outage = max(self.longest_outage, event.downtime)
        finally:
            self.running = False

    async def _consume(self, watched: Watched, *, task_status: trio.TaskStatus[None]) -> None:
        try:
            async with self.session.subscribe(*watched.specs, gaps=True, buffer=1024) as channel:
                task_status.started()
                async for event in channel:
                    watched.see(event, trio.current_time())
                if self.running:
                    watched.closed += 1
        except trio.Cancelled:
            raise
        except Exception as exc:  # recorded: a healthy run has none
            watched.failure = exc

    def count(self, endpoint: str, kind: ConnectionEventKind) -> int:
        return self.connection_events[endpoint, kind]

    async def wait_all_live(self, fake: FakeUpbit, timeout: float, *, tick: float = 0.2) -> list[str]:
        """Make fresh data for every code and account; return the subscriptions that got none."""
        mark = trio.current_time()
        missing = list(self.watched)
        with trio.move_on_after(timeout):
            while missing:
                for watched in missing:
                    for spec in watched.specs:
                        if spec.type in PRIVATE_TYPES:
                            order = fake.place_order("KRW-BTC", "bid", "limit", price="1000", volume="1")
                            fake.cancel(order)
                        else:
                            for code in spec.codes:
                                fake.tick(1, code=code)
                await trio.sleep(tick)
                missing = [w for w in missing if not _fresh(w, mark)]
        return [w.name for w in missing]


def _fresh(watched: Watched, mark: float) -> bool:
    codes = {c for s in watched.specs for c in s.codes}
    if not codes:
        return any(t > mark for t in watched.last_realtime.values())
    return all(watched.last_realtime.get(code, float("-inf")) > mark for code in codes)
