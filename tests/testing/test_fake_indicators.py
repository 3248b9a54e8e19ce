"""The fake exchange's indicator and indicator_signal streams: values at candle closes (virtual time), signal
transitions, the equality and restart rules, controls, and every format."""

from __future__ import annotations

import json
import statistics
from decimal import Decimal
from typing import Any

import pytest
import trio

import upbit_stream as ub
from upbit_stream._core.indicators import request_item
from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._info_market import SEEDED

from ._helpers import connect_in_memory, no_frame, recv, send, sync

T = {"ticket": "t"}
#: 2026-09-03T04:51:00Z: four minutes before the 5m candle of 04:50 closes.
EPOCH = 1_788_411_060_000


def request(type_: str, codes: list[str], timeframe: str, *items: Any) -> list[Any]:
    """A subscription message with one Data Type Object (Decimal multipliers as JSON numbers)."""
    wire = [json.loads(json.dumps(request_item(i), default=float)) for i in items]
    return [T, {"type": type_, "codes": codes, "timeframe": timeframe, "indicators": wire}]


def fake_exchange(**kw: Any) -> Any:
    return open_fake_upbit(**{"rate": 0, "seed": 5, "epoch_ms": EPOCH, "idle_timeout": None, **kw})


async def subscribe(ws: Any, message: list[Any]) -> None:
    """Send a subscription and wait until the server has applied it (nothing is sent on subscribe)."""
    await send(ws, message)
    assert await sync(ws) == []


async def frames(ws: Any, n: int) -> list[dict[str, Any]]:
    return [await recv(ws, timeout=10_000) for _ in range(n)]


# -- independent textbook arithmetic (floats) ----------------------------------------------------------


def ema_series(xs: list[float], n: int) -> list[float | None]:
    out: list[float | None] = [None] * (n - 1)
    value = sum(xs[:n]) / n
    out.append(value)
    for x in xs[n:]:
        value += 2 / (n + 1) * (x - value)
        out.append(value)
    return out


def wilder_rsi(xs: list[float], n: int) -> float:
    changes = [b - a for a, b in zip(xs, xs[1:])]
    gain = sum(max(c, 0) for c in changes[:n]) / n
    loss = sum(max(-c, 0) for c in changes[:n]) / n
    for c in changes[n:]:
        gain, loss = (gain * (n - 1) + max(c, 0)) / n, (loss * (n - 1) + max(-c, 0)) / n
    return 100 - 100 / (1 + gain / loss)


async def test_values_at_each_close_in_virtual_time_match_textbook_formulas(autojump_clock):
    items = [ub.rsi(14), ub.volume(20), ub.moving_average(20), ub.ma_crossover(5, 20, "EMA"),
             ub.bollinger_bands(20, 2), ub.macd(12, 26, 9)]
    async with fake_exchange() as fake:
        with trio.fail_after(10_000):
            async with connect_in_memory(fake, info=True) as ws:
                await subscribe(ws, request("indicator", ["KRW-BTC", "KRW-NOPE", "BTC-ETH"], "5m", *items))
                trades = fake.tick(3, code="KRW-BTC")
                start = trio.current_time()
                got = await frames(ws, 6)
                assert trio.current_time() - start == pytest.approx(240)  # at 04:55:00, not before
                await no_frame(ws, 299)  # nothing until the next close
                later = await frames(ws, 6)
                assert trio.current_time() - start == pytest.approx(540)
        history = fake.candle_closes("KRW-BTC", "5m")
    assert len(history) == SEEDED + 2
    closed = history[-2]
    assert closed.candle_date_time_utc == "2026-09-03T04:50:00" and closed.close == trades[-1].trade_price
    assert closed.volume == sum(t.trade_volume for t in trades) and history[-1].volume == 0
    for message in got:
        assert {k: message[k] for k in ("type", "code", "timeframe", "candle_date_time_utc", "timestamp", "stream_type")} \
            == {"type": "indicator", "code": "KRW-BTC", "timeframe": "5m", "candle_date_time_utc": "2026-09-03T04:50:00",
                "timestamp": 1_788_411_300_000, "stream_type": "REALTIME"}
    assert [m["candle_date_time_utc"] for m in later] == ["2026-09-03T04:55:00"] * 6
    assert [m["timestamp"] for m in later] == [1_788_411_600_000] * 6
    values = {m["indicator"]: m["value"] for m in got}
    assert [m["params"] for m in got] == [
        {"period": 14}, {"period": 20}, {"type": "SMA", "period": 20}, {"type": "EMA", "short_period": 5, "long_period": 20},
        {"period": 20, "multiplier": 2.0}, {"fast": 12, "slow": 26, "signal_period": 9}]
    closes = [float(c.close) for c in history[:-1]]
    volumes = [float(c.volume) for c in history[:-1]]
    assert values["rsi"]["rsi"] == pytest.approx(wilder_rsi(closes, 14), abs=1e-6)
    assert values["moving_average"]["value"] == pytest.approx(sum(closes[-20:]) / 20, rel=1e-12)
    assert values["ma_crossover"] == pytest.approx(
        {"ma_short": ema_series(closes, 5)[-1], "ma_long": ema_series(closes, 20)[-1]}, rel=1e-12)
    mean, sd = sum(closes[-20:]) / 20, statistics.pstdev(closes[-20:])
    assert values["bollinger_bands"] == pytest.approx(
        {"bb_upper": mean + 2 * sd, "bb_middle": mean, "bb_lower": mean - 2 * sd}, rel=1e-12)
    fast, slow = ema_series(closes, 12), ema_series(closes, 26)
    line = [f - s for f, s in zip(fast, slow) if f is not None and s is not None]
    signal = ema_series(line, 9)[-1]
    assert values["macd"] == pytest.approx({"macd": line[-1], "macd_signal": signal, "histogram": line[-1] - signal},
                                           rel=1e-7)
    average = sum(volumes[-21:-1]) / 20
    assert values["volume"] == pytest.approx({"volume": volumes[-1], "avg_volume": average,
                                              "ratio": volumes[-1] / average}, rel=1e-7, abs=1e-8)


