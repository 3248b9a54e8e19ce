"""Protocol fidelity of the fake exchange: requests, errors, snapshots, formats, keep-alive."""

from __future__ import annotations

import pytest
import trio
import trio_websocket

from upbit_stream._core import codec as _codec, encode as _encode
from upbit_stream.testing import open_fake_upbit

from ._helpers import connect, no_frame, recv, send, sync

T = {"ticket": "t"}


@pytest.mark.parametrize(
    ("request_text", "name"),
    [
        ("not json", "WRONG_FORMAT"),
        ('{"ticket":"t"}', "WRONG_FORMAT"),
        ("[]", "WRONG_FORMAT"),
        ('[1, 2]', "WRONG_FORMAT"),
        ('[{"type":"ticker","codes":["KRW-BTC"]}]', "NO_TICKET"),
        ('[{"ticket":""},{"type":"ticker","codes":["KRW-BTC"]}]', "NO_TICKET"),
        ('[{"ticket":null},{"type":"ticker","codes":["KRW-BTC"]}]', "NO_TICKET"),
        ('[{"ticket":"t"}]', "NO_TYPE"),
        ('[{"ticket":"t"},{"codes":["KRW-BTC"]}]', "NO_TYPE"),
        ('[{"ticket":"t"},{"type":"ticker"}]', "NO_CODES"),
        ('[{"ticket":"t"},{"type":"ticker","codes":[]}]', "INVALID_PARAM"),
        ('[{"ticket":"t"},{"type":"ticker","codes":"KRW-BTC"}]', "WRONG_FORMAT"),
        ('[{"ticket":"t"},{"type":"ticker","codes":["krw-btc"]}]', "INVALID_PARAM"),
        ('[{"ticket":"t"},{"type":"ticker","codes":["KRW-NOPE"]}]', "INVALID_PARAM"),
        ('[{"ticket":"t"},{"type":"ticker","codes":["KRW-BTC.5"]}]', "INVALID_PARAM"),
        ('[{"ticket":"t"},{"type":"candle.2m","codes":["KRW-BTC"]}]', "INVALID_PARAM"),
        ('[{"ticket":"t"},{"type":"ticker","codes":["KRW-BTC"]},{"format":"XML"}]', "INVALID_PARAM"),
        ('[{"ticket":"t"},{"type":"ticker","codes":["KRW-BTC"],"is_only_snapshot":"maybe"}]', "INVALID_PARAM"),
        ('[{"ticket":"t"},{"type":"orderbook","codes":["KRW-BTC"],"level":"abc"}]', "INVALID_PARAM"),
        ('[{"ticket":"t"},{"method":"UNSUBSCRIBE"}]', "INVALID_PARAM"),
        ('[{"ticket":"t"},{"type":"myOrder"}]', "INVALID_AUTH"),
    ],
)
async def test_bad_requests_get_the_documented_error(fake, request_text, name):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, request_text)
            assert (await recv(ws))["error"]["name"] == name
            # the connection still works afterwards
            await send(ws, "PING")
            assert await recv(ws) == {"status": "UP"}
    record = [r for r in fake.requests if r.kind == "message"][-1]
    assert record.error is not None and record.error.name == name


async def test_empty_codes_message_is_documented(fake):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, [T, {"type": "ticker", "codes": []}])
            assert await recv(ws) == {"error": {"name": "INVALID_PARAM", "message": "codes 필드가 비어 있습니다."}}


async def test_default_snapshot_then_realtime_and_binary_frames(fake):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, [T, {"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"]}, {"type": "trade", "codes": ["KRW-BTC"]}])
            snaps = [await recv(ws) for _ in range(3)]
            assert {(s["type"], s["code"], s["stream_type"]) for s in snaps} == {
                ("ticker", "KRW-BTC", "SNAPSHOT"), ("ticker", "KRW-ETH", "SNAPSHOT"), ("trade", "KRW-BTC", "SNAPSHOT")}
            fake.tick(code="KRW-BTC")
            live = [await recv(ws) for _ in range(2)]
            assert {(m["type"], m["stream_type"]) for m in live} == {("trade", "REALTIME"), ("ticker", "REALTIME")}
            assert live[0]["trade_price"] == live[1]["trade_price"]
            fake.tick(code="KRW-XRP")  # not subscribed
            await no_frame(ws)


