"""The session's promised recovery times, over both real transports on loopback (where the bugs lived)."""

from __future__ import annotations

import functools
from decimal import Decimal

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._chaos import close_connection

K = ub.ConnectionEventKind
INTERVAL, TIMEOUT, FIRST_BACKOFF = 1.0, 1.0, 0.5
#: Scheduling and loopback slack on a shared 2-core machine.
SLACK = 0.75


def settings_for(url: str, max_delay: float = 30.0, **connection) -> ub.Settings:
    return ub.Settings().evolve(
        connection={"public_url": url, **connection},
        heartbeat={"interval": INTERVAL, "timeout": TIMEOUT},
        reconnect={"initial_delay": FIRST_BACKOFF, "max_delay": max_delay},
    )


async def test_a_stalled_peer_is_replaced_within_interval_plus_timeout_plus_first_backoff(make_connector):
    async with open_fake_upbit(seed=7, rate=0, idle_timeout=None) as fake:
        with trio.fail_after(30):
            async with ub.open_upbit_session(config=settings_for(fake.public_url), connector=make_connector()) as s, \
                    s.connection_events() as events, s.ticker("KRW-BTC") as tickers:
                await tickers.receive()
                assert (await events.receive()).kind is K.CONNECTED
                fake.stall(endpoint="public")  # stops reading and writing; the socket stays open
                stalled_at = trio.current_time()
                lost = await events.receive()
                assert lost.kind is K.DISCONNECTED and "pong" in lost.reason
                assert (await events.receive()).kind is K.RECONNECTED
                took = trio.current_time() - stalled_at
                assert took <= INTERVAL + TIMEOUT + FIRST_BACKOFF + SLACK, took
                assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT


async def test_close_code_1014_is_retried(make_connector):
    async with open_fake_upbit(seed=7, rate=0, idle_timeout=None) as fake:
        with trio.fail_after(30):
            settings = settings_for(fake.public_url, max_delay=1.0)
            async with ub.open_upbit_session(config=settings, connector=make_connector()) as s, \
                    s.connection_events() as events, s.ticker("KRW-BTC") as tickers:
                await tickers.receive()
                for _ in range(6):  # more than the repeat limit of "fatal if repeated" closes
                    [conn] = fake.connections
                    await close_connection(fake, conn.id, 1014, "bad gateway")
                    kinds = [(await events.receive()).kind for _ in range(2)]
                    assert K.DISCONNECTED in kinds and K.GAVE_UP not in kinds
                    assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT
                    while not fake.connections:
                        await trio.sleep(0.01)


