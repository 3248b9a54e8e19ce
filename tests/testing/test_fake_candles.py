"""Candles of the fake exchange: flushed on wall-clock seconds, complete, one per period with trades (#15)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import trio
import trio.testing
from hypothesis import example, given, settings
from hypothesis import strategies as st

from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._candles import INTERVAL_MS
from upbit_stream.testing._market import MarketSim

from ._helpers import connect_in_memory, send, sync

CODES = ["KRW-BTC", "KRW-XRP"]
UNITS = ["1s", "1m", "3m"]


def _aggregate(trades: list[Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Per (code, unit, period start): the candle its trades make."""
    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    for trade in trades:
        price, volume, ts = trade.trade_price, trade.trade_volume, trade.trade_timestamp
        for unit in UNITS:
            key = (trade.code, unit, ts - ts % INTERVAL_MS[unit])
            c = out.get(key)
            if c is None:
                c = out[key] = {"opening_price": price, "high_price": price, "low_price": price,
                                "candle_acc_trade_volume": Decimal(0), "candle_acc_trade_price": Decimal(0)}
            c["high_price"], c["low_price"] = max(c["high_price"], price), min(c["low_price"], price)
            c["trade_price"], c["last_ts"] = price, ts
            c["candle_acc_trade_volume"] += volume
            c["candle_acc_trade_price"] += price * volume
    return out


def _start_ms(candle_date_time_utc: str) -> int:
    return int(datetime.strptime(candle_date_time_utc, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp() * 1000)


async def _drive(epoch_ms: int, schedule: list[tuple[float, str]]) -> tuple[list[Any], list[dict[str, Any]]]:
    """Trades at ``schedule``'s times (seconds after a wall-clock second boundary); every candle frame seen."""
    frames: list[dict[str, Any]] = []
    made: list[Any] = []
    async with open_fake_upbit(rate=0, seed=3, epoch_ms=epoch_ms, idle_timeout=None) as fake:
        with trio.fail_after(1000):
            async with connect_in_memory(fake) as ws:
                await send(ws, [{"ticket": "t"}, *({"type": f"candle.{u}", "codes": CODES, "is_only_realtime": True}
                                                   for u in UNITS)])
                await sync(ws)
                done = trio.Event()

                async def read() -> None:
                    while True:
                        frame = json.loads(await ws.get_message(), parse_float=Decimal)
                        if frame == {"status": "UP"}:
                            done.set()
                            return
                        frames.append(frame)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(read)
                    base = fake._t0 + ((fake.now_ms() // 1000 + 1) * 1000 - fake._epoch_ms) / 1000
                    for at, code in schedule:
                        await trio.sleep_until(base + at)
                        made += fake.tick(code=code)
                    await trio.sleep(1.5)  # past the next tick: every final update is out
                    await ws.send_message("PING")
                    await done.wait()
    return made, frames


@settings(max_examples=40, deadline=None)
@given(epoch_ms=st.integers(1_700_000_000_000, 1_800_000_000_000),
       schedule=st.lists(st.tuples(st.floats(0, 200, allow_nan=False), st.sampled_from(CODES)),
                         min_size=1, max_size=40).map(sorted))
@example(epoch_ms=1_750_000_000_000, schedule=[(0.9995, "KRW-BTC"), (1.0, "KRW-BTC"), (1.0000005, "KRW-BTC")])
@example(epoch_ms=1_750_000_059_123, schedule=[(0.0, "KRW-XRP"), (0.999, "KRW-XRP"), (1.001, "KRW-XRP")])
def test_the_last_candle_of_every_period_with_trades_is_its_trades_and_comes_at_the_next_second(epoch_ms, schedule):
    made, frames = trio.run(_drive, epoch_ms, schedule, clock=trio.testing.MockClock(autojump_threshold=0))
    expected = _aggregate(made)
    last: dict[tuple[str, str, int], dict[str, Any]] = {}
    for frame in frames:
        assert frame["stream_type"] == "REALTIME"
        assert frame["timestamp"] % 1000 == 0, "candles are flushed on wall-clock seconds"
        last[(frame["code"], frame["type"].partition(".")[2], _start_ms(frame["candle_date_time_utc"]))] = frame
    assert sorted(last) == sorted(expected), "exactly the periods with trades have candles"
    for key, want in expected.items():
        got = last[key]
        for field in ("opening_price", "high_price", "low_price", "trade_price", "candle_acc_trade_volume",
                      "candle_acc_trade_price"):
            assert Decimal(got[field]) == want[field], (key, field)
        # on time: the final update goes out at the first whole second after the period's last trade
        assert want["last_ts"] <= got["timestamp"] <= (want["last_ts"] // 1000 + 1) * 1000, key


def test_a_period_closed_before_the_flush_still_gets_its_final_update():
    sim = MarketSim(seed=1, now_ms=1_750_000_000_000)
    sim.take_dirty()
    first = sim.step_trade(1_750_000_000_400, "KRW-BTC")
    second = sim.step_trade(1_750_000_000_999, "KRW-BTC")
    third = sim.step_trade(1_750_000_001_002, "KRW-BTC")  # the next second began before any flush
    candles = [c for c in sim.take_dirty_candles(1_750_000_002_000) if c.code == "KRW-BTC" and c.type == "candle.1s"]
    assert [c.candle_date_time_utc[-2:] for c in candles] == ["40", "41"]  # 2025-06-15T15:06:40 then :41
    closed, current = candles
    assert (closed.opening_price, closed.trade_price) == (first.trade_price, second.trade_price)
    assert closed.candle_acc_trade_volume == first.trade_volume + second.trade_volume
    assert (current.opening_price, current.candle_acc_trade_volume) == (third.trade_price, third.trade_volume)
    assert sim.take_dirty() == []


def test_the_first_candle_opens_at_its_first_trade_not_at_the_starting_price():
    start = 1_750_000_000_000
    for seed in range(50):
        sim = MarketSim(seed=seed, now_ms=start)
        placeholder = sim.candle("KRW-ETH", "1m", start)
        trade = sim.step_trade(start + 500, "KRW-ETH")
        if trade.trade_price != placeholder.opening_price:
            break
    else:
        raise AssertionError("no seed made a first trade away from the starting price")
    assert placeholder.candle_acc_trade_volume == 0  # what a snapshot shows before any trade
    candle = sim.candle("KRW-ETH", "1m", start + 500)
    assert (candle.opening_price, candle.high_price, candle.low_price) == (trade.trade_price,) * 3
    assert candle.candle_acc_trade_volume == trade.trade_volume


def test_closed_candles_waiting_for_a_flush_are_bounded():
    sim = MarketSim(seed=1, now_ms=0)
    sim.candles.closed_limit = 5
    for second in range(20):
        sim.step_trade(second * 1000 + 1, "KRW-BTC")
    taken = [candle for _, unit, candle in sim.take_dirty() if unit == "1s"]
    assert [c.start for c in taken] == [s * 1000 for s in range(14, 20)]  # the 5 latest closed, then the current
    assert sim.candles.lost == 14