async def test_only_snapshot_and_only_realtime_flags_both_spellings(fake):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, [T, {"type": "ticker", "codes": ["KRW-BTC"], "is_only_snapshot": True},
                            {"type": "trade", "codes": ["KRW-BTC"], "isOnlyRealtime": True}])
            [snap] = await sync(ws)
            assert (snap["type"], snap["stream_type"]) == ("ticker", "SNAPSHOT")
            fake.tick(code="KRW-BTC")
            live = await recv(ws)
            assert (live["type"], live["stream_type"]) == ("trade", "REALTIME")
            await no_frame(ws)
            await send(ws, [T, {"type": "ticker", "codes": ["KRW-ETH"], "isOnlySnapshot": "true"}])
            assert [f["code"] for f in await sync(ws)] == ["KRW-ETH"]
            fake.tick(code="KRW-ETH")
            await no_frame(ws)


async def test_new_request_replaces_subscription_and_rejected_one_does_not(fake):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, [T, {"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True}])
            await send(ws, [T, {"type": "trade", "codes": ["KRW-NOPE"]}])
            assert (await recv(ws))["error"]["name"] == "INVALID_PARAM"
            await sync(ws)
            fake.tick(code="KRW-BTC")
            assert (await recv(ws))["code"] == "KRW-BTC"  # the old subscription survived
            await send(ws, [T, {"type": "trade", "codes": ["KRW-ETH"], "is_only_realtime": True}])
            await sync(ws)
            fake.tick(code="KRW-BTC")
            fake.tick(code="KRW-ETH")
            assert (await recv(ws))["code"] == "KRW-ETH"
            await no_frame(ws)


@pytest.mark.parametrize("fmt", ["DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST"])
async def test_formats_use_documented_keys(fake, fmt):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, [T, {"type": "ticker", "codes": ["KRW-BTC"]}, {"format": fmt}])
            frame = await recv(ws)
            if fmt.endswith("LIST"):
                assert isinstance(frame, list) and len(frame) == 1
                frame = frame[0]
            simple = fmt.startswith("SIMPLE")
            assert frame[("ty" if simple else "type")] == "ticker"
            assert ("atv24h" if simple else "acc_trade_volume_24h") in frame
            assert ("st" if simple else "stream_type") in frame


async def test_list_subscriptions_shape_and_format_switch(fake):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, [T, {"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"], "is_only_realtime": True},
                            {"type": "orderbook", "codes": ["KRW-BTC.15"], "level": 10000, "is_only_realtime": True},
                            {"format": "SIMPLE"}])
            await sync(ws)
            await send(ws, [{"ticket": "unique uuid"}, {"method": "LIST_SUBSCRIPTIONS"}, {"format": "DEFAULT"}])
            assert await recv(ws) == {"method": "LIST_SUBSCRIPTIONS", "result": [
                {"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"]},
                {"type": "orderbook", "codes": ["KRW-BTC.15"], "level": 10000}], "ticket": "unique uuid"}
            await sync(ws)
            fake.tick(code="KRW-ETH")
            assert (await recv(ws))["type"] == "ticker"  # DEFAULT keys now
            await send(ws, [{"method": "LIST_SUBSCRIPTIONS"}, {"ticket": "x"}, {"format": "SIMPLE"}])
            reply = await recv(ws)
            assert reply["mthd"] == "LIST_SUBSCRIPTIONS" and reply["tckt"] == "x"
            parsed = _codec.decode(_encode.encode_list_subscriptions("x"))  # round-trip sanity of the decoder
            assert parsed


@pytest.mark.parametrize(("suffix", "depth"), [("", 30), (".1", 1), (".5", 5), (".15", 15), (".30", 30), (".3", 30)])
async def test_orderbook_depth_suffix(fake, suffix, depth):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, [T, {"type": "orderbook", "codes": [f"KRW-BTC{suffix}"]}])
            book = await recv(ws)
            assert book["code"] == "KRW-BTC" and len(book["orderbook_units"]) == depth
            fake.tick(code="KRW-BTC")
            assert len((await recv(ws))["orderbook_units"]) == depth


