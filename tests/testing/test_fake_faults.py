"""Fault injection: drops, stalls, garbage, refused handshakes, delays; and isolation of connections."""

from __future__ import annotations

import pytest
import trio
import trio_websocket

from upbit_stream.testing import open_fake_upbit

from ._helpers import connect, no_frame, recv, send, sync

SUB = [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True}]


async def test_drop_all_closes_abruptly_and_server_keeps_serving(fake):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, SUB)
            await sync(ws)
            assert fake.drop_all() == 1
            with pytest.raises(trio_websocket.ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason.code == 1006  # no close frame: abnormal closure
        async with connect(fake) as ws:
            await send(ws, "PING")
            assert await recv(ws) == {"status": "UP"}
    assert fake.counters.drops == 1 and fake.counters.dropped_connections == 1


async def test_stall_is_a_half_open_peer(fake):
    with trio.fail_after(10):
        async with connect(fake) as stalled, connect(fake) as healthy:
            for ws in (stalled, healthy):
                await send(ws, SUB)
                await sync(ws)
            fake.stall(endpoint=None)
            async with connect(fake) as fresh:  # new connections are not stalled
                await send(fresh, SUB)
                await sync(fresh)
                fake.tick(code="KRW-BTC")
                assert (await recv(fresh))["type"] == "trade"
            with trio.move_on_after(0.3) as scope:
                await stalled.ping(b"x")  # no pong while stalled
            assert scope.cancelled_caught
            await no_frame(stalled)
            fake.resume()
            assert (await recv(stalled))["type"] == "trade"  # the held frame comes through
            await sync(stalled)


async def test_stall_with_duration(autojump_clock):
    async with open_fake_upbit(rate=0) as fake:
        with trio.fail_after(100):
            async with connect(fake) as ws:
                fake.stall(5)
                start = trio.current_time()
                await send(ws, "PING")
                assert await recv(ws, timeout=50) == {"status": "UP"}
                assert trio.current_time() - start >= 5


async def test_send_raw_and_send_frame(fake):
    with trio.fail_after(10):
        async with connect(fake) as ws, connect(fake, private=True) as priv:
            await sync(ws)
            await sync(priv)
            assert fake.send_raw(b"\xff\x00garbage") == 2
            assert await ws.get_message() == b"\xff\x00garbage"
            fake.send_raw("text garbage", endpoint="public")
            assert await ws.get_message() == "text garbage"
            fake.send_frame({"error": {"name": "WRONG_FORMAT", "message": "x"}}, endpoint="private")
            assert await priv.get_message() == b"\xff\x00garbage"
            assert (await recv(priv))["error"]["name"] == "WRONG_FORMAT"
            fake.send_frame(fake.market.ticker("KRW-BTC", 0), endpoint="public")
            assert (await recv(ws))["type"] == "ticker"
    assert fake.counters.raw_frames == 3 and fake.counters.injected_frames == 2


@pytest.mark.parametrize("status", [429, 418, 503])
async def test_refuse_handshakes(fake, status):
    fake.refuse_handshakes(2, status)
    with trio.fail_after(10):
        for _ in range(2):
            with pytest.raises(trio_websocket.ConnectionRejected) as info:
                async with connect(fake):
                    pass
            assert info.value.status_code == status
        async with connect(fake) as ws:
            await sync(ws)
    assert [r.status for r in fake.requests if r.kind == "handshake"] == [status, status, 101]
    assert fake.counters.refused_handshakes == 2


async def test_delay_holds_data_frames(autojump_clock):
    async with open_fake_upbit(rate=0) as fake:
        with trio.fail_after(100):
            async with connect(fake) as ws:
                await send(ws, SUB)
                await sync(ws)
                fake.delay(2.0)
                fake.tick(code="KRW-BTC")
                start = trio.current_time()
                assert (await recv(ws))["type"] == "trade"
                assert trio.current_time() - start >= 2.0
                fake.delay(0)


async def test_slow_reader_is_bounded_and_does_not_block_others():
    async with open_fake_upbit(rate=0, send_queue_size=16) as fake:
        with trio.fail_after(20):
            async with connect(fake) as slow, connect(fake) as fast:
                for ws in (slow, fast):
                    await send(ws, [{"ticket": "t"}, {"type": "orderbook", "codes": ["KRW-BTC"], "is_only_realtime": True}])
                    await sync(ws)
                fake.stall(endpoint=None)  # cheap way to make a reader that takes nothing...
                fake._resume([c for c in fake.connections if c.id == max(x.id for x in fake.connections)])
                got = 0

                async def consume():
                    nonlocal got
                    while got < 200:
                        await recv(fast)
                        got += 1

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(consume)
                    for _ in range(200):
                        fake.tick(code="KRW-BTC")
                        await trio.sleep(0.001)
                stalled = [c for c in fake.connections if c.stalled][0]
                assert len(stalled.queue.items) <= 16 and stalled.dropped >= 150
                assert got >= 150
                fake.resume()
