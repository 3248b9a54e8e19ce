"""The simulated market and account: consistency, determinism, and private events on the wire."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from upbit_stream import AskBid, Change
from upbit_stream.testing import MARKETS, tick_size
from upbit_stream.testing._market import MarketSim
from upbit_stream.testing._account import Account, InsufficientFunds

from ._helpers import connect, send, sync

NOW = 1_780_000_000_000


def test_market_list_is_realistic():
    quotes = [m.quote for m in MARKETS]
    assert quotes.count("KRW") >= 30 and quotes.count("BTC") >= 10 and quotes.count("USDT") >= 5
    assert len({m.code for m in MARKETS}) == len(MARKETS)
    for m in MARKETS:
        assert m.code == m.code.upper()
    assert tick_size("KRW-BTC", Decimal(140_000_000)) == 1000
    assert tick_size("KRW-XRP", Decimal(3500)) == 1
    assert tick_size("KRW-DOGE", Decimal(350)) == 1
    assert tick_size("KRW-SHIB", Decimal("0.025")) == Decimal("0.0001")
    assert tick_size("BTC-ETH", Decimal("0.036")) == Decimal("0.00000001")


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32), steps=st.integers(1, 300))
def test_trades_stay_inside_the_book_and_accumulations_add_up(seed, steps):
    sim = MarketSim(seed, now_ms=NOW)
    before = {c: sim.ticker(c, NOW) for c in sim.codes}
    volumes: dict[str, Decimal] = {}
    amounts: dict[str, Decimal] = {}
    for i in range(steps):
        trade, ticker, book = sim.step(NOW + i * 10)
        best = book.orderbook_units[0]
        assert best.bid_price <= trade.trade_price <= best.ask_price
        assert best.bid_price < best.ask_price and len(book.orderbook_units) == 30
        assert trade.best_bid_price == best.bid_price and trade.best_ask_price == best.ask_price
        assert ticker.trade_price == trade.trade_price and ticker.trade_volume == trade.trade_volume
        assert ticker.acc_ask_volume + ticker.acc_bid_volume == ticker.acc_trade_volume
        assert ticker.low_price <= trade.trade_price <= ticker.high_price
        assert trade.trade_price % tick_size(trade.code, trade.trade_price) == 0
        assert ticker.change == (Change.RISE if ticker.signed_change_price > 0 else
                                 Change.FALL if ticker.signed_change_price < 0 else Change.EVEN)
        assert trade.sequential_id > 2**53
        volumes[trade.code] = volumes.get(trade.code, Decimal(0)) + trade.trade_volume
        amounts[trade.code] = amounts.get(trade.code, Decimal(0)) + trade.trade_price * trade.trade_volume
        for unit in ("1s", "1m", "240m"):
            candle = sim.candle(trade.code, unit, NOW)
            assert candle.trade_price == trade.trade_price
            assert candle.low_price <= candle.trade_price <= candle.high_price
    for code, volume in volumes.items():
        after = sim.ticker(code, NOW)
        assert after.acc_trade_volume - before[code].acc_trade_volume == volume
        assert after.acc_trade_price - before[code].acc_trade_price == amounts[code]


def test_market_is_deterministic_for_a_seed():
    def run(seed):
        sim = MarketSim(seed, now_ms=NOW)
        return [sim.step(NOW + i) for i in range(200)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_level_grouping_sums_sizes():
    sim = MarketSim(1, now_ms=NOW)
    raw = sim.orderbook("KRW-BTC", NOW)
    grouped = sim.orderbook("KRW-BTC", NOW, level=Decimal(10000))
    assert all(u.ask_price % 10000 == 0 and u.bid_price % 10000 == 0 for u in grouped.orderbook_units)
    n = len(grouped.orderbook_units)
    assert grouped.total_ask_size <= raw.total_ask_size and n < 30
    assert grouped.orderbook_units[0].ask_size >= raw.orderbook_units[0].ask_size


def test_account_order_lifecycle_pure():
    acct = Account({"KRW": "1000000"})
    uuid, events = acct.place_order("KRW-BTC", "bid", "limit", "100000000", "0.005", NOW)
    wait, asset = events
    assert wait.state == "wait" and wait.remaining_volume == Decimal("0.005")
    assert asset.assets[0].locked == Decimal("500250.0000")  # 500000 + 0.05 % fee
    events = acct.fill(uuid, NOW, "0.002")
    assert [e.type for e in events] == ["myOrder", "myAsset"] and events[0].state == "trade"
    assert events[0].volume == Decimal("0.002") and events[0].trade_uuid
    events = acct.fill(uuid, NOW)
    assert [getattr(e, "state", None) for e in events] == ["trade", "done", None]
    assert acct.balances["BTC"] == Decimal("0.005") and acct.locked["KRW"] == 0
    assert acct.balances["KRW"] == Decimal(1000000) - Decimal("500250")
    with pytest.raises(InsufficientFunds):
        acct.place_order("KRW-BTC", "bid", "limit", "100000000", "1", NOW)
    uuid, _ = acct.place_order("KRW-BTC", "ask", "limit", "200000000", "0.001", NOW)
    order, asset = acct.cancel(uuid, NOW)
    assert order.state == "cancel" and asset.assets[0].currency == "BTC" and asset.assets[0].locked == 0


async def test_private_events_flow_to_subscribers_filtered_by_code(fake):
    with trio.fail_after(10):
        async with connect(fake, private=True) as all_ws, connect(fake, private=True) as eth_ws:
            await send(all_ws, [{"ticket": "a"}, {"type": "myOrder"}, {"type": "myAsset"}, {"format": "SIMPLE"}])
            await send(eth_ws, [{"ticket": "b"}, {"type": "myOrder", "codes": ["KRW-ETH"]}])
            assert await sync(all_ws) == [] and await sync(eth_ws) == []
            uuid = fake.place_order("KRW-BTC", "bid", "limit", price="100000000", volume="0.01")
            fake.fill(uuid, volume="0.004")
            fake.cancel(uuid)
            frames = await sync(all_ws)
            states = [(f["ty"], f.get("s")) for f in frames]
            assert states == [("myOrder", "wait"), ("myAsset", None), ("myOrder", "trade"), ("myAsset", None),
                              ("myOrder", "cancel"), ("myAsset", None)]
            assert frames[2]["v"] == 0.004 and frames[4]["ev"] == 0.004
            assert await sync(eth_ws) == []
            eth = fake.place_order("KRW-ETH", "ask", "market", volume="1")
            frames = await sync(eth_ws)
            assert [f["state"] for f in frames] == ["wait", "trade", "done"]
            assert frames[1]["ask_bid"] == AskBid.ASK and frames[1]["price"] == float(fake.market.best("KRW-ETH")[0])
            assert eth == frames[0]["uuid"]


def test_a_trade_snapshot_repeats_the_codes_last_trade_with_its_own_sequential_id() -> None:
    from upbit_stream._core.enums import StreamType
    from upbit_stream.testing._market import MarketSim

    market = MarketSim(seed=3, now_ms=1_000)
    before = market.last_trade("KRW-BTC", 1_000, StreamType.SNAPSHOT)
    assert market.last_trade("KRW-BTC", 1_500, StreamType.SNAPSHOT).sequential_id == before.sequential_id
    trades = [market.step_trade(2_000 + n, "KRW-BTC") for n in range(3)]
    market.step_trade(3_000, "KRW-ETH")  # another market's trade moves the global counter
    snapshot = market.last_trade("KRW-BTC", 4_000, StreamType.SNAPSHOT)
    assert snapshot.sequential_id == trades[-1].sequential_id
    assert (snapshot.trade_price, snapshot.trade_volume, snapshot.trade_timestamp) == (
        trades[-1].trade_price, trades[-1].trade_volume, trades[-1].trade_timestamp)
    assert (snapshot.timestamp, snapshot.stream_type) == (4_000, StreamType.SNAPSHOT)