async def test_each_timeframe_closes_on_its_own_boundaries(autojump_clock):
    async with fake_exchange(epoch_ms=EPOCH - 11 * 60_000) as fake:  # 04:40:00
        with trio.fail_after(10_000):
            async with connect_in_memory(fake, info=True) as ws:
                await subscribe(ws, [T, *(request("indicator", ["KRW-ETH"], tf, ub.rsi(14))[1] for tf in ("5m", "15m", "60m"))])
                got = [(m["timeframe"], m["candle_date_time_utc"][11:16]) for m in await frames(ws, 7)]
                assert trio.current_time() == pytest.approx(20 * 60, abs=1)
                assert got == [("5m", "04:40"), ("15m", "04:30"), ("5m", "04:45"), ("5m", "04:50"), ("5m", "04:55"),
                               ("15m", "04:45"), ("60m", "04:00")]
                await subscribe(ws, request("indicator", ["KRW-ETH"], "1d", ub.rsi(14)))
                assert fake.close_candle("1d") == "2026-09-03T00:00:00"
                [day] = await frames(ws, 1)
                assert (day["timeframe"], day["candle_date_time_utc"]) == ("1d", "2026-09-03T00:00:00")


async def test_close_candle_runs_ahead_of_the_clock_without_closing_a_candle_twice(autojump_clock):
    async with fake_exchange() as fake:
        with trio.fail_after(10_000):
            async with connect_in_memory(fake, info=True) as ws:
                await subscribe(ws, request("indicator", ["KRW-XRP"], "5m", ub.moving_average(5)))
                assert [fake.close_candle(), fake.close_candle()] == ["2026-09-03T04:50:00", "2026-09-03T04:55:00"]
                assert [m["candle_date_time_utc"] for m in await frames(ws, 2)] == [
                    "2026-09-03T04:50:00", "2026-09-03T04:55:00"]
                [next_] = await frames(ws, 1)  # the clock's closes of 04:50 and 04:55 do not happen
                assert next_["candle_date_time_utc"] == "2026-09-03T05:00:00"
                assert trio.current_time() == pytest.approx(14 * 60)
        starts = [c.start_ms for c in fake.candle_closes("KRW-XRP", "5m")]
        assert starts == sorted(set(starts))


# -- signals -------------------------------------------------------------------------------------------


async def test_signal_fires_only_when_the_condition_turns_true(autojump_clock):
    spike = ub.signal(ub.volume(10), "volume_spike", multiplier=2)
    async with fake_exchange() as fake:
        fake.seed_candles("KRW-SOL", "5m", [100] * 20, [10] * 20)
        with trio.fail_after(100):
            async with connect_in_memory(fake, info=True) as ws:
                await subscribe(ws, request("indicator_signal", ["KRW-SOL"], "5m", spike))
                steps = [(20, True),   # 20 >= 2 x 10: met, was not
                         (40, False),  # met again (40 >= 2 x 11): no repeat
                         (10, False),  # 10 < 2 x 13: not met
                         (28, True),   # 28 = 2 x 14: equal counts as met (no equality rule for volume)
                         (0, False)]
                for volume, fires in steps:
                    fake.close_candle(volumes={"KRW-SOL": volume})
                    seen = await sync(ws)
                    assert len(seen) == fires, (volume, seen)
                    if fires:
                        assert seen[0]["value"]["volume"] == volume
                        assert seen[0]["event_params"] == {"multiplier": 2.0} and seen[0]["trigger"] == "volume_spike"


