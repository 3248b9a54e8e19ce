"""The official upbit-sdk 1.1.0 against the fake's 2026 types (announcement, indicator, indicator_signal), only the URL
changed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit, RequestRecord, open_fake_upbit

from .test_fake_interop import needs_sdk, run_sdk

#: What every SDK script starts with: the SDK pointed at the fake (argv[1]) and a JSON view of its events.
SDK_PRELUDE = """
import asyncio, json, os, sys, upbit

def shown(event):
    return [type(event).__name__, event.to_dict(mode="json")]

async def main():
    sdk = upbit.AsyncUpbit(access_key=os.environ["FAKE_ACCESS_KEY"], secret_key=os.environ["FAKE_SECRET_KEY"],
                           websocket_base_url=sys.argv[1])
"""

SDK_ANNOUNCEMENT = SDK_PRELUDE + """    out = {}
    async with sdk.ws_stream.announcement(categories=["trade"], include_body=True) as conn:
        out["trade"] = shown(await asyncio.wait_for(conn.recv(), 10))
        out["listing"] = shown(await conn.list_subscriptions())
    async with sdk.ws_stream.subscribe_private(announcement=True, my_asset=True, format="SIMPLE") as conn:
        out["simple"] = shown(await asyncio.wait_for(conn.recv(), 10))
    print(json.dumps(out))

asyncio.run(main())
"""

SDK_INDICATOR = SDK_PRELUDE + """    out = {}
    indicators = [{"type": "rsi", "params": {"period": 14}},
                  {"type": "bollinger_bands", "params": {"period": 20, "multiplier": 2.0}}]
    async with sdk.ws_stream.indicator(["KRW-BTC", "KRW-NOPE"], timeframe="5m", indicators=indicators) as conn:
        out["listing"] = shown(await conn.list_subscriptions())
        out["events"] = [shown(await asyncio.wait_for(conn.recv(), 10)) for _ in range(3)]
    bad = [{"type": "rsi", "params": {"period": 15}}]
    async with sdk.ws_stream.indicator(["KRW-BTC"], timeframe="5m", indicators=bad, max_retries=0) as conn:
        out["error"] = shown(await asyncio.wait_for(conn.recv(), 10))
        try:
            await asyncio.wait_for(conn.recv(), 10)
        except Exception as exc:
            out["closed"] = [type(exc).__name__, exc.rcvd.code if exc.rcvd else None]
    print(json.dumps(out))

asyncio.run(main())
"""

SDK_SIGNAL = SDK_PRELUDE + """    out = {}
    spike = {"type": "volume", "params": {"period": 20}, "trigger": "volume_spike", "event_params": {"multiplier": 2.0}}
    async with sdk.ws_stream.indicator_signal(["KRW-BTC"], timeframe="5m", indicators=[spike]) as conn:
        out["forced"] = shown(await asyncio.wait_for(conn.recv(), 10))
    cross = {"type": "moving_average", "params": {"type": "SMA", "period": 5}, "trigger": "price_cross_above"}
    async with sdk.ws_stream.indicator_signal(["KRW-ETH"], timeframe="15m", indicators=[spike, cross],
                                              format="SIMPLE") as conn:
        out["simple"] = [shown(await asyncio.wait_for(conn.recv(), 10)) for _ in range(2)]
        out["listing"] = shown(await conn.list_subscriptions())
    print(json.dumps(out))

