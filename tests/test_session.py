"""The session end to end against the fake exchange, in virtual time over in-memory streams."""

from __future__ import annotations


import json

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit, open_fake_upbit

from event_helpers import sample_wire
from session_helpers import memory_connector, settings_for


def session(fake: FakeUpbit, keys: bool = True, **sections):
    return ub.open_upbit_session(
        config=settings_for(fake, **sections),
        access_key=fake.access_key if keys else None,
        secret_key=fake.secret_key if keys else None,
        connector=memory_connector(fake),
    )


def messages(fake: FakeUpbit, endpoint: str = "public"):
    return [r for r in fake.requests if r.kind == "message" and r.endpoint == endpoint]


def handshakes(fake: FakeUpbit):
    return [r for r in fake.requests if r.kind == "handshake"]


async def test_three_subscribers_within_a_few_ms_make_exactly_one_request(fake, autojump_clock):
    with trio.fail_after(30):
        async with session(fake) as s:
            async with s.ticker("KRW-BTC") as a:
                await trio.sleep(0.002)
                async with s.trade(["KRW-ETH"]) as b:
                    await trio.sleep(0.003)
                    async with s.orderbook("KRW-BTC", depth=5) as c:
                        for chan in (a, b, c):
                            first = await chan.receive()
                            assert first.stream_type is ub.StreamType.SNAPSHOT
                        [request] = messages(fake)
                        types = [(t.type, t.requested) for t in request.request.types]
                        assert types == [("ticker", ("KRW-BTC",)), ("trade", ("KRW-ETH",)), ("orderbook", ("KRW-BTC.5",))]


async def test_thirty_changes_in_a_second_respect_the_limits_and_end_right(fake, autojump_clock):
    codes = [m for m in sorted(fake.codes()) if m.startswith("KRW-")][:30]
    with trio.fail_after(120):
        async with session(fake, subscription={"debounce": 0}) as s:
            async with s.ticker("KRW-BTC", mode="realtime"):
                async with trio.open_nursery() as nursery:
                    for code in codes:
                        async def hold(code=code):
                            async with s.trade(code, mode="realtime"):
                                await trio.sleep(100)
                        nursery.start_soon(hold)
                        await trio.sleep(1 / 30)
                    await trio.sleep(5)
                    sent = messages(fake)
                    assert all(r.error is None for r in sent)
                    times = [r.time for r in sent]
                    for i, t in enumerate(times):
                        assert sum(1 for u in times[i:] if u - t < 1.0) <= 5
                    final = sent[-1].request.types
                    assert {c for t in final if t.type == "trade" for c in t.codes} == set(codes)
                    nursery.cancel_scope.cancel()