async def test_orderbook_level_grouping(fake):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, [T, {"type": "orderbook", "codes": ["KRW-BTC"], "level": 100000},
                            {"type": "orderbook", "codes": ["BTC-ETH"], "level": 0}])
            books = {b["code"]: b for b in [await recv(ws), await recv(ws)]}
            grouped = books["KRW-BTC"]
            assert grouped["level"] == 100000
            for unit in grouped["orderbook_units"]:
                assert unit["ask_price"] % 100000 == 0 and unit["bid_price"] % 100000 == 0
            assert books["BTC-ETH"]["level"] == 0
            # BTC markets have only level 0: a non-zero level streams nothing
            await send(ws, [T, {"type": "orderbook", "codes": ["BTC-ETH"], "level": 1}])
            assert await sync(ws) == []
            fake.tick(code="BTC-ETH")
            await no_frame(ws)


async def test_candles_sent_once_a_second_only_when_traded(autojump_clock):
    async with open_fake_upbit(rate=0, seed=3) as fake:
        with trio.fail_after(100):
            async with connect(fake) as ws:
                await send(ws, [T, {"type": "candle.1s", "codes": ["KRW-BTC"]}, {"type": "candle.1m", "codes": ["KRW-BTC"]}])
                assert {(await recv(ws))["stream_type"] for _ in range(2)} == {"SNAPSHOT"}
                await no_frame(ws, 3.0)  # no trades, no candles
                fake.tick(3, code="KRW-BTC")
                start = trio.current_time()
                got = [await recv(ws), await recv(ws)]
                assert trio.current_time() - start <= 1.0
                assert {c["type"] for c in got} == {"candle.1s", "candle.1m"}
                assert all(c["stream_type"] == "REALTIME" for c in got)
                await no_frame(ws, 3.0)


async def test_ping_text_and_ping_frames(fake):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, "PING")
            assert await recv(ws) == {"status": "UP"}
            await ws.ping(b"hello")  # returns when the pong arrives
    await fake.wait_for_request(lambda r: r.kind == "close")
    assert [(r.kind, r.status) for r in fake.requests] == [("handshake", 101), ("ping", None), ("close", 1000)]


async def test_idle_close_after_120_seconds(autojump_clock):
    async with open_fake_upbit(rate=0) as fake:
        with trio.fail_after(1000):
            async with connect(fake) as ws:
                start = trio.current_time()
                with pytest.raises(trio_websocket.ConnectionClosed):
                    await ws.get_message()
                assert 119.9 <= trio.current_time() - start <= 121
            assert fake.counters.idle_closes == 1


async def test_traffic_keeps_connection_open(autojump_clock):
    async with open_fake_upbit(rate=0, idle_timeout=30) as fake:
        with trio.fail_after(1000):
            async with connect(fake) as ws:
                for _ in range(5):
                    await trio.sleep(20)
                    await send(ws, "PING")
                    assert await recv(ws) == {"status": "UP"}
                assert fake.counters.idle_closes == 0


async def test_private_types_on_private_endpoint_and_public_types_refused(fake):
    with trio.fail_after(10):
        async with connect(fake, private=True) as ws:
            await send(ws, [T, {"type": "ticker", "codes": ["KRW-BTC"]}])
            assert (await recv(ws))["error"]["name"] == "INVALID_PARAM"
            await send(ws, [T, {"type": "myAsset", "codes": ["KRW-BTC"]}])
            assert (await recv(ws))["error"]["name"] == "WRONG_FORMAT"
            await send(ws, [T, {"type": "myOrder", "codes": ["KRW-BTC"]}, {"type": "myAsset"}])
            await send(ws, [T, {"method": "LIST_SUBSCRIPTIONS"}])
            assert await recv(ws) == {"method": "LIST_SUBSCRIPTIONS", "result": [
                {"type": "myOrder", "codes": ["KRW-BTC"]}, {"type": "myAsset"}], "ticket": "t"}