asyncio.run(main())
"""


def asking(type_: str) -> Callable[[RequestRecord], bool]:
    return lambda r: r.kind == "message" and r.request is not None and any(t.type == type_ for t in r.request.types)


def listing_request(r: RequestRecord) -> bool:
    return r.kind == "message" and r.request is not None and r.request.method == "LIST_SUBSCRIPTIONS"


async def with_sdk(fake: FakeUpbit, script: str, exchange: Callable[[], Any]) -> Any:
    """Run ``script`` against ``fake`` while ``exchange()`` plays the server side; return what it printed."""
    got: dict[str, Any] = {}

    async def client() -> None:
        got["out"] = await run_sdk(script, fake.base_url, FAKE_ACCESS_KEY=fake.access_key,
                                   FAKE_SECRET_KEY=fake.secret_key)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(exchange)
            await client()
    return got["out"]


@needs_sdk
async def test_upbit_sdk_announcement_streams():
    async with open_fake_upbit(rate=0) as fake:

        async def exchange() -> None:
            await fake.wait_for_request(asking("announcement"))
            fake.publish_announcement("입출금 일시 중단", "wallet")  # not a category it asked for
            fake.publish_announcement("[거래] 신규 거래 지원 안내", "trade", body="본문")
            await fake.wait_for_request(asking("announcement"), count=2)
            fake.publish_announcement("점검 안내", "maintenance", body="본문")

        out = await with_sdk(fake, SDK_ANNOUNCEMENT, exchange)
    name, trade = out["trade"]
    assert name == "Announcement"
    assert {k: trade[k] for k in ("type", "event_type", "category", "title", "body", "stream_type")} == {
        "type": "announcement", "event_type": "CREATED", "category": "trade", "title": "[거래] 신규 거래 지원 안내",
        "body": "본문", "stream_type": "REALTIME"}
    assert out["listing"] == ["ListSubscriptionsResponse", {"method": "LIST_SUBSCRIPTIONS", "ticket": out["listing"][1]["ticket"],
                              "result": [{"type": "announcement", "categories": ["trade"], "include_body": True}]}]
    name, simple = out["simple"]
    assert name == "SimpleAnnouncement" and simple["cat"] == "maintenance" and "bd" not in simple
    assert not any(r.error for r in fake.requests)


@needs_sdk
async def test_upbit_sdk_indicator_stream_list_subscriptions_and_refusal():
    async with open_fake_upbit(rate=0) as fake:

        async def exchange() -> None:
            await fake.wait_for_request(listing_request)
            fake.inject_indicator("KRW-BTC", "5m", ub.rsi(14), ub.RsiValue(rsi=Decimal("58.75323648")))
            fake.close_candle("5m")

        out = await with_sdk(fake, SDK_INDICATOR, exchange)
        history = fake.candle_closes("KRW-BTC", "5m")
    name, listing = out["listing"]
    assert name == "ListSubscriptionsResponse" and listing["result"] == [
        {"type": "indicator", "codes": ["KRW-BTC", "KRW-NOPE"], "timeframe": "5m",
         "indicators": [{"type": "rsi", "params": {"period": 14}},
                        {"type": "bollinger_bands", "params": {"period": 20, "multiplier": 2.0}}]}]
    (n1, injected), (n2, rsi), (n3, bands) = out["events"]
    assert (n1, n2, n3) == ("RsiIndicator", "RsiIndicator", "BollingerBandsIndicator")
    assert injected["value"] == {"rsi": "58.75323648"} and injected["code"] == "KRW-BTC"
    assert rsi["candle_date_time_utc"] == bands["candle_date_time_utc"] == history[-1].candle_date_time_utc
    middle = sum(c.close for c in history[-20:]) / 20
    assert Decimal(bands["value"]["bb_middle"]) == middle and bands["params"] == {"period": 20, "multiplier": 2.0}
    assert out["error"] == ["BaseModel", {"error": {"name": "INVALID_PARAM", "message": out["error"][1]["error"]["message"]}}]
    assert out["closed"] == ["ConnectionClosedError", 1008]  # not 1000/1001, which the SDK takes for end of stream
    assert [r.detail for r in fake.requests if r.kind == "close"] == [None, "refusal"]


@needs_sdk
async def test_upbit_sdk_indicator_signal_streams_default_and_simple():
    async with open_fake_upbit(rate=0) as fake:
        spike = ub.signal(ub.volume(20), "volume_spike", multiplier=2)

        async def exchange() -> None:
            await fake.wait_for_request(asking("indicator_signal"))
            fake.force_signal("KRW-BTC", "5m", spike, ub.VolumeValue(volume=Decimal("31.5"), avg_volume=Decimal("10.5"),
                                                                      ratio=Decimal("3.0")))
            await fake.wait_for_request(asking("indicator_signal"), count=2)
            price = fake.market.price("KRW-ETH")
            fake.seed_candles("KRW-ETH", "15m", [price / 2] * 30, [1] * 30)
            fake.close_candle("15m", volumes={"KRW-ETH": 100})  # a spike, and the close crosses above its MA

        out = await with_sdk(fake, SDK_SIGNAL, exchange)
    name, forced = out["forced"]
    assert name == "VolumeIndicatorSignal" and forced["trigger"] == "volume_spike"
    assert forced["event_params"] == {"multiplier": 2} and forced["value"] == {
        "volume": "31.5", "avg_volume": "10.5", "ratio": "3.0"}
    (n1, first), (n2, second) = out["simple"]
    assert (n1, n2) == ("SimpleVolumeIndicatorSignal", "SimpleMovingAverageIndicatorSignal")
    assert first["ep"] == {"mul": 2} and first["tf"] == "15m" and second["tr"] == "price_cross_above"
    assert out["listing"][0] == "SimpleListSubscriptionsResponse"
    assert [(e["ty"], e["cds"]) for e in out["listing"][1]["rslt"]] == [("indicator_signal", ["KRW-ETH"])]
    assert not any(r.error for r in fake.requests)