async def test_drop_then_reconnect_keeps_channels_and_resends_demand_once(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s:
            async with s.connection_events() as events, s.ticker(["KRW-BTC"], gaps=True) as tickers:
                assert (await events.receive()).kind is ub.ConnectionEventKind.CONNECTED
                assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT
                fake.tick(1, code="KRW-BTC")
                assert (await tickers.receive()).stream_type is ub.StreamType.REALTIME
                before = len(messages(fake))
                fake.drop_all()
                assert (await events.receive()).kind is ub.ConnectionEventKind.DISCONNECTED
                reconnected = await events.receive()
                assert reconnected.kind is ub.ConnectionEventKind.RECONNECTED
                gap = await tickers.receive()
                assert isinstance(gap, ub.StreamGap)
                snapshot = await tickers.receive()
                assert snapshot.stream_type is ub.StreamType.SNAPSHOT  # state consumers resync
                fake.tick(1, code="KRW-BTC")
                assert (await tickers.receive()).stream_type is ub.StreamType.REALTIME
                assert len(messages(fake)) == before + 1
                assert s.stats().connections["public"].reconnects == 1


async def test_stall_is_detected_and_replaced_within_interval_plus_deadline(fake, autojump_clock):
    with trio.fail_after(300):
        async with session(fake, heartbeat={"interval": 30, "timeout": 10, "stale_after": 0}) as s:
            async with s.connection_events() as events, s.ticker("KRW-BTC") as tickers:
                await events.receive()
                await tickers.receive()
                start = trio.current_time()
                fake.stall()
                assert (await events.receive()).kind is ub.ConnectionEventKind.DISCONNECTED
                assert trio.current_time() - start <= 30 + 10 + 0.1
                assert (await events.receive()).kind is ub.ConnectionEventKind.RECONNECTED
                assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT


async def test_an_outage_before_the_first_connection_is_reported_once(fake, autojump_clock):
    fake.refuse_handshakes(4, 503)
    with trio.fail_after(300):
        async with session(fake) as s:
            async with s.connection_events() as events, s.ticker("KRW-BTC") as tickers:
                down = await events.receive()
                assert down.kind is ub.ConnectionEventKind.DISCONNECTED and "cannot connect" in down.reason
                assert "503" in down.reason
                assert (await events.receive()).kind is ub.ConnectionEventKind.CONNECTED  # not one event per attempt
                assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT
                assert len(handshakes(fake)) == 5


async def test_429_storm_cools_down_without_a_hot_loop(fake, autojump_clock):
    fake.refuse_handshakes(20, 429)
    with trio.fail_after(3600):
        async with session(fake, reconnect={"throttled_cooldown": 60}) as s:
            async with s.ticker("KRW-BTC") as tickers:
                start = trio.current_time()
                assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT
                attempts = [r.time for r in handshakes(fake)]
                assert len(attempts) == 21
                gaps = [b - a for a, b in zip(attempts, attempts[1:])]
                assert min(gaps) >= 60  # every 429 means a cooldown, never a quick retry
                assert trio.current_time() - start >= 20 * 60


async def test_snapshot_routing_per_mode(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s:
            async with s.ticker("KRW-BTC", mode="realtime") as live, s.ticker("KRW-BTC") as both:
                assert (await both.receive()).stream_type is ub.StreamType.SNAPSHOT
                fake.tick(1, code="KRW-BTC")
                assert (await live.receive()).stream_type is ub.StreamType.REALTIME
                assert (await both.receive()).stream_type is ub.StreamType.REALTIME
                async with s.ticker(["KRW-BTC", "KRW-ETH"], mode="snapshot") as once:
                    got = [event async for event in once]  # ends by itself
                assert sorted(e.code for e in got) == ["KRW-BTC", "KRW-ETH"]
                assert all(e.stream_type is ub.StreamType.SNAPSHOT for e in got)
                fake.tick(1, code="KRW-BTC")
                assert (await live.receive()).stream_type is ub.StreamType.REALTIME
                assert (await both.receive()).stream_type is ub.StreamType.REALTIME
                with trio.move_on_after(1):
                    extra = await both.receive()
                    pytest.fail(f"unexpected {extra}")
                snap = await s.snapshot(ub.ticker(["KRW-XRP"]))
                assert snap["KRW-XRP"].code == "KRW-XRP"


async def test_snapshot_timeout_names_the_missing_codes_and_keeps_the_found_ones(tmp_path, autojump_clock):
    recording = tmp_path / "btc-only.jsonl"
    ticker = sample_wire(ub.Ticker, code="KRW-BTC", trade_price=1000)
    recording.write_text(json.dumps({"t": 1.0, "endpoint": "public", "frame": json.dumps(ticker)}) + "\n")
    with trio.fail_after(60):
        async with open_fake_upbit(rate=0, replay=str(recording), pace="fast") as fake, session(fake) as s:
            async with s.ticker("KRW-BTC", mode="realtime") as live:
                assert (await live.receive()).trade_price == 1000  # the recording has been played
                with pytest.raises(ub.SnapshotTimeout, match="KRW-ETH") as caught:
                    await s.snapshot(ub.ticker(["KRW-BTC", "KRW-ETH"]), timeout=2.0)
    assert caught.value.missing == ("KRW-ETH",) and caught.value.timeout == 2.0
    assert list(caught.value.found) == ["KRW-BTC"] and caught.value.found["KRW-BTC"].trade_price == 1000


async def test_strict_overflow_raises_from_the_subscription(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s:
            with pytest.raises(ub.SlowConsumerError, match="buffer of 2"):
                async with s.trade("KRW-BTC", buffer=2) as trades:
                    await trades.receive()
                    fake.tick(10, code="KRW-BTC")
                    await trio.sleep(5)  # never reading: the subscription fails
            assert s.health().status in ("healthy", "degraded")


async def test_latest_overflow_conflates_to_the_newest(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s:
            async with s.ticker("KRW-BTC", buffer=2) as tickers:
                await tickers.receive()
                fake.tick(20, code="KRW-BTC")
                await trio.sleep(1)
                received = []
                while True:
                    with trio.move_on_after(0.5):
                        received.append(await tickers.receive())
                        continue
                    break
                newest = fake.market.ticker("KRW-BTC", fake.now_ms())
                assert received[-1].trade_price == newest.trade_price
                assert received[-1].acc_trade_volume == newest.acc_trade_volume
                assert len(received) <= 2 + 2  # the buffer, then at most one held back and the newest
                stats = s.stats().subscriptions[0]
                assert stats.conflated > 0 and stats.delivered == 1 + len(received)


async def test_private_streams_with_a_real_jwt(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s:
            async with s.my_order() as orders, s.my_asset() as assets:
                await trio.sleep(1)
                uuid = fake.place_order("KRW-BTC", "bid", "limit", price="100000000", volume="0.001")
                order = await orders.receive()
                assert order.uuid == uuid and order.state is ub.OrderState.WAIT
                asset = await assets.receive()
                assert isinstance(asset, ub.MyAsset)
        [shake] = [r for r in handshakes(fake) if r.endpoint == "private"]
        assert shake.status == 101


async def test_invalid_auth_fails_private_subscribers_but_public_goes_on(fake, autojump_clock):
    with trio.fail_after(60):
        async with ub.open_upbit_session(
            config=settings_for(fake), access_key="wrong-access", secret_key="wrong-secret",
            connector=memory_connector(fake),
        ) as s:
            async with s.ticker("KRW-BTC") as tickers:
                with pytest.raises(ub.AuthenticationError, match="INVALID_AUTH"):
                    async with s.my_order() as orders:
                        await orders.receive()
                assert (await tickers.receive()).code == "KRW-BTC"
        private = [r for r in handshakes(fake) if r.endpoint == "private"]
        assert len(private) == 1  # no retry loop


async def test_private_without_keys_fails_at_once_with_how_to(fake, monkeypatch):
    monkeypatch.delenv("UPBIT_ACCESS_KEY", raising=False)
    monkeypatch.delenv("UPBIT_SECRET_KEY", raising=False)
    async with session(fake, keys=False) as s:
        with pytest.raises(ub.AuthenticationError, match="UPBIT_ACCESS_KEY"):
            async with s.my_asset():
                pass


async def test_bad_specs_give_clear_errors(fake):
    async with session(fake) as s:
        with pytest.raises(ValueError, match="at least one spec"):
            async with s.subscribe():
                pass
        with pytest.raises(TypeError, match="expected specs"):
            async with s.subscribe("KRW-BTC"):
                pass
        with pytest.raises(ValueError, match="upper-case"):
            async with s.ticker("krw-btc"):
                pass
        with pytest.raises(ValueError, match="buffer"):
            async with s.ticker("KRW-BTC", buffer=0):
                pass


async def test_cancelling_the_session_from_outside_closes_everything(fake, autojump_clock):
    ended = []
    with trio.move_on_after(5):
        async with session(fake) as s:
            async with s.ticker("KRW-BTC") as tickers:
                async for _ in tickers:
                    pass
                ended.append(True)
    await trio.sleep(1)
    assert not fake.connections or all(c.closed for c in fake.connections)


async def test_leaving_the_session_ends_channels(fake, autojump_clock):
    async with session(fake) as s:
        async with trio.open_nursery() as nursery:
            done = trio.Event()

            async def consume():
                async with s.ticker("KRW-BTC") as tickers:
                    async for _ in tickers:
                        pass
                done.set()

            nursery.start_soon(consume)
            await trio.sleep(1)
            await s._aclose()
            await done.wait()


async def test_list_subscriptions_reports_what_the_server_streams(fake, autojump_clock):
    with trio.fail_after(30):
        async with session(fake) as s:
            async with s.ticker(["KRW-ETH", "KRW-BTC"]) as tickers, s.orderbook("KRW-BTC", depth=15):
                await tickers.receive()
                listed = await s.list_subscriptions()
                assert {(x.type, x.codes) for x in listed.streams} == {
                    ("ticker", ("KRW-BTC", "KRW-ETH")), ("orderbook", ("KRW-BTC.15",))
                }


async def test_subscription_churn_leaves_no_tasks_behind(fake, autojump_clock):
    with trio.fail_after(120):
        async with session(fake) as s:
            async with s.ticker("KRW-BTC") as keep:
                await keep.receive()
                baseline = len(s._nursery.child_tasks)
                for _ in range(100):
                    async with s.ticker("KRW-ETH", mode="realtime"):
                        await trio.sleep(0.01)
                await trio.sleep(1)
                assert len(s._nursery.child_tasks) <= baseline + 1
