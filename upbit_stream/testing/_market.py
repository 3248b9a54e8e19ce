"""The simulated market: a seeded random walk of trades that keeps tickers, books and candles consistent.

Pure and I/O-free: the caller passes the time (epoch milliseconds) to every step. Each trade takes
liquidity from the best level of the book (a buy lifts the best ask, a sell hits the best bid), so
``best_bid <= trade_price <= best_ask`` always holds; exhausting a level moves the price. Every
number is a ``Decimal`` computed exactly (a 60-digit context), so ticker accumulations add up.
"""

from __future__ import annotations

import random
from typing import Any
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

import attrs

from .._core.enums import AskBid, Change, MarketState, MarketWarning, StreamType
from .._core.events import Candle, Orderbook, OrderbookUnit, Ticker, Trade
from ._candles import CandleBook, CandleState

__all__ = ["MARKETS", "Market", "MarketSim", "tick_size"]

_CTX = Context(prec=60)
_D8 = Decimal("0.00000001")
_D10 = Decimal("0.0000000001")
DEPTH = 30
_KST = timedelta(hours=9)

# (code, initial price). Prices are rounded to the market's tick at start.
_KRW = {
    "BTC": "142350000", "ETH": "5123000", "XRP": "3512", "SOL": "251300", "DOGE": "352",
    "ADA": "1103", "AVAX": "40150", "TRX": "351", "LINK": "25130", "DOT": "9020",
    "BCH": "651500", "ETC": "30150", "XLM": "452", "SUI": "5015", "SHIB": "0.02512",
    "NEAR": "6030", "APT": "12060", "ARB": "1012", "OP": "2518", "HBAR": "301",
    "ATOM": "8015", "ALGO": "302", "SAND": "503", "MANA": "498", "AAVE": "401200",
    "UNI": "12080", "BTT": "0.001234", "STX": "2512", "PEPE": "0.02123", "USDT": "1402",
    "ONDO": "1512", "ENS": "30120",
}
_BTC = {
    "ETH": "0.03601234", "XRP": "0.00002468", "BCH": "0.00457812", "SOL": "0.00176543",
    "DOGE": "0.00000248", "ADA": "0.00000776", "LINK": "0.00017654", "DOT": "0.00006345",
    "TRX": "0.00000247", "ATOM": "0.00005632",
}
_USDT = {"BTC": "98123.45", "ETH": "3512.34", "XRP": "2.4812", "SOL": "178.23", "DOGE": "0.25123"}


def tick_size(code: str, price: Decimal) -> Decimal:
    """Upbit's order price unit for ``price`` in the quote market of ``code``."""
    quote = code.partition("-")[0]
    if quote == "BTC":
        return _D8
    if quote == "USDT":
        if price >= 10:
            return Decimal("0.01")
        exponent = max(price.adjusted() - 3, -8)
        return Decimal(1).scaleb(exponent)
    for bound, unit in _KRW_TICKS:
        if price >= bound:
            return unit
    return _D8


_KRW_TICKS = [
    (Decimal(b), Decimal(u))
    for b, u in [
        ("2000000", "1000"), ("1000000", "1000"), ("500000", "500"), ("100000", "100"),
        ("50000", "50"), ("10000", "10"), ("5000", "5"), ("1000", "1"), ("100", "1"),
        ("10", "0.1"), ("1", "0.01"), ("0.1", "0.001"), ("0.01", "0.0001"),
        ("0.001", "0.00001"), ("0.0001", "0.000001"), ("0.00001", "0.0000001"),
    ]
]


class PairCode:
    """``quote`` and ``base`` currencies of anything with a pair ``code`` like ``KRW-BTC``."""

    __slots__ = ()
    code: str

    @property
    def quote(self) -> str:
        return self.code.partition("-")[0]

    @property
    def base(self) -> str:
        return self.code.partition("-")[2]


