"""R4–R6: half-open links are replaced in time, idle private streams are kept, control frames stay out."""

from __future__ import annotations

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit, open_fake_upbit

from session_helpers import memory_connector, settings_for

K = ub.ConnectionEventKind
INTERVAL, TIMEOUT = 30.0, 10.0  # the heartbeat defaults


def session(fake: FakeUpbit, **sections):
    return ub.open_upbit_session(config=settings_for(fake, **sections), access_key=fake.access_key,
                                 secret_key=fake.secret_key, connector=memory_connector(fake))


async def ticking(fake: FakeUpbit, code: str, every: float = 1.0) -> None:
    while True:
        await trio.sleep(every)
        fake.tick(1, code=code)


# -- R4: blackhole / half-open ------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 7.3, 29.9])
async def test_a_blackholed_public_link_is_replaced_within_interval_plus_timeout(fake, autojump_clock, offset):
    assert ub.Settings().heartbeat.interval == INTERVAL and ub.Settings().heartbeat.timeout == TIMEOUT
    with trio.fail_after(600):
        async with session(fake) as s, s.connection_events() as events, s.ticker("KRW-BTC") as tickers:
            assert (await events.receive()).kind is K.CONNECTED
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ticking, fake, "KRW-BTC")
                healthy_until = trio.current_time() + 60 + offset
                while trio.current_time() < healthy_until:  # 60 s of healthy data first
                    await tickers.receive()
                fake.stall()  # both ways silent, sockets kept open
                stalled_at = trio.current_time()
                lost = await events.receive()
                detected = trio.current_time() - stalled_at
                assert lost.kind is K.DISCONNECTED and "pong" in lost.reason
                assert detected <= INTERVAL + TIMEOUT + 0.5
                assert (await events.receive()).kind is K.RECONNECTED
                assert trio.current_time() - stalled_at <= INTERVAL + TIMEOUT + 0.5 + 0.5  # first backoff
                while (await tickers.receive()).stream_type is not ub.StreamType.SNAPSHOT:
                    pass  # realtime events queued before the stall, then the fresh snapshot
                assert (await tickers.receive()).stream_type is ub.StreamType.REALTIME  # data flows again
                nursery.cancel_scope.cancel()


async def test_a_blackholed_private_link_is_replaced_and_public_is_untouched(fake, autojump_clock):
    with trio.fail_after(600):
        async with session(fake) as s, s.connection_events() as events:
            async with s.ticker("KRW-BTC") as tickers, s.my_order() as orders:
                await tickers.receive()
                assert {(await events.receive()).endpoint for _ in range(2)} == {"public", "private"}
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(ticking, fake, "KRW-BTC")
                    await trio.sleep(45)
                    fake.stall(endpoint="private")
                    stalled_at = trio.current_time()
                    public_events = 0
                    while True:
                        with trio.move_on_after(0.5):
                            await tickers.receive()
                            public_events += 1
                        try:
                            lost = events.receive_nowait()
                            break
                        except trio.WouldBlock:
                            pass
                    assert (lost.endpoint, lost.kind) == ("private", K.DISCONNECTED)
                    assert trio.current_time() - stalled_at <= INTERVAL + TIMEOUT + 0.5 + 0.5
                    assert public_events >= 30  # one a second all along
                    assert (await events.receive()).kind is K.RECONNECTED
                    await trio.sleep(1)
                    uuid = fake.place_order("KRW-BTC", "bid", "limit", price="1000", volume="1")
                    assert (await orders.receive()).uuid == uuid
                    nursery.cancel_scope.cancel()
                assert s.stats().connections["public"].reconnects == 0


@pytest.mark.parametrize(("timeout", "dead"), [(TIMEOUT, False), (3.0, True)])
async def test_late_pongs_are_a_dead_link_only_past_the_deadline(fake, autojump_clock, timeout, dead):
    with trio.fail_after(600):
        async with session(fake, heartbeat={"timeout": timeout}) as s, s.ticker("KRW-BTC") as tickers:
            await tickers.receive()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ticking, fake, "KRW-BTC")
                for _ in range(12):  # a congested link, stalled 8 s in every 8.5: pongs come seconds late
                    fake.stall(8.0)
                    await trio.sleep(8.5)
                nursery.cancel_scope.cancel()
            assert (s.stats().connections["public"].reconnects > 0) is dead


# -- R5: idle private streams -------------------------------------------------------------------