async def test_a_dropped_handshake_is_retried_at_the_backoff_not_after_the_connect_timeout(make_connector):
    accepted: list[float] = []

    async def drop(stream: trio.SocketStream) -> None:
        accepted.append(trio.current_time())
        await stream.receive_some()  # the HTTP upgrade request, then hang up without an answer
        await stream.aclose()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(functools.partial(trio.serve_tcp, drop, 0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]
            settings = settings_for(f"ws://127.0.0.1:{port}/websocket/v1", connect_timeout=10.0)
            async with ub.open_upbit_session(config=settings, connector=make_connector(connect_timeout=10.0)) as s:
                async with s.ticker("KRW-BTC"):
                    while len(accepted) < 3:
                        await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    gaps = [b - a for a, b in zip(accepted, accepted[1:])]
    assert max(gaps) < 10.0 / 2, gaps  # the backoff (0.5 s, then 1 s), never the 10 s connect timeout


@pytest.mark.parametrize("code", [1000, 1001, 1011, 1012, 1013])
async def test_retried_close_codes_over_real_sockets(make_connector, code):
    async with open_fake_upbit(seed=7, rate=0, idle_timeout=None) as fake:
        with trio.fail_after(30):
            async with ub.open_upbit_session(config=settings_for(fake.public_url), connector=make_connector()) as s, \
                    s.connection_events() as events, s.ticker("KRW-BTC") as tickers:
                await tickers.receive()
                [conn] = fake.connections
                await close_connection(fake, conn.id, code, "bye")
                assert [(await events.receive()).kind for _ in range(3)] == [K.CONNECTED, K.DISCONNECTED,
                                                                               K.RECONNECTED]
                assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT


# -- against the hostile server: what no well-behaved server would do --------------------------


async def _serve_then_wait(peer) -> None:
    await peer.accept()
    await peer.receive_frame()  # the subscription request
    await trio.sleep_forever()


@pytest.mark.parametrize("hostility", ["close frame, TCP kept open", "4097 fragments"])
async def test_a_hostile_first_connection_is_replaced_at_the_first_backoff(make_connector, hostility):
    from hostile import open_hostile_server

    async def script(peer) -> None:
        if peer.index > 0:
            await _serve_then_wait(peer)
            return
        await peer.accept()
        await peer.receive_frame()
        if hostility == "4097 fragments":
            await peer.send_fragments(4097)
            await peer.drain(5)  # records the client's close frame; never closes TCP first
        else:
            await peer.send_close(1001, "going away")
        await trio.sleep_forever()  # never closes TCP

    with trio.fail_after(20):
        async with open_hostile_server(script) as server:
            settings = settings_for(server.url)
            async with ub.open_upbit_session(config=settings, connector=make_connector()) as s, \
                    s.connection_events() as events, s.ticker("KRW-BTC"):
                first = await server.next_peer()
                assert (await events.receive()).kind is K.CONNECTED
                lost = await events.receive()
                lost_at = trio.current_time()
                assert lost.kind is K.DISCONNECTED
                assert ("1009" in lost.reason) if hostility == "4097 fragments" else ("1001" in lost.reason)
                await server.next_peer()
                assert (await events.receive()).kind is K.RECONNECTED
                assert trio.current_time() - lost_at <= FIRST_BACKOFF + SLACK
            if hostility == "4097 fragments":
                assert first.close_code == 1009  # the client told the server why


async def test_info_refusals_close_the_connection_and_only_the_refused_spec_fails(make_connector):
    """/info sends an error frame, then closes (1008): over a real socket the close must not fail the rest."""
    async with open_fake_upbit(seed=7, rate=0, idle_timeout=None) as fake:
        fake.refuse_stream("indicator", "KRW-ETH", message="refused by the test")
        settings = ub.Settings().evolve(connection={"public_url": fake.public_url, "private_url": fake.private_url},
                                        reconnect={"initial_delay": 0.1, "max_delay": 0.5})
        with trio.fail_after(30):
            async with ub.open_upbit_session(config=settings, connector=make_connector(),
                                             access_key=fake.access_key, secret_key=fake.secret_key) as s, \
                    s.indicator("KRW-BTC", "5m", ub.rsi(14)) as good:
                with pytest.raises(ub.ServerError, match="refused by the test"):
                    async with s.indicator("KRW-ETH", "5m", ub.rsi(14)) as bad:
                        await bad.receive()
                refusals = [r for r in fake.requests if r.endpoint == "info" and r.kind == "close"
                            and r.detail == "refusal"]
                assert refusals  # the server did close after its error frames
                while not any(r.endpoint == "info" and r.request is not None
                              and [p.codes for p in r.request.types] == [("KRW-BTC",)] for r in fake.requests[-3:]):
                    await trio.sleep(0.05)
                await trio.sleep(1.0)
                fake.inject_indicator("KRW-BTC", "5m", ub.rsi(14), ub.RsiValue(rsi=Decimal("61.25")))
                event = await good.receive()
                while event.value != ub.RsiValue(rsi=Decimal("61.25")):  # a close of the fake's own may come first
                    event = await good.receive()
                assert s.stats().connections["info"].state is ub.ConnectionState.CONNECTED
                assert s.health().status is ub.HealthStatus.HEALTHY
