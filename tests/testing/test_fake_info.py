"""The fake exchange's 2026 types on the wire: request validation, error-then-close on /info, LIST_SUBSCRIPTIONS,
announcements."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
import trio_websocket

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._info_requests import ALL_CATEGORIES, DOCUMENTED_CATEGORIES

from ._helpers import connect, connect_in_memory, no_frame, recv, send, sync

T = {"ticket": "t"}
RSI = {"type": "rsi", "params": {"period": 14}}


def ind(*items: Any, codes: Any = ("KRW-BTC",), timeframe: Any = "5m", type_: str = "indicator",
        **extra: Any) -> dict[str, Any]:
    """One indicator-family Data Type Object (``codes``/``timeframe`` None: left out)."""
    obj: dict[str, Any] = {"type": type_, **extra}
    if codes is not None:
        obj["codes"] = list(codes) if isinstance(codes, tuple) else codes
    if timeframe is not None:
        obj["timeframe"] = timeframe
    obj["indicators"] = list(items)
    return obj


def sig(indicator: str, params: Any, trigger: Any, event_params: Any = None) -> dict[str, Any]:
    item = {"type": indicator, "params": params, "trigger": trigger}
    if event_params is not None:
        item["event_params"] = event_params
    return item


def sig_obj(*items: Any, **kw: Any) -> dict[str, Any]:
    return ind(*items, type_="indicator_signal", **kw)


async def refused_then_closed(ws: trio_websocket.WebSocketConnection) -> str:
    """The error name of the one frame the server sends, asserting it then closes with 1008."""
    error = (await recv(ws))["error"]
    with trio.fail_after(5), pytest.raises(trio_websocket.ConnectionClosed) as closed:
        await ws.get_message()
    assert closed.value.reason.code == 1008
    return str(error["name"])


async def listed(ws: trio_websocket.WebSocketConnection, fmt: str | None = None) -> Any:
    await send(ws, [T, {"method": "LIST_SUBSCRIPTIONS"}, *([{"format": fmt}] if fmt else [])])
    return await recv(ws)


REFUSED_ON_INFO = [
    # the Data Type Object itself
    ([{"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [RSI]}], "NO_TYPE"),
    ([ind(RSI, codes=None)], "NO_CODES"),
    ([ind(RSI, codes="KRW-BTC")], "WRONG_FORMAT"),
    ([ind(RSI, codes=[1])], "WRONG_FORMAT"),
    ([ind(RSI, codes=[])], "INVALID_PARAM"),
    ([ind(RSI, timeframe=None)], "INVALID_PARAM"),
    ([ind(RSI, timeframe="1m")], "INVALID_PARAM"),
    ([ind(RSI, timeframe="1h")], "INVALID_PARAM"),
    ([ind(RSI, timeframe=5)], "WRONG_FORMAT"),
    ([{**ind(), "indicators": None}], "INVALID_PARAM"),
    ([{**ind(), "indicators": RSI}], "WRONG_FORMAT"),
    ([ind()], "INVALID_PARAM"),
    ([ind("rsi")], "WRONG_FORMAT"),
    # indicator items and their params
    ([ind({"type": "stochastic", "params": {"period": 14}})], "INVALID_PARAM"),
    ([ind({"params": {"period": 14}})], "INVALID_PARAM"),
    ([ind({"type": "rsi"})], "INVALID_PARAM"),
    ([ind({"type": "rsi", "params": [14]})], "WRONG_FORMAT"),
    ([ind({"type": "rsi", "params": {"period": 15}})], "INVALID_PARAM"),
    ([ind({"type": "rsi", "params": {"period": "14"}})], "WRONG_FORMAT"),
    ([ind({"type": "rsi", "params": {"period": [14]}})], "WRONG_FORMAT"),
    ([ind({"type": "rsi", "params": {"period": True}})], "WRONG_FORMAT"),
    ([ind({"type": "rsi", "params": {"period": None}})], "WRONG_FORMAT"),
    ([ind({"type": "rsi", "params": {"period": 14.0}})], "INVALID_PARAM"),
    ([ind({"type": "rsi", "params": {"period": 14, "multiplier": 2.0}})], "INVALID_PARAM"),
    ([ind({"type": "rsi", "params": {"period": 14}, "trigger": "overbought"})], "INVALID_PARAM"),
    ([ind({"type": "moving_average", "params": {"period": 20}})], "INVALID_PARAM"),
    ([ind({"type": "moving_average", "params": {"type": "sma", "period": 20}})], "INVALID_PARAM"),
    ([ind({"type": "moving_average", "params": {"type": 1, "period": 20}})], "WRONG_FORMAT"),
    ([ind({"type": "moving_average", "params": {"type": "SMA", "period": 21}})], "INVALID_PARAM"),
    ([ind({"type": "ma_crossover", "params": {"type": "SMA", "short_period": 5, "long_period": 60}})], "INVALID_PARAM"),
    ([ind({"type": "macd", "params": {"fast": 12, "slow": 26, "signal_period": 5}})], "INVALID_PARAM"),
    ([ind({"type": "bollinger_bands", "params": {"period": 20, "multiplier": 2.04}})], "INVALID_PARAM"),
    ([ind({"type": "bollinger_bands", "params": {"period": 20, "multiplier": "2.0"}})], "WRONG_FORMAT"),
    ([ind({"type": "bollinger_bands", "params": {"period": 20, "multiplier": 3.5}})], "INVALID_PARAM"),
    ([ind({"type": "bollinger_bands", "params": {"period": 30, "multiplier": 2.0}})], "INVALID_PARAM"),
    ([ind({"type": "volume", "params": {"period": 55}})], "INVALID_PARAM"),
    # signals: the narrower sets, triggers, event_params
    ([sig_obj(sig("volume", {"period": 5}, "volume_spike", {"multiplier": 2.0}))], "INVALID_PARAM"),
    ([sig_obj(sig("rsi", {"period": 2}, "overbought", {"threshold": 70}))], "INVALID_PARAM"),
    ([sig_obj(sig("bollinger_bands", {"period": 10, "multiplier": 2.0}, "price_cross_above"))], "INVALID_PARAM"),
    ([sig_obj(sig("bollinger_bands", {"period": 20, "multiplier": 1.0}, "price_cross_above"))], "INVALID_PARAM"),
    ([sig_obj(sig("moving_average", {"type": "SMA", "period": 3}, "price_cross_above"))], "INVALID_PARAM"),
    ([sig_obj({"type": "rsi", "params": {"period": 14}, "event_params": {"threshold": 70}})], "INVALID_PARAM"),
    ([sig_obj(sig("rsi", {"period": 14}, "golden_cross"))], "INVALID_PARAM"),
    ([sig_obj(sig("rsi", {"period": 14}, 1, {"threshold": 70}))], "WRONG_FORMAT"),
    ([sig_obj(sig("rsi", {"period": 14}, "overbought"))], "INVALID_PARAM"),
    ([sig_obj(sig("rsi", {"period": 14}, "overbought", {}))], "INVALID_PARAM"),
    ([sig_obj(sig("rsi", {"period": 14}, "overbought", {"threshold": 20}))], "INVALID_PARAM"),
    ([sig_obj(sig("rsi", {"period": 14}, "oversold", {"threshold": 70}))], "INVALID_PARAM"),
    ([sig_obj(sig("rsi", {"period": 14}, "overbought", {"threshold": "70"}))], "WRONG_FORMAT"),
    ([sig_obj(sig("rsi", {"period": 14}, "overbought", {"threshold": 70.0}))], "INVALID_PARAM"),
    ([sig_obj(sig("rsi", {"period": 14}, "overbought", {"threshold": 70, "multiplier": 2.0}))], "INVALID_PARAM"),
    ([sig_obj(sig("rsi", {"period": 14}, "overbought", [70]))], "WRONG_FORMAT"),
    ([sig_obj(sig("volume", {"period": 20}, "volume_spike", {"multiplier": 2.04}))], "INVALID_PARAM"),
    ([sig_obj(sig("volume", {"period": 20}, "volume_spike", {"multiplier": 4}))], "INVALID_PARAM"),
    ([sig_obj(sig("volume", {"period": 20}, "volume_spike", {"multiplier": "2"}))], "WRONG_FORMAT"),
    ([sig_obj(sig("volume", {"period": 20}, "volume_spike", {"threshold": 70}))], "INVALID_PARAM"),
    ([sig_obj(sig("moving_average", {"type": "SMA", "period": 20}, "price_cross_above", {"threshold": 70}))],
     "INVALID_PARAM"),
    ([sig_obj(sig("macd", {"fast": 12, "slow": 26, "signal_period": 9}, "price_cross_above"))], "INVALID_PARAM"),
    # wrong endpoint, whole-request rejection
    ([{"type": "announcement"}], "INVALID_PARAM"),
    ([{"type": "myAsset"}], "INVALID_PARAM"),
    ([{"type": "ticker", "codes": ["KRW-BTC"]}], "INVALID_PARAM"),
    ([ind(RSI), {"type": "myOrder"}], "INVALID_PARAM"),
    ([ind(RSI), ind({"type": "rsi", "params": {"period": 15}})], "INVALID_PARAM"),
    # duplicates
    ([ind(RSI, codes=["KRW-BTC", "KRW-BTC"])], "INVALID_PARAM"),
    ([ind(RSI, RSI)], "INVALID_PARAM"),
    ([ind(RSI), ind(RSI, codes=["KRW-ETH", "KRW-BTC"])], "INVALID_PARAM"),
]


@pytest.mark.parametrize(("objects", "name"), REFUSED_ON_INFO)
async def test_info_refuses_then_closes(fake, objects, name):
    with trio.fail_after(10):
        async with connect(fake, info=True) as ws:
            await send(ws, [T, *objects])
            assert await refused_then_closed(ws) == name
    refused = [r for r in fake.requests if r.kind == "message"]
    assert len(refused) == 1 and refused[0].error is not None and refused[0].error.name == name
    await fake.wait_for_request(lambda r: r.kind == "close" and r.detail == "refusal")


ACCEPTED_ON_INFO = [
    ([ind({"type": "bollinger_bands", "params": {"period": 20, "multiplier": 2}})], 2.0),
    ('[{"ticket":"t"},{"type":"indicator","codes":["KRW-BTC"],"timeframe":"5m","indicators":[{"type":'
     '"bollinger_bands","params":{"period":20,"multiplier":2.00}}]}]', 2.0),
    ([ind({"type": "bollinger_bands", "params": {"period": 50, "multiplier": 1.0}})], 1.0),
    ([sig_obj(sig("volume", {"period": 20}, "volume_spike", {"multiplier": 2}))], 2.0),
    ('[{"ticket":"t"},{"type":"indicator_signal","codes":["KRW-BTC"],"timeframe":"5m","indicators":[{"type":'
     '"volume","params":{"period":20},"trigger":"volume_spike","event_params":{"multiplier":5.00}}]}]', 5.0),
]


@pytest.mark.parametrize(("request_", "multiplier"), ACCEPTED_ON_INFO)
async def test_multipliers_2_20_200_are_one_value_echoed_with_one_decimal(fake, request_, multiplier):
    with trio.fail_after(10):
        async with connect(fake, info=True) as ws:
            await send(ws, request_ if isinstance(request_, str) else [T, *request_])
            reply = await listed(ws)
    [entry] = reply["result"]
    item = entry["indicators"][0]
    echoed = item.get("event_params", {}).get("multiplier", item["params"].get("multiplier"))
    assert echoed == multiplier and isinstance(echoed, float)
    assert f'"multiplier":{multiplier}' in json.dumps(reply, separators=(",", ":"))


async def test_every_documented_value_is_accepted(fake):
    """One request per indicator with each allowed value (signals: each trigger and event value)."""
    values = [ind({"type": "volume", "params": {"period": p}}) for p in (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)]
    values += [ind({"type": "rsi", "params": {"period": p}}) for p in (*range(2, 15), 21, 25)]
    values += [ind({"type": "moving_average", "params": {"type": t, "period": p}})
               for t in ("SMA", "EMA") for p in (3, 5, 7, 10, 15, 20, 25, 30, 50, 60, 90, 99, 100, 120, 200)]
    signals = [sig("volume", {"period": p}, "volume_spike", {"multiplier": m}) for p in (10, 20, 50) for m in (2, 3.0, 5)]
    signals += [sig("rsi", {"period": p}, trigger, {"threshold": th}) for p in (7, 9, 14, 21, 25)
                for trigger, ths in (("overbought", (70, 80)), ("oversold", (20, 30))) for th in ths]
    signals += [sig("macd", {"fast": f, "slow": s, "signal_period": g}, trigger)
                for f, s, g in ((12, 26, 9), (8, 17, 9), (5, 35, 5))
                for trigger in ("golden_cross", "dead_cross", "zero_cross_above", "zero_cross_below")]
    signals += [sig("bollinger_bands", {"period": 20, "multiplier": m}, t, {})
                for m in (1.5, 2.0, 2.5) for t in ("price_cross_above", "price_cross_below")]
    async with open_fake_upbit(rate=0, requests_per_second=None, requests_per_minute=None) as fake:
        with trio.fail_after(20):
            async with connect(fake, info=True) as ws:
                for obj in values:
                    await send(ws, [T, obj])
                for chunk in range(0, len(signals), 10):
                    await send(ws, [T, sig_obj(*signals[chunk:chunk + 10])])
                assert await sync(ws) == []
    assert not any(r.error for r in fake.requests)


async def test_combination_cap_100_accepted_101_refused_summed_over_both_types(fake):
    codes = [f"KRW-C{i:03}" for i in range(50)]
    ma = {"type": "moving_average", "params": {"type": "SMA", "period": 20}}
    cross = sig("ma_crossover", {"type": "EMA", "short_period": 5, "long_period": 20}, "golden_cross")
    with trio.fail_after(10):
        async with connect(fake, info=True) as ws:
            await send(ws, [T, ind(RSI, ma, codes=codes[:25]), sig_obj(cross, codes=codes)])  # 50 + 50
            assert await sync(ws) == []
            await send(ws, [T, ind(RSI, ma, codes=codes[:25]), sig_obj(cross, codes=codes + ["KRW-BTC"])])  # 101
            assert await refused_then_closed(ws) == "TOO_MANY_REQUEST"
        async with connect(fake, info=True) as ws:
            await send(ws, [T, ind(RSI, codes=codes * 2 + ["KRW-BTC"])])  # over the cap and duplicated: the cap
            assert await refused_then_closed(ws) == "TOO_MANY_REQUEST"


async def test_unknown_non_krw_and_lower_case_codes_are_accepted_silently(fake):
    odd = ["KRW-NOPE", "BTC-ETH", "krw-btc", "KRW-BTC.5", "USDT-BTC"]
    with trio.fail_after(10):
        async with connect(fake, info=True) as ws:
            await send(ws, [T, ind(RSI, codes=odd + ["KRW-BTC"])])
            assert await sync(ws) == []
            fake.close_candle("5m")
            got = [await recv(ws)]
            await no_frame(ws)
            assert [(m["type"], m["code"]) for m in got] == [("indicator", "KRW-BTC")]
            assert (await listed(ws))["result"][0]["codes"] == odd + ["KRW-BTC"]


async def test_indicator_types_elsewhere_and_errors_on_private_keep_the_connection(fake):
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, [T, ind(RSI)])
            assert (await recv(ws))["error"]["name"] == "INVALID_AUTH"
            await send(ws, [T, {"type": "announcement"}])
            assert (await recv(ws))["error"]["name"] == "INVALID_AUTH"
            assert await sync(ws) == []  # the public endpoint never closes after an error
        async with connect(fake, private=True) as ws:
            await send(ws, [T, {"type": "announcement", "categories": ["trade"]}])
            await send(ws, [T, sig_obj(sig("rsi", {"period": 14}, "overbought", {"threshold": 70}))])
            assert (await recv(ws))["error"]["name"] == "INVALID_PARAM"
            await send(ws, [T, {"type": "announcement", "categories": ["bogus"]}])
            assert (await recv(ws))["error"]["name"] == "INVALID_PARAM"
            # refused requests changed nothing; the connection is still open
            assert (await listed(ws))["result"] == [{"type": "announcement", "categories": ["trade"]}]


async def test_rate_excess_and_bad_token_on_info_are_refused_then_closed(autojump_clock):
    async with open_fake_upbit(rate=0) as fake:
        with trio.fail_after(100):
            async with connect_in_memory(fake, info=True) as ws:
                for _ in range(6):
                    await send(ws, [T, ind(RSI)])
                assert await refused_then_closed(ws) == "TOO_MANY_REQUEST"
            async with connect_in_memory(fake, info=True, token="not-a-token") as ws:
                await send(ws, "PING")
                assert await recv(ws) == {"status": "UP"}
                await send(ws, [T, ind(RSI)])
                assert await refused_then_closed(ws) == "INVALID_AUTH"
        assert fake.counters.rate_limited_messages == 1
        handshakes = [r for r in fake.requests if r.kind == "handshake"]
        assert [r.endpoint for r in handshakes] == ["info", "info"] and handshakes[1].detail
    async with open_fake_upbit(rate=0, auth_failure="http") as fake:
        with trio.fail_after(10), pytest.raises(trio_websocket.ConnectionRejected) as rejected:
            async with connect(fake, info=True, token="not-a-token"):
                pass
        assert rejected.value.status_code == 401


async def test_info_keep_alive_and_idle_timeout(autojump_clock):
    async with open_fake_upbit(rate=0, idle_timeout=120, idle_close="clean") as fake:
        with trio.fail_after(1000):
            async with connect_in_memory(fake, info=True) as ws:
                await send(ws, [T, ind(RSI, codes=["KRW-NOPE"])])  # a code that never streams
                for _ in range(4):  # quiet minutes across candle closes: pings keep it open
                    await trio.sleep(100)
                    assert await sync(ws) == []
                start = trio.current_time()
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await ws.get_message()
                assert closed.value.reason.code == 1000 and closed.value.reason.reason == "Idle Timeout"
                assert 119.9 <= trio.current_time() - start <= 120.1
        assert fake.counters.idle_closes == 1


async def test_faults_target_the_info_endpoint(fake):
    with trio.fail_after(10):
        async with connect(fake, info=True) as info, connect(fake, private=True) as private:
            await fake.wait_for_connections(2)
            assert [c.endpoint for c in fake.connections] == ["info", "private"]
            assert fake.send_raw(b'{"status":"UP"}', endpoint="info") == 1
            assert await recv(info) == {"status": "UP"}
            assert fake.drop_all(endpoint="info") == 1
            with pytest.raises(trio_websocket.ConnectionClosed):
                await info.get_message()
            assert await sync(private) == []


# -- LIST_SUBSCRIPTIONS ------------------------------------------------------------------------------


async def test_list_subscriptions_shapes_and_replacement(fake):
    signal = sig("rsi", {"period": 7}, "overbought", {"threshold": 70})
    ma = sig("moving_average", {"type": "EMA", "period": 20}, "price_cross_below")
    with trio.fail_after(10):
        async with connect(fake, info=True) as ws:
            await send(ws, [T, ind(RSI, codes=["KRW-ETH"], timeframe="15m")])
            await send(ws, [T, sig_obj(signal, codes=["KRW-DOGE"]), sig_obj(ma, timeframe="1d")])
            reply = await listed(ws)
            assert reply == {"method": "LIST_SUBSCRIPTIONS", "ticket": "t", "result": [
                {"type": "indicator_signal", "codes": ["KRW-DOGE"], "timeframe": "5m", "indicators": [
                    {"type": "rsi", "params": {"period": 7}, "trigger": "overbought", "event_params": {"threshold": 70}}]},
                {"type": "indicator_signal", "codes": ["KRW-BTC"], "timeframe": "1d", "indicators": [
                    {"type": "moving_average", "params": {"type": "EMA", "period": 20}, "trigger": "price_cross_below",
                     "event_params": {}}]}]}
            simple = await listed(ws, "SIMPLE")
            assert simple["mthd"] == "LIST_SUBSCRIPTIONS" and simple["tckt"] == "t"
            assert [(e["ty"], e["cds"], e["timeframe"]) for e in simple["rslt"]] == [
                ("indicator_signal", ["KRW-DOGE"], "5m"), ("indicator_signal", ["KRW-BTC"], "1d")]
            [decoded] = ub.decode(json.dumps(simple).encode())
            assert decoded == ub.SubscriptionList("t", (ub.SubscribedStream("indicator_signal", ("KRW-DOGE",)),
                                                        ub.SubscribedStream("indicator_signal", ("KRW-BTC",))))
        async with connect(fake, private=True) as ws:
            await send(ws, [T, {"type": "announcement"}, {"type": "myOrder", "codes": ["KRW-BTC"]}, {"type": "myAsset"}])
            assert await sync(ws) == []  # nothing is sent on subscribe
            assert (await listed(ws))["result"] == [
                {"type": "announcement"}, {"type": "myOrder", "codes": ["KRW-BTC"]}, {"type": "myAsset"}]
            await send(ws, [T, {"type": "announcement", "categories": ["trade", "wallet"], "include_body": False}])
            reply = await listed(ws, "JSON_LIST")
            assert reply["result"] == [{"type": "announcement", "categories": ["trade", "wallet"], "include_body": False}]
            [decoded] = ub.decode(json.dumps(reply).encode())
            assert decoded.streams == (ub.SubscribedStream("announcement"),)


# -- announcement requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "name"),
    [
        ({"type": "announcement", "categories": "trade"}, "WRONG_FORMAT"),
        ({"type": "announcement", "categories": [1]}, "WRONG_FORMAT"),
        ({"type": "announcement", "categories": []}, "INVALID_PARAM"),
        ({"type": "announcement", "categories": ["trade", "bogus"]}, "INVALID_PARAM"),
        ({"type": "announcement", "categories": ["TRADE"]}, "INVALID_PARAM"),
        ({"type": "announcement", "include_body": "true"}, "WRONG_FORMAT"),
        ({"type": "announcement", "include_body": 1}, "WRONG_FORMAT"),
        ({"type": "announcement", "codes": ["KRW-BTC"]}, "WRONG_FORMAT"),
    ],
)
async def test_announcement_requests_refused_without_closing(fake, obj, name):
    with trio.fail_after(10):
        async with connect(fake, private=True) as ws:
            await send(ws, [T, obj])
            assert (await recv(ws))["error"]["name"] == name
            assert await sync(ws) == []


async def test_category_sets_default_union_and_strict_documented():
    assert DOCUMENTED_CATEGORIES == ALL_CATEGORIES[:8] and len(ALL_CATEGORIES) == 13
    for strict in (False, True):
        async with open_fake_upbit(rate=0, strict_categories=strict, requests_per_second=None,
                                   requests_per_minute=None) as fake:
            with trio.fail_after(10):
                async with connect(fake, private=True) as ws:
                    await send(ws, [T, {"type": "announcement", "categories": list(DOCUMENTED_CATEGORIES)}])
                    await send(ws, [T, {"type": "announcement", "categories": ["trading", "wallet"],
                                        "include_body": True}])  # Upbit's own guide example
                    replies = await sync(ws)
            assert replies == ([{"error": {"name": "INVALID_PARAM", "message": "trading은 지원하지 않는 카테고리입니다."}}]
                               if strict else [])


async def test_announcement_delivery_by_category_and_body_rules(autojump_clock):
    async with open_fake_upbit(rate=0, epoch_ms=1_784_014_594_000) as fake:  # 2026-07-14T07:36:34Z
        with trio.fail_after(100):
            async with connect_in_memory(fake, private=True) as everything, \
                    connect_in_memory(fake, private=True) as wallet, connect_in_memory(fake, private=True) as trade, \
                    connect_in_memory(fake, private=True) as orders, \
                    connect_in_memory(fake, private=True, token="bad") as unauthenticated:
                await send(everything, [T, {"type": "announcement", "include_body": False}])
                await send(wallet, [T, {"type": "announcement", "categories": ["wallet"]}])
                await send(trade, [T, {"type": "announcement", "categories": ["trade", "notice"], "include_body": True},
                                   {"type": "myAsset"}, {"format": "SIMPLE"}])
                await send(orders, [T, {"type": "myOrder"}])
                await send(unauthenticated, [T, {"type": "announcement"}])
                for ws in (everything, wallet, trade, orders):
                    assert await sync(ws) == []
                assert (await recv(unauthenticated))["error"]["name"] == "INVALID_AUTH"

                notice = fake.publish_announcement("[거래] 신규 거래 지원 안내", body="본문 ...")
                plain = await recv(everything)
                assert plain == {
                    "type": "announcement", "event_type": "CREATED", "uuid": notice.uuid,
                    "title": "[거래] 신규 거래 지원 안내", "category": "trade",
                    "url": f"https://www.upbit.com/service_center/notice?id={notice.uuid}&view=share",
                    "first_listed_at": "2026-07-14T16:36:34+09:00", "listed_at": "2026-07-14T16:36:34+09:00",
                    "timestamp": 1_784_014_594_000, "stream_type": "REALTIME"}
                simple = await recv(trade)
                assert simple["bd"] == "본문 ..." and simple["cat"] == "trade" and "body" not in simple
                assert ub.decode(json.dumps(simple).encode()) == [notice]
                assert ub.decode(json.dumps(plain).encode()) == [ub.Announcement(**{**notice.to_dict(), "body": None})]

                await trio.sleep(90)
                update = fake.publish_announcement("[거래] 신규 거래 지원 안내 (수정)", event_type="UPDATED",
                                                   uuid=notice.uuid, body_too_large=True)
                changed = await recv(trade)
                assert changed["et"] == "UPDATED" and changed["uid"] == notice.uuid and changed["bd"] is None
                assert changed["flat"] == "2026-07-14T16:36:34+09:00" and changed["lat"] == "2026-07-14T16:38:04+09:00"
                assert ub.decode(json.dumps(changed).encode()) == [update] and update.body is None
                assert (await recv(everything))["event_type"] == "UPDATED"

                fake.publish_announcement("입출금 일시 중단", "wallet")
                assert (await recv(everything))["category"] == "wallet"
                assert (await recv(wallet))["category"] == "wallet"
                fake.publish_announcement("점검", "maintenance")
                assert (await recv(everything))["category"] == "maintenance"
                for ws in (wallet, trade, orders, unauthenticated):
                    assert await sync(ws) == []


async def test_announcement_in_every_format_decodes_equal(fake):
    with trio.fail_after(10):
        async with connect(fake, private=True) as a, connect(fake, private=True) as b, \
                connect(fake, private=True) as c, connect(fake, private=True) as d:
            conns = {"DEFAULT": a, "SIMPLE": b, "JSON_LIST": c, "SIMPLE_LIST": d}
            for fmt, ws in conns.items():
                await send(ws, [T, {"type": "announcement", "include_body": True}, {"format": fmt}])
                assert await sync(ws) == []
            notice = fake.publish_announcement("공지", "digital_asset", body="**굵게**")
            for fmt, ws in conns.items():
                frame = await ws.get_message()
                assert ub.decode(frame) == [notice], fmt
                assert isinstance(json.loads(frame), list) == fmt.endswith("_LIST")
    with pytest.raises(ValueError, match="uuid"):
        fake.publish_announcement("수정", event_type="UPDATED")
