"""The session over real sockets to the fake exchange on 127.0.0.1, once per transport."""

from __future__ import annotations

import ssl

import pytest
import trio
import trustme

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit

from session_helpers import settings_for


async def test_two_sessions_in_one_process_over_loopback(transport):
    with trio.fail_after(20):
        async with open_fake_upbit(seed=3, rate=100) as fake:
            config = settings_for(fake, connection={"transport": transport})
            async with ub.open_upbit_session(config=config) as one, ub.open_upbit_session(config=config) as two:
                async with one.ticker("KRW-BTC") as a, two.trade("KRW-ETH", mode="realtime") as b:
                    assert isinstance(await a.receive(), ub.Ticker)
                    trade = await b.receive()
                    assert isinstance(trade, ub.Trade) and trade.stream_type is ub.StreamType.REALTIME
            shakes = [r for r in fake.requests if r.kind == "handshake"]
            assert len(shakes) == 2 and all(r.status == 101 for r in shakes)


async def test_private_and_public_over_loopback_with_a_drop(transport):
    with trio.fail_after(20):
        async with open_fake_upbit(seed=3, rate=50) as fake:
            async with ub.open_upbit_session(
                config=settings_for(fake, connection={"transport": transport}, reconnect={"initial_delay": 0.05, "max_delay": 0.2}),
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


async def test_user_errors_leave_the_session_and_the_fake_unwrapped(transport):
    with trio.fail_after(20):
        with pytest.raises(KeyError, match="mine"):
            async with open_fake_upbit(seed=3, rate=0) as fake:
                async with ub.open_upbit_session(config=settings_for(fake, connection={"transport": transport})) as session:
                    async with session.ticker("KRW-BTC") as tickers:
                        await tickers.receive()
                        raise KeyError("mine")


async def test_refused_connection_is_retried_not_raised(autojump_clock, transport):
    settings = ub.Settings().evolve(connection={"public_url": "ws://127.0.0.1:9/websocket/v1", "transport": transport})
    async with ub.open_upbit_session(config=settings) as session:
        async with session.connection_events() as events, session.ticker("KRW-BTC"):
            await trio.sleep(5)
            assert session.stats().connections["public"].state in ("backoff", "connecting")
            assert session.health().status == "down"
            outage = events.receive_nowait()  # the outage is said once, not once per attempt
            assert outage.kind is ub.ConnectionEventKind.DISCONNECTED and "cannot connect" in outage.reason
            with pytest.raises(trio.WouldBlock):
                events.receive_nowait()


async def test_paced_blast_stamps_frames_with_the_send_time(transport):
    import time

    with trio.fail_after(20):
        async with open_fake_upbit(seed=3, blast=True, blast_rate=2000) as fake:
            async with ub.open_upbit_session(config=settings_for(fake, connection={"transport": transport})) as session:
                async with session.ticker(["KRW-BTC", "KRW-ETH"], mode="realtime") as tickers:
                    await tickers.receive()
                    start = trio.current_time()
                    for _ in range(100):
                        event = await tickers.receive()
                        assert abs(time.time() * 1000 - event.timestamp) < 1000
                    assert trio.current_time() - start > 0.01  # paced, not all at once


async def test_session_over_wss_with_a_private_ca(make_connector):
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with trio.fail_after(20):
        async with open_fake_upbit(seed=3, rate=50, ssl_context=server_context) as fake:
            assert fake.private_url.startswith("wss://")
            async with ub.open_upbit_session(
                config=settings_for(fake), access_key=fake.access_key, secret_key=fake.secret_key,
                connector=make_connector(ssl_context=client_context),
            ) as session:
                async with session.ticker("KRW-BTC") as tickers, session.my_asset() as assets:
                    assert isinstance(await tickers.receive(), ub.Ticker)
                    # myAsset comes only on a change after the private subscription is in
                    await fake.wait_for_request(lambda r: r.kind == "message" and r.endpoint == "private")
                    fake.deposit("KRW", 1000)
                    assert isinstance(await assets.receive(), ub.MyAsset)


@pytest.mark.parametrize(("value", "name"), [("websockets", "websockets"), ("trio-websocket", "trio_websocket")])
async def test_the_transport_setting_picks_the_connector(fake, monkeypatch, value, name):
    import upbit_stream._trio.session as session_module

    used: list[str] = []
    for attr in ("websockets_connector", "trio_websocket_connector"):
        real = getattr(session_module, attr)

        def spy(*, _real=real, _attr=attr, **kwargs):
            used.append(_attr.removesuffix("_connector"))
            return _real(**kwargs)

        monkeypatch.setattr(session_module, attr, spy)
    with trio.fail_after(10):
        async with ub.open_upbit_session(config=settings_for(fake, connection={"transport": value})) as session:
            async with session.ticker("KRW-BTC") as tickers:
                fake.tick(1, code="KRW-BTC")
                await tickers.receive()
    assert used == [name]