async def test_equal_values_keep_the_previous_state_for_price_crossings(autojump_clock):
    above = ub.signal(ub.moving_average(5), "price_cross_above")
    below = ub.signal(ub.moving_average(5), "price_cross_below")
    async with fake_exchange() as fake:
        fake.seed_candles("KRW-ADA", "5m", [100] * 10)  # close == MA all along: neither state ever set
        with trio.fail_after(100):
            async with connect_in_memory(fake, info=True) as ws:
                await subscribe(ws, request("indicator_signal", ["KRW-ADA"], "5m", above, below))
                script = [("110", "above"),  # MA 102: above, from the initial not-met state
                          ("102.5", None),   # MA 102.5: equal, so still above: nothing
                          ("110", None),     # above again; a signal here would mean equality had reset the state
                          ("90", "below"),   # MA 102.5: below
                          ("103.125", None),  # MA 103.125: equal: still below
                          ("90", None),
                          ("200", "above")]
                for price, fired in script:
                    fake.close_candle(prices={"KRW-ADA": price})
                    seen = await sync(ws)
                    assert [m["trigger"] for m in seen] == ([f"price_cross_{fired}"] if fired else []), price
                    if fired:
                        assert seen[0]["event_params"] == {} and seen[0]["value"]["value"] == float(
                            sum(c.close for c in fake.candle_closes("KRW-ADA", "5m")[-5:]) / 5)


async def test_rsi_at_its_threshold_is_met_no_equality_rule(autojump_clock):
    overbought70 = ub.signal(ub.rsi(7), "overbought", threshold=70)
    overbought80 = ub.signal(ub.rsi(7), "overbought", threshold=80)
    async with fake_exchange() as fake:
        fake.seed_candles("KRW-DOT", "5m", [100, 107, 100, 100, 100, 100, 100, 100])  # RSI(7) = 50
        with trio.fail_after(100):
            async with connect_in_memory(fake, info=True) as ws:
                await subscribe(ws, request("indicator_signal", ["KRW-DOT"], "5m", overbought70, overbought80))
                fake.close_candle(prices={"KRW-DOT": 108})  # Wilder: gains 2, losses 6/7 -> RSI exactly 70
                [fired] = await sync(ws)
        assert fired["event_params"] == {"threshold": 70} and fired["value"] == {"rsi": 70.0}


async def test_restart_suppresses_the_next_would_be_signal(autojump_clock):
    spike = ub.signal(ub.volume(10), "volume_spike", multiplier=3)
    async with fake_exchange() as fake:
        fake.seed_candles("KRW-SOL", "5m", [100] * 20, [10] * 20)
        with trio.fail_after(100):
            async with connect_in_memory(fake, info=True) as ws:
                await subscribe(ws, request("indicator_signal", ["KRW-SOL"], "5m", spike, ub.signal(ub.rsi(14), "overbought",
                                                                                                   threshold=70)))
                fake.restart_indicators()
                fake.close_candle(volumes={"KRW-SOL": 100}, prices={"KRW-SOL": 150})  # both would fire: suppressed
                assert await sync(ws) == []
                fake.close_candle(volumes={"KRW-SOL": 500}, prices={"KRW-SOL": 160})  # still met: the baseline
                assert await sync(ws) == []
                fake.close_candle(volumes={"KRW-SOL": 1}, prices={"KRW-SOL": 10})  # both unmet (RSI about 26)
                assert await sync(ws) == []
                fake.close_candle(volumes={"KRW-SOL": 1000}, prices={"KRW-SOL": 500})
                assert sorted(m["trigger"] for m in await sync(ws)) == ["overbought", "volume_spike"]


async def test_signal_state_belongs_to_the_market_not_the_subscriber(autojump_clock):
    cross = ub.signal(ub.ma_crossover(5, 20), "golden_cross")
    async with fake_exchange() as fake:
        fake.seed_candles("KRW-LINK", "5m", [100] * 30)
        with trio.fail_after(100):
            async with connect_in_memory(fake, info=True) as early, connect_in_memory(fake, info=True) as late:
                await subscribe(early, request("indicator_signal", ["KRW-LINK"], "5m", cross))
                fake.close_candle(prices={"KRW-LINK": 200})  # short MA jumps above long: golden cross
                assert [m["trigger"] for m in await sync(early)] == ["golden_cross"]
                await subscribe(late, request("indicator_signal", ["KRW-LINK"], "5m", cross))  # joins while it stands
                fake.close_candle(prices={"KRW-LINK": 200})
                assert await sync(early) == [] and await sync(late) == []
                for _ in range(4):  # the short average falls back below the long one
                    fake.close_candle(prices={"KRW-LINK": 10})
                fake.close_candle(prices={"KRW-LINK": 1000})
                assert [m["code"] for m in await sync(early) + await sync(late)] == ["KRW-LINK", "KRW-LINK"]


