"""announcement, indicator and indicator_signal through a whole session on the fake exchange, in virtual time:
the third endpoint, admission with /info's error-then-close, the combination cap, quiet hours, silent markets."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import trio
import trio.testing

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit

RSI = ub.rsi(14)
OVERBOUGHT = ub.signal(RSI, "overbought", threshold=70)


async def wait_until(condition: Any, limit: float = 120) -> None:
    with trio.fail_after(limit):
        while not condition():
            await trio.sleep(0.01)


async def collect(channel: Any, into: list[Any], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    try:
        async for event in channel:
            into.append(event)
    except ub.UpbitStreamError as exc:
        into.append(exc)


def info_connections(fake: Any) -> int:
    return sum(1 for r in fake.requests if r.endpoint == "info" and r.kind == "handshake")


@pytest.mark.trio
async def test_indicator_values_and_signals_arrive_at_each_close_on_one_info_connection(autojump_clock: trio.testing.MockClock) -> None:
    async with open_fake_upbit(seed=1, rate=0) as fake:
        async with ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                         secret_key=fake.secret_key) as session:
            values: list[Any] = []
            async with session.subscribe(ub.indicator("KRW-BTC", "5m", [RSI, ub.macd()]),
                                         ub.indicator_signal("KRW-BTC", "5m", OVERBOUGHT)) as events, \
                    trio.open_nursery() as nursery:
                await nursery.start(collect, events, values)
                await fake.wait_for_request(lambda r: r.endpoint == "info" and r.request is not None)
                price = Decimal(100_000_000)
                fake.seed_candles("KRW-BTC", "5m", [price + (1 if n % 2 else -1) * 50_000 for n in range(40)])
                for _ in range(8):  # a rally: RSI crosses 70 once
                    price = price * Decimal("1.005")
                    fake.close_candle("5m", prices={"KRW-BTC": price.quantize(Decimal(1000))})
                    await trio.sleep(1)
                await wait_until(lambda: sum(isinstance(e, ub.Indicator) for e in values) == 16)
                nursery.cancel_scope.cancel()
            signals = [e for e in values if isinstance(e, ub.IndicatorSignal)]
            assert len(signals) == 1 and signals[0].trigger == "overbought"
            assert isinstance(signals[0].value, ub.RsiValue) and signals[0].value.rsi >= 70
            rsi_values = [e for e in values if isinstance(e, ub.Indicator) and e.params == RSI]
            assert len(rsi_values) == 8 and all(isinstance(e.value, ub.RsiValue) for e in rsi_values)
            assert {type(e.value) for e in values if isinstance(e, ub.Indicator)} == {ub.RsiValue, ub.MacdValue}
            stats = session.stats().connections
            assert (stats["info"].state, stats["public"].state, stats["private"].state) == (
                ub.ConnectionState.CONNECTED, ub.ConnectionState.IDLE, ub.ConnectionState.IDLE)
            assert info_connections(fake) == 1
            assert "indicator" in stats["info"].messages and "indicator_signal" in stats["info"].messages


@pytest.mark.trio
async def test_a_refused_indicator_spec_fails_alone_and_the_error_then_close_never_loops(
        autojump_clock: trio.testing.MockClock) -> None:
    async with open_fake_upbit(seed=1, rate=0) as fake:
        fake.refuse_stream("indicator", "KRW-ETH", message="KRW-ETH refused by the test")  # error frame, then close
        async with ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                         secret_key=fake.secret_key) as session:
            good: list[Any] = []
            bad: list[Any] = []
            async with session.indicator("KRW-BTC", "5m", RSI) as good_events, \
                    session.indicator("KRW-ETH", "5m", RSI) as bad_events, trio.open_nursery() as nursery:
                await nursery.start(collect, good_events, good)
                await nursery.start(collect, bad_events, bad)
                await wait_until(lambda: bad)
                assert isinstance(bad[0], ub.ServerError) and bad[0].name == "INVALID_PARAM"
                await trio.sleep(600)  # ten quiet minutes: no reconnect loop, no giving up
                connections = info_connections(fake)
                # each refusal costs its connection (/info closes): the merged request, KRW-ETH added to the
                # admitted KRW-BTC, KRW-ETH alone; then one that stays
                assert connections == 4, fake.requests
                closes = len(good)  # values of the candles that closed meanwhile (the fake's own arithmetic)
                assert closes >= 1 and all(isinstance(e, ub.Indicator) and e.code == "KRW-BTC" for e in good)
                fake.inject_indicator("KRW-BTC", "5m", RSI, ub.RsiValue(rsi=Decimal("55.5")))
                await wait_until(lambda: len(good) > closes)
                nursery.cancel_scope.cancel()
            assert good[-1].value == ub.RsiValue(rsi=Decimal("55.5"))
            assert info_connections(fake) == connections
            assert session.stats().connections["info"].state is ub.ConnectionState.CONNECTED
            assert session.health().status is ub.HealthStatus.HEALTHY, session.health()


@pytest.mark.trio
async def test_the_combination_cap_is_enforced_before_sending(autojump_clock: trio.testing.MockClock) -> None:
    codes = [f"KRW-C{n:02d}" for n in range(60)]
    async with open_fake_upbit(seed=1, rate=0) as fake:
        async with ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                         secret_key=fake.secret_key) as session:
            async with session.indicator(codes, "5m", RSI):
                with pytest.raises(ValueError, match=r"make 110 \(code, indicator\) combinations .*\(60 held by other"):
                    async with session.indicator(codes[:50], "15m", RSI):
                        pass  # pragma: no cover
                async with session.indicator(codes[:40], "15m", RSI):  # exactly 100: fine
                    await fake.wait_for_request(lambda r: r.endpoint == "info" and r.request is not None)
            sent = [r for r in fake.requests if r.endpoint == "info" and r.kind == "message"]
            assert sent and all(r.error is None for r in sent)


@pytest.mark.trio
async def test_realtime_only_types_refuse_snapshots_at_once() -> None:
    async with open_fake_upbit(seed=1, rate=0) as fake:
        async with ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                         secret_key=fake.secret_key) as session:
            for spec in (ub.announcement(), ub.indicator("KRW-BTC", "5m", RSI),
                         ub.indicator_signal("KRW-BTC", "5m", OVERBOUGHT)):
                with pytest.raises(ValueError, match="no snapshots"):
                    await session.snapshot(spec)  # type: ignore[arg-type]
            assert not fake.requests


@pytest.mark.trio
async def test_quiet_hours_keep_the_info_connection_and_a_silent_market_is_reported(
        autojump_clock: trio.testing.MockClock) -> None:
    async with open_fake_upbit(seed=1, rate=0) as fake:
        async with ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                         secret_key=fake.secret_key) as session:
            async with session.indicator("KRW-NOPE", "5m", RSI):  # Upbit accepts it and never sends anything
                await fake.wait_for_request(lambda r: r.endpoint == "info" and r.request is not None)
                await trio.sleep(9 * 60)
                assert session.health().status is ub.HealthStatus.HEALTHY
                await trio.sleep(3 * 60)  # past two 5-minute periods and a minute
                health = session.health()
                assert health.status is ub.HealthStatus.DEGRADED
                assert any("no indicator data ever came for KRW-NOPE 5m" in reason for reason in health.reasons)
                assert info_connections(fake) == 1  # quiet is normal on /info: never replaced


@pytest.mark.trio
async def test_announcements_share_the_private_connection_by_category_with_the_body_only_where_asked(
        autojump_clock: trio.testing.MockClock) -> None:
    async with open_fake_upbit(seed=1, rate=0) as fake:
        async with ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                         secret_key=fake.secret_key) as session:
            trades: list[Any] = []
            everything: list[Any] = []
            orders: list[Any] = []
            async with session.announcement("trade") as trade_notices, \
                    session.announcement(include_body=True) as all_notices, \
                    session.my_order() as my_orders, trio.open_nursery() as nursery:
                await nursery.start(collect, trade_notices, trades)
                await nursery.start(collect, all_notices, everything)
                await nursery.start(collect, my_orders, orders)
                await wait_until(lambda: any(r.endpoint == "private" and r.request is not None for r in fake.requests))
                await trio.sleep(1)
                listing = fake.publish_announcement("[거래] 신규 거래지원 안내", "trade", body="본문")
                fake.publish_announcement("[점검] 서버 점검 안내", "maintenance", body="점검 본문")
                fake.place_order("KRW-BTC", "bid", "limit", price=Decimal(1000), volume=Decimal(1))
                await wait_until(lambda: len(everything) == 2 and trades and orders)
                nursery.cancel_scope.cancel()
            assert [n.title for n in trades] == ["[거래] 신규 거래지원 안내"] and trades[0].body is None
            assert [n.body for n in everything] == ["본문", "점검 본문"]
            assert trades[0].uuid == listing.uuid and trades[0].category is ub.AnnouncementCategory.TRADE
            private = [r for r in fake.requests if r.endpoint == "private" and r.kind == "handshake"]
            assert len(private) == 1  # one connection for myOrder and both announcement subscribers


@pytest.mark.trio
async def test_info_rate_refusals_and_their_closes_never_make_the_session_give_up(
        autojump_clock: trio.testing.MockClock) -> None:
    async with open_fake_upbit(seed=1, rate=0, requests_per_minute=1) as fake:  # a second request: refused, closed
        async with ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                         secret_key=fake.secret_key) as session:
            got: list[Any] = []
            async with trio.open_nursery() as nursery:
                codes = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA", "KRW-TRX", "KRW-LINK")
                for code in codes:  # each one a new request on a connection that allows one
                    assert await nursery.start(_subscribe_and_collect, session, code, got)
                    await trio.sleep(5)
                await trio.sleep(60)
                refusals = [r for r in fake.requests if r.endpoint == "info" and r.error is not None]
                assert len(refusals) >= 6, refusals  # more than the 5 in a row that give up on a real failure
                assert all(r.error.name == "TOO_MANY_REQUEST" for r in refusals)
                assert not [e for e in got if isinstance(e, Exception)], got  # nobody failed
                fake.inject_indicator("KRW-DOGE", "5m", RSI, ub.RsiValue(rsi=Decimal("42")))
                await wait_until(lambda: any(isinstance(e, ub.Indicator) and e.code == "KRW-DOGE" for e in got))
                assert session.stats().connections["info"].state is ub.ConnectionState.CONNECTED
                nursery.cancel_scope.cancel()


async def _subscribe_and_collect(session: Any, code: str, into: list[Any], *,
                                 task_status: trio.TaskStatus[bool] = trio.TASK_STATUS_IGNORED) -> None:
    async with session.indicator(code, "5m", RSI) as events:
        task_status.started(True)
        await collect(events, into)
