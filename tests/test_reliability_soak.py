"""R2: a random-drop soak in virtual time — subscriptions resume promptly and Upbit's limits always hold."""

from __future__ import annotations

import random
from collections.abc import Sequence

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit, open_fake_upbit
from upbit_stream.testing._chaos import ChaosDriver, limit_violations, live_keys, rolling_max, wanted_keys
from upbit_stream.testing._chaos_watch import Observer

from session_helpers import memory_connector, settings_for

K = ub.ConnectionEventKind
CODES = [
    "KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA", "KRW-TRX",
    "KRW-AVAX", "KRW-LINK", "KRW-DOT", "KRW-BCH", "KRW-ETC", "KRW-XLM", "KRW-NEAR",
    "KRW-SUI", "KRW-HBAR", "KRW-SHIB", "KRW-ATOM", "KRW-AAVE", "KRW-SAND",
]
SUBSCRIPTIONS = {
    "ticker": [ub.ticker(CODES[:7])],
    "trade": [ub.trade(CODES[7:14])],
    "orderbook": [ub.orderbook(CODES[14:], depth=15)],
}
#: R2 drop points: idle, right after the handshake, mid-subscribe; outages answer 503/502/429.
SOAK_FAULTS = ("drop", "drop_after_handshake", "drop_mid_subscribe", "outage")


async def market(fake: FakeUpbit, codes: Sequence[str], seed: int, per_second: float) -> None:
    """Trades on the subscribed codes at random moments, ``per_second`` on average."""
    rng = random.Random(seed)
    while True:
        await trio.sleep(rng.expovariate(per_second))
        fake.tick(1, code=rng.choice(codes))


async def run_soak(fake: FakeUpbit, seed: int, faults: int) -> dict:
    """Drive ``faults`` random faults into a session holding 20 codes across 3 types; gather what happened."""
    assert all(code in fake.codes() for code in CODES)
    driver = ChaosDriver(fake, seed, kinds=SOAK_FAULTS, settle=(0.0, 20.0), max_outage=60.0)
    async with ub.open_upbit_session(config=settings_for(fake), connector=memory_connector(fake)) as s:
        observer = Observer(s, SUBSCRIPTIONS)
        async with trio.open_nursery() as nursery:
            await nursery.start(observer.run)
            nursery.start_soon(market, fake, CODES, seed, 0.25)
            await driver.run(faults)
            assert await driver.wait_resumed()
            resumed_at = trio.current_time()
            assert await observer.wait_all_live(fake, timeout=30) == []
            live_after = trio.current_time() - resumed_at
            listed = await s.list_subscriptions()
            [current] = [c for c in fake.connections if c.endpoint == "public"]
            stats = s.stats().connections["public"]
            nursery.cancel_scope.cancel()
    return {"driver": driver, "observer": observer, "listed": listed, "current": current, "stats": stats,
            "live_after": live_after}


def check_soak(fake: FakeUpbit, outcome: dict) -> None:
    driver: ChaosDriver = outcome["driver"]
    observer: Observer = outcome["observer"]
    wanted = wanted_keys(spec for specs in SUBSCRIPTIONS.values() for spec in specs)
    assert driver.stuck == 0
    # (a) every resume completes within 2 virtual s of the handshake that starts it
    resumes = [t for w in observer.watched for t in w.resumes]
    assert resumes and max(resumes) <= 2.0, max(resumes)
    assert outcome["live_after"] <= 2.0
    # (b) the backoff never lets two attempts of one endpoint come less than 0.5 s apart
    attempts = [r.time for r in fake.requests if r.kind == "handshake"]
    assert min(b - a for a, b in zip(attempts, attempts[1:])) >= 0.5
    # (c) no channel closed or failed; one RECONNECTED per re-established connection
    for watched in observer.watched:
        assert (watched.closed, watched.failure) == (0, None), watched.name
        assert watched.duplicates == watched.out_of_order == 0
    reconnected = observer.count("public", K.RECONNECTED)
    established = observer.count("public", K.CONNECTED) + reconnected
    assert observer.count("public", K.CONNECTED) == 1
    assert reconnected == outcome["stats"].reconnects >= driver.injected["drop"]
    accepted = {r.connection for r in fake.requests if r.kind == "handshake" and r.status == 101}
    subscribed = {r.connection for r in fake.requests if r.kind == "message"}
    assert len(subscribed) <= established <= len(accepted)
    assert observer.count("public", K.DISCONNECTED) == established - 1
    # (d) Upbit's limits, from the fake's own log
    assert limit_violations(fake.requests) == []
    # (e) every request, the final LIST_SUBSCRIPTIONS and the live server state equal the demand
    for record in fake.requests:
        if record.kind == "message" and record.request is not None and record.request.method is None:
            assert {(t.type, c) for t in record.request.types if t.realtime for c in t.codes} == wanted
    assert {(s.type, c.partition(".")[0]) for s in outcome["listed"].streams for c in s.codes} == wanted
    assert live_keys(outcome["current"]) == wanted


async def test_soak_200_random_drops_and_outages(autojump_clock):
    async with open_fake_upbit(seed=2, rate=0, idle_timeout=120.0) as fake:
        with trio.fail_after(200_000):
            outcome = await run_soak(fake, seed=2, faults=200)
        check_soak(fake, outcome)
        assert sum(outcome["driver"].injected.values()) == 200
        assert fake.counters.refused_handshakes > 0 and fake.counters.drops >= 200


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_soak_holds_for_any_seed(seed: int) -> None:
    async def main() -> None:
        async with open_fake_upbit(seed=seed % 1000, rate=0, idle_timeout=120.0) as fake:
            with trio.fail_after(50_000):
                outcome = await run_soak(fake, seed=seed, faults=20)
            check_soak(fake, outcome)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_rolling_max_counts_half_open_windows() -> None:
    assert rolling_max([], 1.0) == 0
    assert rolling_max([0.0, 0.5, 0.999, 1.0, 1.5], 1.0) == 3
    assert rolling_max([0.0, 1.0, 2.0], 1.0) == 1
    assert rolling_max([5.0] * 4, 1.0) == 4
