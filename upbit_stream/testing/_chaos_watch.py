"""Seeded chaos, the observing side: subscribers that record what they see, and one whole chaos run.

Shared by ``tests/test_chaos.py`` (virtual time) and ``benchmarks/chaos.py`` (real sockets).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._core.enums import StreamType
from .._core.markers import StreamGap
from .._core.specs import PRIVATE_TYPES, Spec
from .._core.stats import ConnectionEventKind
from ._chaos import ChaosDriver, limit_violations, live_keys, wanted_keys

if TYPE_CHECKING:
    from .._trio.session import UpbitSession
    from ._server import FakeUpbit

__all__ = ["ChaosReport", "Observer", "Watched", "chaos_subscriptions", "run_chaos"]


# -- the observing subscribers ------------------------------------------------------------------


@attrs.define(eq=False)
class Watched:
    """What one observed subscription saw."""

    name: str
    specs: tuple[Spec[Any], ...]
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

    def __init__(self, session: UpbitSession, subscriptions: Mapping[str, Sequence[Spec[Any]]]) -> None:
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
                down_since: dict[str, float] = {}
                async for event in events:  # outages timed on trio's clock, virtual or not
                    self.connection_events[event.endpoint, event.kind] += 1
                    if event.kind is ConnectionEventKind.DISCONNECTED:
                        down_since.setdefault(event.endpoint, trio.current_time())
                    elif event.kind is ConnectionEventKind.RECONNECTED and event.endpoint in down_since:
                        outage = trio.current_time() - down_since.pop(event.endpoint)
                        self.longest_outage = max(self.longest_outage, outage)
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


# -- one whole run ------------------------------------------------------------------------------


def chaos_subscriptions(codes: Sequence[str]) -> dict[str, tuple[Spec[Any], ...]]:
    """Public and private subscribers over ``codes`` (18 or more): every type, both modes."""
    from .._core.specs import my_asset, my_order, orderbook, ticker, trade

    return {
        "tickers": (ticker(codes[0:6]),),
        "trades (realtime)": (trade(codes[6:12], mode="realtime"),),
        "trades (both)": (trade(codes[6:9]),),
        "orderbooks": (orderbook(codes[12:18], depth=15),),
        "orders": (my_order(),),
        "assets": (my_asset(),),
    }


@attrs.define
class ChaosReport:
    """What one chaos run did and found; ``violations()`` is empty when every promise held."""

    seed: int
    virtual_seconds: float = 0.0
    injected: Counter[str] = attrs.Factory(Counter)
    server_counters: Any = None
    reconnects: dict[str, int] = attrs.Factory(dict)
    reconnect_events: dict[str, int] = attrs.Factory(dict)
    longest_outage: float = 0.0
    longest_resume: float = 0.0
    events_delivered: int = 0
    requests: int = 0
    connects: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    closed_channels: int = 0
    failures: list[str] = attrs.Factory(list)
    not_live: list[str] = attrs.Factory(list)
    mismatched: list[str] = attrs.Factory(list)
    limit_violations: list[str] = attrs.Factory(list)
    stuck: int = 0

    def violations(self) -> list[str]:
        found = [f"limit: {v}" for v in self.limit_violations] + [f"failed: {f}" for f in self.failures]
        found += [f"not live at the end: {name}" for name in self.not_live]
        found += [f"server state differs: {m}" for m in self.mismatched]
        for what in ("duplicates", "out_of_order", "closed_channels", "stuck"):
            if getattr(self, what):
                found.append(f"{what}: {getattr(self, what)}")
        for endpoint, count in self.reconnect_events.items():
            if self.reconnects.get(endpoint) != count:
                found.append(f"{endpoint}: {count} RECONNECTED events but stats say {self.reconnects.get(endpoint)}")
        return found

    def figures(self) -> dict[str, Any]:
        return {
            "faults injected": sum(self.injected.values()), "by kind": dict(sorted(self.injected.items())),
            "reconnects": dict(self.reconnects), "longest outage (s)": round(self.longest_outage, 2),
            "longest resume after a reconnect (s)": round(self.longest_resume, 3),
            "events delivered": self.events_delivered, "requests": self.requests, "connection attempts":
            self.connects, "duration (s)": round(self.virtual_seconds, 1), "violations": len(self.violations()),
        }


async def run_chaos(
    fake: FakeUpbit, session: UpbitSession, *, seed: int, faults: int, codes: Sequence[str],
    market_rate: float = 5.0, live_timeout: float = 900.0, **driver_options: Any,
) -> ChaosReport:
    """Subscribe, inject ``faults`` seeded faults, heal, and check every promise; return the report."""
    subscriptions = chaos_subscriptions(codes)
    observer = Observer(session, subscriptions)
    driver = ChaosDriver(fake, seed, endpoints=("public", "private"), **driver_options)
    report = ChaosReport(seed)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(observer.run)
        nursery.start_soon(_market, fake, sorted({c for specs in subscriptions.values() for s in specs
                                                  for c in s.codes}), seed, market_rate)
        await driver.run(faults)
        report.stuck = driver.stuck + (not await driver.wait_resumed())
        report.not_live = await observer.wait_all_live(fake, live_timeout)
        for endpoint in ("public", "private"):
            wanted = wanted_keys(s for specs in subscriptions.values() for s in specs if s.endpoint == endpoint)
            conns = [c for c in fake.connections if c.endpoint == endpoint and not c.stalled]
            if not conns or live_keys(max(conns, key=lambda c: c.id)) != wanted:
                report.mismatched.append(f"{endpoint}: the server streams something else than {sorted(wanted)}")
            listed = await session.list_subscriptions(endpoint)
            got = {(s.type, c.partition(".")[0]) for s in listed.streams for c in (s.codes or ("*",))}
            if got != wanted:
                report.mismatched.append(f"{endpoint}: LIST_SUBSCRIPTIONS says {sorted(got)}")
        stats = session.stats()
        nursery.cancel_scope.cancel()
    report.virtual_seconds = trio.current_time() - start
    report.injected = driver.injected
    report.server_counters = attrs.evolve(fake.counters)
    report.reconnects = {name: c.reconnects for name, c in stats.connections.items()}
    report.reconnect_events = {e: observer.count(e, ConnectionEventKind.RECONNECTED) for e in ("public", "private")}
    report.longest_outage = observer.longest_outage
    report.longest_resume = max((t for w in observer.watched for t in w.resumes), default=0.0)
    report.events_delivered = sum(w.events for w in observer.watched)
    report.duplicates = sum(w.duplicates for w in observer.watched)
    report.out_of_order = sum(w.out_of_order for w in observer.watched)
    report.closed_channels = sum(w.closed for w in observer.watched)
    report.failures = [f"{w.name}: {w.failure!r}" for w in observer.watched if w.failure is not None]
    records = fake.requests
    report.requests = sum(r.kind == "message" for r in records)
    report.connects = sum(r.kind == "handshake" for r in records)
    report.limit_violations = limit_violations(records)
    return report


async def _market(fake: FakeUpbit, codes: Sequence[str], seed: int, per_second: float) -> None:
    """Trades on ``codes`` and, every ten seconds or so, an order placed and cancelled."""
    rng = random.Random(seed)
    next_order = trio.current_time()
    while True:
        await trio.sleep(rng.expovariate(per_second))
        fake.tick(1, code=rng.choice(codes))
        if trio.current_time() >= next_order:
            fake.cancel(fake.place_order("KRW-BTC", "bid", "limit", price="1000", volume="1"))
            next_order = trio.current_time() + rng.uniform(5.0, 15.0)
