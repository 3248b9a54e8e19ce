"""The simulated market's output: publishing events to subscribed connections, trades and candles on cadence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from .._core.encode import encode_event
from .._core.enums import Format
from ._replay import reshape_book

if TYPE_CHECKING:
    from ._connection import Connection
    from ._info_market import InfoMarket
    from ._market import MarketSim
    from ._replay import ReplayFrame

__all__ = ["Publishing"]


class Publishing:
    """Mixed into ``FakeUpbit``: everything the exchange sends of its own accord."""

    # provided by FakeUpbit
    _conns: dict[int, Connection]
    _replay_frames: list[ReplayFrame]
    market: MarketSim
    info_market: InfoMarket
    rate: float
    blast: bool
    now_ms: Any
    _t0: float
    _epoch_ms: int

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, event: Any, recorded: bool = False) -> int:
        """Send one event to every connection subscribed to it; return how many frames were queued.

        An orderbook is reshaped per subscription (depth, ``level``): from the simulated market, or
        ``recorded`` (a replayed book) from the event itself.
        """
        type_ = event.type
        queued = 0
        if type_ == "myOrder" or type_ == "myAsset":
            cache: dict[Format, bytes] = {}
            for conn in self._conns.values():
                if conn.endpoint != "private" or conn.auth_error is not None:
                    continue
                if type_ == "myAsset" and not conn.my_asset:
                    continue
                if type_ == "myOrder" and (conn.my_order is None or (conn.my_order and event.code not in conn.my_order)):
                    continue
                frame = cache.get(conn.format) or cache.setdefault(conn.format, encode_event(event, conn.format))
                queued += conn.queue.put(frame)
            return queued
        key = (type_, event.code)
        frames: dict[tuple[Format, Any], bytes] = {}
        cache_key: tuple[Format, Any]
        for conn in self._conns.values():
            variants = conn.realtime.get(key)
            if not variants:
                continue
            for variant in variants:
                if type_ == "orderbook" and variant != (len(event.orderbook_units), event.level):
                    depth, level = variant
                    cache_key = (conn.format, variant)
                    cached = frames.get(cache_key)
                    if cached is None:
                        if recorded:
                            ev = reshape_book(event, depth, level)
                        elif self.market.level_supported(event.code, level) and event.code in self.market:
                            ev = self.market.orderbook(event.code, event.timestamp, depth, level)
                        else:
                            ev = None
                        cached = frames[cache_key] = b"" if ev is None else encode_event(ev, conn.format)
                    if not cached:
                        continue  # a level that book cannot have: nothing streams
                    frame = cached
                else:
                    cache_key = (conn.format, None)
                    cached = frames.get(cache_key)
                    if cached is None:
                        cached = frames[cache_key] = encode_event(event, conn.format)
                    frame = cached
                queued += conn.queue.put(frame)
        return queued

    def _wanted(self, type_: str, code: str) -> bool:
        key = (type_, code)
        return any(key in conn.realtime for conn in self._conns.values())

    def tick(self, n: int = 1, code: str | None = None) -> list[Any]:
        """Make ``n`` trades now (in ``code`` or random markets), publish them; return the trades."""
        trades = []
        for _ in range(n):
            now_ms = self.now_ms()
            trade = self.market.step_trade(now_ms, code)
            trades.append(trade)
            if trade.trade_volume is not None:
                self.info_market.on_trade(trade.code, trade.trade_volume)
            if not self._conns:
                continue
            c = trade.code
            if self._wanted("trade", c):
                self.publish(trade)
            if self._wanted("ticker", c):
                self.publish(self.market.ticker(c, now_ms))
            if self._wanted("orderbook", c):
                self.publish(self.market.orderbook(c, now_ms))
        return trades

    def flush_candles(self, now_ms: int | None = None) -> int:
        """Publish the candles changed since the last flush, stamped ``now_ms`` (default now): a period
        that closed since then gets its final update before the candle that followed it.
        The clock calls this on every wall-clock second (of ``now_ms``)."""
        stamp: int = self.now_ms() if now_ms is None else now_ms
        sent = 0
        for code, unit, candle in self.market.take_dirty():
            if self._wanted(f"candle.{unit}", code):
                sent += self.publish(self.market.candle_event(code, unit, candle, stamp))
        return sent

    async def _market_loop(self) -> None:
        if self.rate <= 0 or self.blast or self._replay_frames:
            return
        start, produced = trio.current_time(), 0
        while True:
            await trio.sleep_until(start + (produced + 1) / self.rate)
            due = int((trio.current_time() - start) * self.rate) - produced
            if due > 1000:  # fell far behind (a stalled process): skip rather than burst
                produced += due - 1000
                due = 1000
            self.tick(due)
            produced += due

    async def _candle_loop(self) -> None:
        """Flush candles at every whole second of the exchange's clock (``now_ms``), as Upbit's 1 s tick."""
        boundary = 0
        while True:
            boundary = max((self.now_ms() // 1000 + 1) * 1000, boundary + 1000)
            await trio.sleep_until(self._t0 + (boundary - self._epoch_ms) / 1000)
            self.flush_candles(max(self.now_ms(), boundary))