@attrs.frozen
class Market(PairCode):
    """One listed pair: ``code`` like ``KRW-BTC`` and the price it starts at."""

    code: str
    initial_price: Decimal


MARKETS: tuple[Market, ...] = tuple(
    Market(f"{quote}-{base}", Decimal(price))
    for quote, table in (("KRW", _KRW), ("BTC", _BTC), ("USDT", _USDT))
    for base, price in table.items()
)

# A rough quote-currency notional for a "typical" order, per quote market.
_NOTIONAL = {"KRW": Decimal(2_000_000), "BTC": Decimal("0.02"), "USDT": Decimal(1500)}


def _round_to_tick(code: str, price: Decimal) -> Decimal:
    unit = tick_size(code, price)
    return (price / unit).quantize(Decimal(1), ROUND_HALF_UP) * unit


def _above(code: str, price: Decimal) -> Decimal:
    return price + tick_size(code, price)


def _below(code: str, price: Decimal) -> Decimal:
    """The next lower valid price (the tick just below a unit boundary is the finer one)."""
    return price - tick_size(code, price - tick_size(code, price) / 2)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class _State:
    """Mutable state of one market: its book, ticker accumulations and candles."""

    def __init__(self, market: Market, rng: random.Random, now_ms: int) -> None:
        code = market.code
        self.code = code
        self.bid = _round_to_tick(code, market.initial_price)
        self.ask = self.bid + tick_size(code, self.bid)
        self.sizes: dict[Decimal, Decimal] = {}
        self.price = self.bid
        self.prev_close = _round_to_tick(code, self.price * Decimal(str(rng.uniform(0.96, 1.04))))
        self.open = self.high = self.low = self.price
        notional = _NOTIONAL[market.quote]
        day_volume = (notional * rng.randint(2_000, 40_000) / self.price).quantize(_D8)
        self.acc_volume = day_volume
        self.acc_price = _CTX.multiply(day_volume, self.price)
        self.acc_ask = (day_volume * Decimal(str(round(rng.uniform(0.4, 0.6), 4)))).quantize(_D8)
        self.acc_bid = day_volume - self.acc_ask
        self.acc_volume_24h = day_volume * 2
        self.acc_price_24h = self.acc_price * 2
        self.high52 = _round_to_tick(code, self.price * Decimal("1.42"))
        self.low52 = _round_to_tick(code, self.price * Decimal("0.55"))
        self.day = _utc(now_ms).date()
        self.last_volume = Decimal(0)
        self.last_side = AskBid.BID
        self.last_ts = now_ms
        self.last_trade: Trade | None = None  # the latest trade as published, repeated by a SNAPSHOT