async def test_a_signal_at_the_clocks_close_uses_the_markets_last_price(autojump_clock):
    cross = ub.signal(ub.moving_average(5), "price_cross_above")
    async with fake_exchange() as fake:
        price = fake.market.price("KRW-BTC")
        fake.seed_candles("KRW-BTC", "5m", [price / 2] * 10)  # far below the market: the next close crosses
        with trio.fail_after(10_000):
            async with connect_in_memory(fake, info=True) as ws:
                await subscribe(ws, request("indicator_signal", ["KRW-BTC"], "5m", cross))
                [message] = await frames(ws, 1)
                assert trio.current_time() == pytest.approx(240)
        assert message["candle_date_time_utc"] == "2026-09-03T04:50:00"
        assert message["value"] == {"value": float(price / 2 * 4 / 5 + price / 5)}


# -- controls ------------------------------------------------------------------------------------------


async def test_inject_indicator_reaches_exactly_its_subscribers(autojump_clock):
    async with fake_exchange() as fake:
        with trio.fail_after(100):
            async with connect_in_memory(fake, info=True) as mine, connect_in_memory(fake, info=True) as other_tf, \
                    connect_in_memory(fake, info=True) as other_period:
                await subscribe(mine, request("indicator", ["KRW-BTC", "KRW-NOPE"], "5m", ub.rsi(14)))
                await subscribe(other_tf, request("indicator", ["KRW-BTC"], "15m", ub.rsi(14)))
                await subscribe(other_period, request("indicator", ["KRW-BTC"], "5m", ub.rsi(9)))
                value = ub.RsiValue(rsi=Decimal("58.75323648"))
                event = fake.inject_indicator("KRW-BTC", "5m", ub.rsi(14), value)
                assert await recv(mine) == {
                    "type": "indicator", "code": "KRW-BTC", "timeframe": "5m", "indicator": "rsi",
                    "params": {"period": 14}, "candle_date_time_utc": "2026-09-03T04:45:00",
                    "value": {"rsi": 58.75323648}, "timestamp": EPOCH, "stream_type": "REALTIME"}
                fake.inject_indicator("KRW-NOPE", "5m", ub.rsi(14), value, candle_date_time_utc="2026-09-03T04:50:00")
                assert (await recv(mine))["code"] == "KRW-NOPE"
                for ws in (mine, other_tf, other_period):
                    assert await sync(ws) == []
        assert event == ub.Indicator(code="KRW-BTC", timeframe="5m", indicator="rsi", params=ub.rsi(14),
                                     candle_date_time_utc="2026-09-03T04:45:00", value=value, timestamp=EPOCH,
                                     stream_type=ub.StreamType.REALTIME)
        with pytest.raises(TypeError, match="RsiValue"):
            fake.inject_indicator("KRW-BTC", "5m", ub.rsi(14), ub.MovingAverageValue(value=Decimal(1)))
        with pytest.raises(ValueError, match="period"):
            fake.inject_indicator("KRW-BTC", "5m", ub.RsiParams(period=15), value)
        with pytest.raises(ValueError, match="timeframe"):
            fake.inject_indicator("KRW-BTC", "1m", ub.rsi(14), value)


async def test_force_signal_sends_now_whatever_the_state(autojump_clock):
    above = ub.signal(ub.moving_average(20, "EMA"), "price_cross_above")
    oversold = ub.signal(ub.rsi(14), "oversold", threshold=30)
    async with fake_exchange() as fake:
        with trio.fail_after(100):
            async with connect_in_memory(fake, info=True) as ws:
                await subscribe(ws, request("indicator_signal", ["KRW-ETH", "KRW-NOPE"], "5m", above, oversold))
                computed = fake.force_signal("KRW-ETH", "5m", above)
                message = await recv(ws)
                assert message["event_params"] == {} and message["trigger"] == "price_cross_above"
                assert ub.decode(json.dumps(message).encode()) == [computed]
                closes = [float(c.close) for c in fake.candle_closes("KRW-ETH", "5m")]
                assert float(computed.value.value) == pytest.approx(ema_series(closes, 20)[-1], rel=1e-12)
                fake.force_signal("KRW-NOPE", "5m", oversold, ub.RsiValue(rsi=Decimal("29.5")))
                assert (await recv(ws))["value"] == {"rsi": 29.5}
                assert await sync(ws) == []
        with pytest.raises(ValueError, match="value="):
            fake.force_signal("KRW-NOPE", "5m", oversold)
        with pytest.raises(ValueError, match="threshold"):
            fake.force_signal("KRW-ETH", "5m", ub.SignalCondition(ub.rsi(14), "oversold", ub.RsiEventParams(threshold=70)))
        with pytest.raises(ValueError, match="KRW market"):
            fake.seed_candles("BTC-ETH", "5m", [1])
        with pytest.raises(ValueError, match="volumes"):
            fake.seed_candles("KRW-ETH", "5m", [1, 2], [1])