async def test_an_idle_private_stream_lives_an_hour_on_pings(autojump_clock):
    async with open_fake_upbit(seed=3, rate=0, idle_timeout=120.0) as fake:
        with trio.fail_after(4000):
            async with session(fake) as s, s.connection_events() as events, s.my_order() as orders:
                assert (await events.receive()).kind is K.CONNECTED
                await fake.wait_for_request(lambda r: r.kind == "message")
                [conn] = fake.connections
                activity = [conn.last_activity]
                start = trio.current_time()
                while trio.current_time() - start < 3600:
                    await trio.sleep(1)
                    if conn.last_activity != activity[-1]:
                        activity.append(conn.last_activity)
                with pytest.raises(trio.WouldBlock):
                    events.receive_nowait()  # no DISCONNECTED, no RECONNECTED
                with pytest.raises(trio.WouldBlock):
                    orders.receive_nowait()
                assert fake.connections == [conn] and fake.counters.idle_closes == 0
                assert s.stats().connections["private"].reconnects == 0
                beats = [b - a for a, b in zip(activity, activity[1:])]
                assert len(beats) >= 3600 / INTERVAL - 2
                assert all(INTERVAL - 1 <= beat <= INTERVAL + 1 for beat in beats)  # a ping every 30 s


def _lists(fake: FakeUpbit, endpoint: str) -> list:
    return [r for r in fake.requests if r.kind == "message" and r.endpoint == endpoint and r.request is not None
            and r.request.method == "LIST_SUBSCRIPTIONS"]


async def test_a_quiet_market_proves_it_is_alive_and_is_never_replaced(autojump_clock):
    stale_after = ub.Settings().heartbeat.stale_after
    async with open_fake_upbit(seed=3, rate=0, idle_timeout=120.0) as fake:
        with trio.fail_after(4000):
            async with session(fake) as s, s.connection_events() as events:
                async with s.ticker("KRW-BTC") as tickers, s.my_asset():
                    await tickers.receive()  # then the market goes quiet for an hour; pings are answered
                    assert {(await events.receive()).kind for _ in range(2)} == {K.CONNECTED}
                    await trio.sleep(3600)
                    with pytest.raises(trio.WouldBlock):
                        events.receive_nowait()  # no DISCONNECTED, no RECONNECTED
                    stats = s.stats().connections
                    assert stats["public"].reconnects == 0 and stats["private"].reconnects == 0
                    proofs = _lists(fake, "public")  # one LIST_SUBSCRIPTIONS per stale_after of silence
                    assert 3600 / stale_after - 2 <= len(proofs) <= 3600 / stale_after + 1
                    assert _lists(fake, "private") == []  # private streams are quiet by design
                    assert s.health().status == "healthy", s.health().reasons


async def test_a_quiet_connection_whose_subscription_is_gone_is_replaced(fake, autojump_clock):
    stale_after = ub.Settings().heartbeat.stale_after
    with trio.fail_after(600):
        async with session(fake) as s, s.connection_events() as events, s.ticker("KRW-BTC") as tickers:
            await tickers.receive()
            assert (await events.receive()).kind is K.CONNECTED
            [conn] = fake.connections
            conn.subscribe(())  # the server forgets what this connection asked for, and says nothing
            lost = await events.receive()
            assert (lost.endpoint, lost.kind) == ("public", K.DISCONNECTED)
            assert "no longer streaming ticker KRW-BTC" in lost.reason
            assert stale_after <= trio.current_time() <= stale_after + 1
            assert (await events.receive()).kind is K.RECONNECTED
            assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT


# -- R6: status and ping frames -----------------------------------------------------------------


async def test_status_and_ping_frames_never_reach_consumers(fake, autojump_clock):
    with trio.fail_after(600):
        async with session(fake) as s, s.trade("KRW-BTC", mode="realtime", buffer=1024) as trades:
            await fake.wait_for_request(lambda r: r.kind == "message")
            [conn] = fake.connections
            pong_waits = []

            async def ping(payload: bytes) -> None:
                sent = trio.current_time()
                await conn.ws.ping(payload)
                pong_waits.append(trio.current_time() - sent)

            made = []
            async with trio.open_nursery() as nursery:
                for i in range(300):
                    made += fake.tick(1, code="KRW-BTC")
                    if i % 3 == 0:
                        fake.send_raw(b'{"status":"UP"}')
                    if i % 4 == 0:
                        fake.send_raw('{"status":"UP"}')  # also as a text frame
                    if i % 5 == 0:
                        nursery.start_soon(ping, i.to_bytes(4, "big"))
                    await trio.sleep(0.1)
            got = [await trades.receive() for _ in made]
            assert [t.sequential_id for t in got] == [t.sequential_id for t in made]
            assert all(isinstance(t, ub.Trade) for t in got)
            with trio.move_on_after(5):
                extra = await trades.receive()
                pytest.fail(f"a control frame reached the consumer: {extra!r}")
            assert len(pong_waits) == 60 and max(pong_waits) < 1.0
            assert s.stats().connections["public"].messages == {"trade": 300}
