"""The session over real sockets to the fake exchange on 127.0.0.1, with the real transport."""

from __future__ import annotations

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit

from session_helpers import settings_for


async def test_two_sessions_in_one_process_over_loopback():
    with trio.fail_after(20):
        async with open_fake_upbit(seed=3, rate=100) as fake:
            config = settings_for(fake)
            async with ub.open_upbit_session(config=config) as one, ub.open_upbit_session(config=config) as two:
                async with one.ticker("KRW-BTC") as a, two.trade("KRW-ETH", mode="realtime") as b:
                    assert isinstance(await a.receive(), ub.Ticker)
                    trade = await b.receive()
                    assert isinstance(trade, ub.Trade) and trade.stream_type is ub.StreamType.REALTIME
            shakes = [r for r in fake.requests if r.kind == "handshake"]
            assert len(shakes) == 2 and all(r.status == 101 for r in shakes)


async def test_private_and_public_over_loopback_with_a_drop():
    with trio.fail_after(20):
        async with open_fake_upbit(seed=3, rate=50) as fake:
            async with ub.open_upbit_session(
                config=settings_for(fake, reconnect={"initial_delay": 0.05, "max_delay": 0.2}),
                access_key=fake.access_key, secret_key=fake.secret_key,
            ) as session:
                async with session.ticker("KRW-BTC", mode="realtime") as tickers, session.my_order() as orders:
                    await tickers.receive()
                    fake.drop_all()
                    await tickers.receive()  # the same channel after the reconnect
                    await trio.sleep(0.1)
                    uuid = fake.place_order("KRW-BTC", "bid", "limit", price="100000000", volume="0.001")
                    order = await orders.receive()
                    assert order.uuid == uuid
                stats = session.stats().connections
                assert stats["public"].reconnects >= 1


async def test_user_errors_leave_the_session_and_the_fake_unwrapped():
    with trio.fail_after(20):
        with pytest.raises(KeyError, match="mine"):
            async with open_fake_upbit(seed=3, rate=0) as fake:
                async with ub.open_upbit_session(config=settings_for(fake)) as session:
                    async with session.ticker("KRW-BTC") as tickers:
                        await tickers.receive()
                        raise KeyError("mine")


async def test_refused_connection_is_retried_not_raised(autojump_clock):
    settings = ub.Settings().evolve(connection={"public_url": "ws://127.0.0.1:9/websocket/v1"})
    async with ub.open_upbit_session(config=settings) as session:
        async with session.connection_events() as events, session.ticker("KRW-BTC"):
            await trio.sleep(5)
            assert session.stats().connections["public"].state in ("backoff", "connecting")
            assert session.health().status == "down"
            with pytest.raises(trio.WouldBlock):
                events.receive_nowait()  # never connected: no events yet


async def test_paced_blast_stamps_frames_with_the_send_time():
    import time

    with trio.fail_after(20):
        async with open_fake_upbit(seed=3, blast=True, blast_rate=2000) as fake:
            async with ub.open_upbit_session(config=settings_for(fake)) as session:
                async with session.ticker(["KRW-BTC", "KRW-ETH"], mode="realtime") as tickers:
                    await tickers.receive()
                    start = trio.current_time()
                    for _ in range(100):
                        event = await tickers.receive()
                        assert abs(time.time() * 1000 - event.timestamp) < 1000
                    assert trio.current_time() - start > 0.01  # paced, not all at once
