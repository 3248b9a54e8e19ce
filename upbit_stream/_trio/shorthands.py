"""The session's typed shorthands: ``session.ticker(...)`` is ``session.subscribe(ub.ticker(...), ...)``."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from .._core.events import Candle, MyAsset, MyOrder, Orderbook, Ticker, Trade
from .._core.indicators import IndicatorParams, SignalCondition, Timeframe
from .._core.info_events import Announcement, Indicator, IndicatorSignal
from .._core.markers import StreamGap
from .._core.specs import (
    Mode,
    Spec,
    announcement,
    candle,
    indicator,
    indicator_signal,
    my_asset,
    my_order,
    orderbook,
    ticker,
    trade,
)
from .channel import SubscriptionChannel

__all__ = ["Overflow", "SubscribeShorthands", "Subscription"]

E = TypeVar("E")
Overflow = Literal["latest", "strict"]
#: What ``subscribe()`` and the shorthands return: ``async with ... as channel``.
Subscription = AbstractAsyncContextManager[SubscriptionChannel[E]]
Codes = str | Iterable[str]


class SubscribeShorthands:
    """A shorthand per spec constructor (``ticker`` … ``indicator_signal``) with its options spelled out.

    Each takes the spec constructor's own arguments, then ``buffer`` (events a slow consumer may
    leave unread), ``overflow`` (``"latest"`` or ``"strict"``; default by type) and ``gaps`` (a
    ``StreamGap`` marker first after each reconnect), and returns the subscription's async context
    manager, as ``subscribe()`` does.
    """

    if TYPE_CHECKING:
        def subscribe(self, *specs: Spec[Any], buffer: int | None = None, overflow: Overflow | None = None,
                      gaps: bool = False) -> Subscription[Any]: ...

    @overload
    def ticker(self, codes: Codes, *, mode: Mode = ..., buffer: int | None = ..., overflow: Overflow | None = ...,
               gaps: Literal[False] = ...) -> Subscription[Ticker]: ...
    @overload
    def ticker(self, codes: Codes, *, mode: Mode = ..., buffer: int | None = ..., overflow: Overflow | None = ...,
               gaps: Literal[True]) -> Subscription[Ticker | StreamGap]: ...
    def ticker(self, codes: Codes, *, mode: Mode = "both", buffer: int | None = None,
               overflow: Overflow | None = None, gaps: bool = False) -> Subscription[Any]:
        """Current price and 24 h statistics of ``codes``: ``subscribe(ub.ticker(codes, mode=mode), …)``."""
        return self.subscribe(ticker(codes, mode=mode), buffer=buffer, overflow=overflow, gaps=gaps)

    @overload
    def trade(self, codes: Codes, *, mode: Mode = ..., buffer: int | None = ..., overflow: Overflow | None = ...,
              gaps: Literal[False] = ...) -> Subscription[Trade]: ...
    @overload
    def trade(self, codes: Codes, *, mode: Mode = ..., buffer: int | None = ..., overflow: Overflow | None = ...,
              gaps: Literal[True]) -> Subscription[Trade | StreamGap]: ...
    def trade(self, codes: Codes, *, mode: Mode = "both", buffer: int | None = None,
              overflow: Overflow | None = None, gaps: bool = False) -> Subscription[Any]:
        """Every executed trade of ``codes``: ``subscribe(ub.trade(codes, mode=mode), …)``."""
        return self.subscribe(trade(codes, mode=mode), buffer=buffer, overflow=overflow, gaps=gaps)

    @overload
    def orderbook(self, codes: Codes, *, mode: Mode = ..., depth: int | None = ...,
                  level: int | str | Decimal | None = ..., buffer: int | None = ...,
                  overflow: Overflow | None = ..., gaps: Literal[False] = ...) -> Subscription[Orderbook]: ...
    @overload
    def orderbook(self, codes: Codes, *, mode: Mode = ..., depth: int | None = ...,
                  level: int | str | Decimal | None = ..., buffer: int | None = ...,
                  overflow: Overflow | None = ..., gaps: Literal[True]) -> Subscription[Orderbook | StreamGap]: ...
    def orderbook(self, codes: Codes, *, mode: Mode = "both", depth: int | None = None,
                  level: int | str | Decimal | None = None, buffer: int | None = None,
                  overflow: Overflow | None = None, gaps: bool = False) -> Subscription[Any]:
        """Order books of ``codes``: ``subscribe(ub.orderbook(codes, mode=…, depth=…, level=…), …)``."""
        spec = orderbook(codes, mode=mode, depth=depth, level=level)
        return self.subscribe(spec, buffer=buffer, overflow=overflow, gaps=gaps)

    @overload
    def candle(self, codes: Codes, interval: str = ..., *, mode: Mode = ..., buffer: int | None = ...,
               overflow: Overflow | None = ..., gaps: Literal[False] = ...) -> Subscription[Candle]: ...
    @overload
    def candle(self, codes: Codes, interval: str = ..., *, mode: Mode = ..., buffer: int | None = ...,
               overflow: Overflow | None = ..., gaps: Literal[True]) -> Subscription[Candle | StreamGap]: ...
    def candle(self, codes: Codes, interval: str = "1m", *, mode: Mode = "both", buffer: int | None = None,
               overflow: Overflow | None = None, gaps: bool = False) -> Subscription[Any]:
        """Candles of ``codes`` at ``interval``: ``subscribe(ub.candle(codes, interval, mode=mode), …)``."""
        return self.subscribe(candle(codes, interval, mode=mode), buffer=buffer, overflow=overflow, gaps=gaps)

    @overload
    def my_order(self, codes: Codes | None = ..., *, buffer: int | None = ..., overflow: Overflow | None = ...,
                 gaps: Literal[False] = ...) -> Subscription[MyOrder]: ...
    @overload
    def my_order(self, codes: Codes | None = ..., *, buffer: int | None = ..., overflow: Overflow | None = ...,
                 gaps: Literal[True]) -> Subscription[MyOrder | StreamGap]: ...
    def my_order(self, codes: Codes | None = None, *, buffer: int | None = None, overflow: Overflow | None = None,
                 gaps: bool = False) -> Subscription[Any]:
        """The account's orders and fills (every market when ``codes`` is None): ``subscribe(ub.my_order(codes), …)``."""
        return self.subscribe(my_order(codes), buffer=buffer, overflow=overflow, gaps=gaps)

    @overload
    def my_asset(self, *, buffer: int | None = ..., overflow: Overflow | None = ...,
                 gaps: Literal[False] = ...) -> Subscription[MyAsset]: ...
    @overload
    def my_asset(self, *, buffer: int | None = ..., overflow: Overflow | None = ...,
                 gaps: Literal[True]) -> Subscription[MyAsset | StreamGap]: ...
    def my_asset(self, *, buffer: int | None = None, overflow: Overflow | None = None,
                 gaps: bool = False) -> Subscription[Any]:
        """The account's holdings whenever they change: ``subscribe(ub.my_asset(), …)``."""
        return self.subscribe(my_asset(), buffer=buffer, overflow=overflow, gaps=gaps)

    @overload
    def announcement(self, categories: str | Iterable[str] | None = ..., *, include_body: bool = ...,
                     buffer: int | None = ..., overflow: Overflow | None = ...,
                     gaps: Literal[False] = ...) -> Subscription[Announcement]: ...
    @overload
    def announcement(self, categories: str | Iterable[str] | None = ..., *, include_body: bool = ...,
                     buffer: int | None = ..., overflow: Overflow | None = ...,
                     gaps: Literal[True]) -> Subscription[Announcement | StreamGap]: ...
    def announcement(self, categories: str | Iterable[str] | None = None, *, include_body: bool = False,
                     buffer: int | None = None, overflow: Overflow | None = None,
                     gaps: bool = False) -> Subscription[Any]:
        """Upbit's notices as published: ``subscribe(ub.announcement(categories, include_body=…), …)``."""
        spec = announcement(categories, include_body=include_body)
        return self.subscribe(spec, buffer=buffer, overflow=overflow, gaps=gaps)

    @overload
    def indicator(self, codes: Codes, timeframe: Timeframe, indicators: IndicatorParams | Iterable[IndicatorParams],
                  *, buffer: int | None = ..., overflow: Overflow | None = ...,
                  gaps: Literal[False] = ...) -> Subscription[Indicator]: ...
    @overload
    def indicator(self, codes: Codes, timeframe: Timeframe, indicators: IndicatorParams | Iterable[IndicatorParams],
                  *, buffer: int | None = ..., overflow: Overflow | None = ...,
                  gaps: Literal[True]) -> Subscription[Indicator | StreamGap]: ...
    def indicator(self, codes: Codes, timeframe: Timeframe, indicators: IndicatorParams | Iterable[IndicatorParams],
                  *, buffer: int | None = None, overflow: Overflow | None = None,
                  gaps: bool = False) -> Subscription[Any]:
        """Indicator values at each candle close: ``subscribe(ub.indicator(codes, timeframe, indicators), …)``."""
        spec = indicator(codes, timeframe, indicators)
        return self.subscribe(spec, buffer=buffer, overflow=overflow, gaps=gaps)

    @overload
    def indicator_signal(self, codes: Codes, timeframe: Timeframe, signals: SignalCondition | Iterable[SignalCondition],
                         *, buffer: int | None = ..., overflow: Overflow | None = ...,
                         gaps: Literal[False] = ...) -> Subscription[IndicatorSignal]: ...
    @overload
    def indicator_signal(self, codes: Codes, timeframe: Timeframe, signals: SignalCondition | Iterable[SignalCondition],
                         *, buffer: int | None = ..., overflow: Overflow | None = ...,
                         gaps: Literal[True]) -> Subscription[IndicatorSignal | StreamGap]: ...
    def indicator_signal(self, codes: Codes, timeframe: Timeframe,
                         signals: SignalCondition | Iterable[SignalCondition], *, buffer: int | None = None,
                         overflow: Overflow | None = None, gaps: bool = False) -> Subscription[Any]:
        """Conditions turning true at a candle close: ``subscribe(ub.indicator_signal(codes, timeframe, signals), …)``."""
        spec = indicator_signal(codes, timeframe, signals)
        return self.subscribe(spec, buffer=buffer, overflow=overflow, gaps=gaps)