async def test_delisted_markets_stop_streaming(autojump_clock):
    async with fake_exchange() as fake:
        with trio.fail_after(100):
            async with connect_in_memory(fake, info=True) as ws:
                await subscribe(ws, request("indicator", ["KRW-XRP", "KRW-TRX"], "5m", ub.rsi(14)))
                fake.close_candle()
                assert [m["code"] for m in await sync(ws)] == ["KRW-XRP", "KRW-TRX"]
                fake.delist("KRW-XRP")
                fake.close_candle()
                assert [m["code"] for m in await sync(ws)] == ["KRW-TRX"]


# -- formats -------------------------------------------------------------------------------------------


async def test_every_format_decodes_to_the_same_events(autojump_clock):
    values = [ub.macd(8, 17, 9), ub.bollinger_bands(20, "1.5"), ub.moving_average(5), ub.volume(10)]
    signals = [ub.signal(ub.volume(10), "volume_spike", multiplier="2.0"), ub.signal(ub.moving_average(5),
                                                                                     "price_cross_above")]
    async with fake_exchange() as fake:
        fake.seed_candles("KRW-BTC", "5m", [100] * 40, [10] * 40)
        with trio.fail_after(100):
            async with connect_in_memory(fake, info=True) as a, connect_in_memory(fake, info=True) as b, \
                    connect_in_memory(fake, info=True) as c, connect_in_memory(fake, info=True) as d:
                conns = {"DEFAULT": a, "SIMPLE": b, "JSON_LIST": c, "SIMPLE_LIST": d}
                for fmt, ws in conns.items():
                    await subscribe(ws, [*request("indicator", ["KRW-BTC"], "5m", *values),
                                    request("indicator_signal", ["KRW-BTC"], "5m", *signals)[1], {"format": fmt}])
                fake.close_candle(prices={"KRW-BTC": 120}, volumes={"KRW-BTC": 50})
                raw: dict[str, list[Any]] = {}
                for fmt, ws in conns.items():  # list formats carry the six events in fewer frames
                    raw[fmt] = []
                    while sum(len(ub.decode(frame)) for frame in raw[fmt]) < 6:
                        raw[fmt].append(await ws.get_message())
                for ws in conns.values():
                    assert await sync(ws) == []
    decoded = {fmt: [event for frame in frames_ for event in ub.decode(frame)] for fmt, frames_ in raw.items()}
    assert decoded["SIMPLE"] == decoded["JSON_LIST"] == decoded["SIMPLE_LIST"] == decoded["DEFAULT"]
    assert [type(e).__name__ for e in decoded["DEFAULT"]] == ["Indicator"] * 4 + ["IndicatorSignal"] * 2
    assert all(isinstance(json.loads(f), list) for f in raw["JSON_LIST"] + raw["SIMPLE_LIST"])
    simple = [json.loads(f) for f in raw["SIMPLE"]]
    assert simple[0]["p"] == {"f": 8, "s": 17, "sgp": 9} and set(simple[0]["v"]) == {"macd", "macds", "hist"}
    assert simple[1]["p"] == {"p": 20, "m": 1.5} and set(simple[1]["v"]) == {"bbu", "bbm", "bbl"}
    assert simple[2]["p"] == {"t": "SMA", "p": 5} and set(simple[2]["v"]) == {"value"}
    assert set(simple[3]["v"]) == {"vol", "av", "rto"}
    assert simple[4]["tr"] == "volume_spike" and simple[4]["ep"] == {"mul": 2.0}
    assert simple[5]["ep"] == {} and simple[5]["st"] == "REALTIME" and simple[5]["cdttmu"] == "2026-09-03T04:50:00"
    assert b'"mul":2.0' in raw["SIMPLE"][4] and b'"m":1.5' in raw["SIMPLE"][1]