class MarketSim:
    """A seeded random walk over ``markets``; ``step`` makes one trade and returns its events."""

    def __init__(self, seed: int = 0, markets: Sequence[Market] = MARKETS, now_ms: int = 0) -> None:
        self.rng = random.Random(seed)
        self.markets = tuple(markets)
        self.codes = tuple(m.code for m in self.markets)
        self._states = {m.code: _State(m, self.rng, now_ms) for m in self.markets}
        # Busier markets trade more often: KRW-BTC and KRW-ETH lead, as on the real exchange.
        self._weights = [8 if m.code in ("KRW-BTC", "KRW-ETH") else 3 if m.quote == "KRW" else 1
                         for m in self.markets]
        self._seq = 0
        self.candles = CandleBook()
        for st in self._states.values():
            self.candles.seed(st.code, st.price, now_ms)
        self.trades = 0

    # -- state views -------------------------------------------------------------------------

    def __contains__(self, code: object) -> bool:
        return code in self._states

    def tick_size(self, code: str) -> Decimal:
        return tick_size(code, self._states[code].price)

    def price(self, code: str) -> Decimal:
        return self._states[code].price

    def best(self, code: str) -> tuple[Decimal, Decimal]:
        """The best bid and best ask of ``code``."""
        st = self._states[code]
        return st.bid, st.ask

    def _size(self, st: _State, price: Decimal) -> Decimal:
        size = st.sizes.get(price)
        if size is None:
            quote = st.code.partition("-")[0]
            notional = _NOTIONAL[quote] * Decimal(str(round(self.rng.lognormvariate(0, 1.0), 4)))
            size = max((notional / price).quantize(_D8), _D8)
            st.sizes[price] = size
        return size

    def _ladder(self, st: _State, start: Decimal, up: bool, n: int = DEPTH) -> list[Decimal]:
        prices, p = [], start
        for _ in range(n):
            if p <= 0:
                break
            prices.append(p)
            p = _above(st.code, p) if up else _below(st.code, p)
        return prices

    def orderbook(self, code: str, now_ms: int, depth: int = DEPTH, level: Decimal = Decimal(0),
                  stream_type: StreamType = StreamType.REALTIME) -> Orderbook:
        """The book of ``code``: ``depth`` unit pairs, grouped to multiples of ``level`` if non-zero."""
        st = self._states[code]
        asks = [(p, self._size(st, p)) for p in self._ladder(st, st.ask, True)]
        bids = [(p, self._size(st, p)) for p in self._ladder(st, st.bid, False)]
        if level:
            asks = _group(asks, level, ROUND_CEILING)
            bids = _group(bids, level, ROUND_FLOOR)
        n = min(depth, len(asks), len(bids))
        units = tuple(OrderbookUnit(ask_price=asks[i][0], bid_price=bids[i][0], ask_size=asks[i][1],
                                    bid_size=bids[i][1]) for i in range(n))
        return Orderbook(code=code, total_ask_size=sum((u.ask_size for u in units), Decimal(0)),
                         total_bid_size=sum((u.bid_size for u in units), Decimal(0)),
                         orderbook_units=units, timestamp=now_ms, level=level, stream_type=stream_type)

    def ticker(self, code: str, now_ms: int, stream_type: StreamType = StreamType.REALTIME) -> Ticker:
        st = self._states[code]
        signed = st.price - st.prev_close
        rate = _CTX.divide(signed, st.prev_close).quantize(_D10, ROUND_HALF_UP)
        when = _utc(st.last_ts)
        return Ticker(
            code=code, opening_price=st.open, high_price=st.high, low_price=st.low,
            trade_price=st.price, prev_closing_price=st.prev_close, change=_change(signed),
            change_price=abs(signed), signed_change_price=signed, change_rate=abs(rate),
            signed_change_rate=rate, trade_volume=st.last_volume, acc_trade_volume=st.acc_volume,
            acc_trade_volume_24h=st.acc_volume_24h, acc_trade_price=st.acc_price,
            acc_trade_price_24h=st.acc_price_24h, trade_date=when.strftime("%Y%m%d"),
            trade_time=when.strftime("%H%M%S"), trade_timestamp=st.last_ts, ask_bid=st.last_side,
            acc_ask_volume=st.acc_ask, acc_bid_volume=st.acc_bid,
            highest_52_week_price=max(st.high52, st.high), highest_52_week_date="2026-03-14",
            lowest_52_week_price=min(st.low52, st.low), lowest_52_week_date="2025-08-02",
            market_state=MarketState.ACTIVE, is_trading_suspended=False, delisting_date=None,
            market_warning=MarketWarning.NONE, timestamp=now_ms, stream_type=stream_type,
        )

    def candle(self, code: str, interval: str, now_ms: int,
               stream_type: StreamType = StreamType.REALTIME) -> Candle:
        """The current (or most recent existing) candle of ``code`` at ``interval``."""
        return self.candle_event(code, interval, self.candles.current(code, interval), now_ms, stream_type)

    @staticmethod
    def candle_event(code: str, interval: str, c: CandleState, now_ms: int,
                     stream_type: StreamType = StreamType.REALTIME) -> Candle:
        """The event of candle ``c`` (of ``code`` at ``interval``), stamped ``now_ms``."""
        utc = _utc(c.start)
        return Candle(
            type=f"candle.{interval}", code=code,
            candle_date_time_utc=utc.strftime("%Y-%m-%dT%H:%M:%S"),
            candle_date_time_kst=(utc + _KST).strftime("%Y-%m-%dT%H:%M:%S"),
            opening_price=c.open, high_price=c.high, low_price=c.low, trade_price=c.close,
            candle_acc_trade_volume=c.volume, candle_acc_trade_price=c.amount,
            timestamp=now_ms, stream_type=stream_type,
        )

    def last_trade(self, code: str, now_ms: int, stream_type: StreamType = StreamType.REALTIME) -> Trade:
        """The most recent trade of ``code``, as it was published (its own ``sequential_id``), stamped ``now_ms``.

        Before the first simulated trade it is a synthetic one, the same one every time.
        """
        st = self._states[code]
        if st.last_trade is None:
            st.last_trade = self._trade_event(st, st.price, st.last_volume or _D8, st.last_side, st.last_ts,
                                              st.last_ts, st.last_ts * 10_000, StreamType.REALTIME)
        return attrs.evolve(st.last_trade, timestamp=now_ms, stream_type=stream_type)

    # -- stepping ----------------------------------------------------------------------------

    def step(self, now_ms: int, code: str | None = None) -> tuple[Trade, Ticker, Orderbook]:
        """Make one trade (in ``code``, or a market picked at random) and return its events."""
        trade = self.step_trade(now_ms, code)
        return trade, self.ticker(trade.code, now_ms), self.orderbook(trade.code, now_ms)

    def step_trade(self, now_ms: int, code: str | None = None) -> Trade:
        """Make one trade and return it; ticker, book and candles are updated (read them on demand)."""
        if code is None:
            code = self.rng.choices(self.codes, self._weights)[0]
        st = self._states[code]
        rng = self.rng
        self._refill(st)  # before the trade, so the published book still brackets its price
        side = AskBid.BID if rng.random() < 0.5 else AskBid.ASK
        price = st.ask if side is AskBid.BID else st.bid
        size = self._size(st, price)
        volume = max((size * Decimal(str(round(rng.uniform(0.02, 1.3), 4)))).quantize(_D8), _D8)
        if volume >= size:
            volume = size
            del st.sizes[price]
            if side is AskBid.BID:
                st.ask = _above(code, price)
            elif _below(code, price) > 0:
                st.bid = _below(code, price)
            else:
                st.sizes[price] = volume  # the floor of the book: liquidity never runs out
        else:
            st.sizes[price] = size - volume
        self._record(st, price, volume, side, now_ms)
        self._seq += 1
        trade = self._trade_event(st, price, volume, side, now_ms, now_ms, self._seq_id(now_ms),
                                  StreamType.REALTIME)
        st.last_trade = trade
        self.trades += 1
        if self.trades % 256 == 0:
            self._prune(st)
        return trade

    def _refill(self, st: _State) -> None:
        """New liquidity: sometimes a gap in the spread is filled from either side."""
        rng = self.rng
        gap_above = st.bid + tick_size(st.code, st.bid)
        if gap_above < st.ask and rng.random() < 0.6:
            if rng.random() < 0.5:
                st.bid = gap_above
            else:
                st.ask = _below(st.code, st.ask)
        if rng.random() < 0.2:  # resize one random level
            ladder = self._ladder(st, st.ask if rng.random() < 0.5 else st.bid, rng.random() < 0.5)
            st.sizes.pop(ladder[rng.randrange(len(ladder))], None)

    def _record(self, st: _State, price: Decimal, volume: Decimal, side: AskBid, now_ms: int) -> None:
        day = _utc(now_ms).date()
        if day != st.day:  # UTC midnight: a new trading day
            st.day, st.prev_close = day, st.price
            st.open = st.high = st.low = price
            st.acc_volume = st.acc_price = st.acc_ask = st.acc_bid = Decimal(0)
        st.price, st.last_volume, st.last_side, st.last_ts = price, volume, side, now_ms
        st.high, st.low = max(st.high, price), min(st.low, price)
        amount = _CTX.multiply(price, volume)
        st.acc_volume = _CTX.add(st.acc_volume, volume)
        st.acc_price = _CTX.add(st.acc_price, amount)
        st.acc_volume_24h = _CTX.add(st.acc_volume_24h, volume)
        st.acc_price_24h = _CTX.add(st.acc_price_24h, amount)
        if side is AskBid.ASK:
            st.acc_ask = _CTX.add(st.acc_ask, volume)
        else:
            st.acc_bid = _CTX.add(st.acc_bid, volume)
        self.candles.record(st.code, price, volume, amount, now_ms)

    def _prune(self, st: _State) -> None:
        keep = set(self._ladder(st, st.ask, True, DEPTH + 10)) | set(self._ladder(st, st.bid, False, DEPTH + 10))
        st.sizes = {p: s for p, s in st.sizes.items() if p in keep}

    def _seq_id(self, ts: int) -> int:
        return ts * 10_000 + self._seq % 10_000

    def _trade_event(self, st: _State, price: Decimal, volume: Decimal, side: AskBid, trade_ts: int,
                     now_ms: int, seq: int, stream_type: StreamType) -> Trade:
        when = _utc(trade_ts)
        change = price - st.prev_close
        return Trade(
            code=st.code, trade_price=price, trade_volume=volume, ask_bid=side,
            prev_closing_price=st.prev_close, change=_change(change), change_price=abs(change),
            trade_date=when.strftime("%Y-%m-%d"), trade_time=when.strftime("%H:%M:%S"),
            trade_timestamp=trade_ts, timestamp=now_ms, sequential_id=seq,
            best_ask_price=st.ask, best_ask_size=self._size(st, st.ask),
            best_bid_price=st.bid, best_bid_size=self._size(st, st.bid), stream_type=stream_type,
        )

    def take_dirty(self) -> list[tuple[str, str, CandleState]]:
        """The candles a trade changed since the last call, each once (closed periods first: see ``CandleBook``)."""
        return self.candles.take_dirty()

    def take_dirty_candles(self, now_ms: int) -> list[Candle]:
        """Candles changed by a trade since the last call (REALTIME), at most one per code, unit and period."""
        return [self.candle_event(code, unit, c, now_ms) for code, unit, c in self.take_dirty()]

    def level_supported(self, code: str, level: Decimal) -> bool:
        """Grouping exists for KRW markets at multiples of the tick; BTC/USDT markets only have 0."""
        if not level:
            return True
        return code.startswith("KRW-") and level % self.tick_size(code) == 0

    def snapshot_events(self, type_: str, codes: Iterable[str], now_ms: int) -> list[Any]:
        """SNAPSHOT events of ``type_`` (ticker, trade, candle.*) for ``codes``."""
        snap = StreamType.SNAPSHOT
        if type_ == "ticker":
            return [self.ticker(c, now_ms, snap) for c in codes]
        if type_ == "trade":
            return [self.last_trade(c, now_ms, snap) for c in codes]
        interval = type_.partition(".")[2]
        return [self.candle(c, interval, now_ms, snap) for c in codes]


def _change(signed: Decimal) -> Change:
    return Change.RISE if signed > 0 else Change.FALL if signed < 0 else Change.EVEN


def _group(levels: list[tuple[Decimal, Decimal]], level: Decimal, rounding: str) -> list[tuple[Decimal, Decimal]]:
    """Bucket prices to multiples of ``level`` (asks up, bids down) and sum the sizes per bucket."""
    out: dict[Decimal, Decimal] = {}
    for price, size in levels:
        bucket = (price / level).quantize(Decimal(1), rounding) * level
        out[bucket] = _CTX.add(out.get(bucket, Decimal(0)), size)
    return list(out.items())
