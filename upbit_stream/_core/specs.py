"""Subscription specs: what a subscriber asks for, validated by the public constructors."""


import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Literal, TypeVar

import attrs

from .enums import AnnouncementCategory
from .events import CANDLE_INTERVALS, Candle, MyAsset, MyOrder, Orderbook, Ticker, Trade
from .indicators import (
    MAX_COMBINATIONS,
    TIMEFRAMES,
    VALUE_RULES,
    IndicatorParams,
    SignalCondition,
    Timeframe,
    condition_problem,
    params_problem,
)
from .info_events import Announcement, Indicator, IndicatorSignal

__all__ = [
    "Mode",
    "Spec",
    "announcement",
    "candle",
    "indicator",
    "indicator_signal",
    "my_asset",
    "my_order",
    "orderbook",
    "ticker",
    "trade",
]

Mode = Literal["both", "realtime", "snapshot"]
MODES: tuple[str, ...] = ("both", "realtime", "snapshot")
DEPTHS: tuple[int, ...] = (1, 5, 15, 30)
PUBLIC_TYPES: frozenset[str] = frozenset(
    {"ticker", "trade", "orderbook", *(f"candle.{unit}" for unit in CANDLE_INTERVALS)}
)
PRIVATE_TYPES: frozenset[str] = frozenset({"myOrder", "myAsset", "announcement"})
INFO_TYPES: frozenset[str] = frozenset({"indicator", "indicator_signal"})
#: Types Upbit streams in realtime only (no SNAPSHOT, mode "realtime" only).
REALTIME_ONLY_TYPES: frozenset[str] = PRIVATE_TYPES | INFO_TYPES
CATEGORIES: tuple[str, ...] = tuple(AnnouncementCategory)

_CODE = re.compile(r"[A-Z0-9]{2,10}-[A-Z0-9]{1,20}")

#: The event class a spec's subscription yields (``Spec[Ticker]`` from ``ticker()``).
EventT_co = TypeVar("EventT_co", covariant=True)


@attrs.frozen
class Spec(Generic[EventT_co]):
    """One type of data for a set of codes, as a subscriber wants it; typed by the events it yields.

    Build specs with ``ticker()`` (a ``Spec[Ticker]``), ``trade()``, ``orderbook()``, ``candle()``,
    ``my_order()``, ``my_asset()``, ``announcement()``, ``indicator()`` and ``indicator_signal()``;
    they validate their arguments, and so does this class: anything no constructor would build
    raises ``ValueError``.
    """

    type: str
    codes: tuple[str, ...]
    mode: Mode = "both"
    depth: int | None = None
    level: Decimal | None = None
    timeframe: str | None = None  # indicator types
    indicators: tuple[IndicatorParams | SignalCondition, ...] = ()  # indicator types
    categories: tuple[str, ...] | None = None  # announcement: None = every category
    include_body: bool = False  # announcement

    def __attrs_post_init__(self) -> None:
        problem = _spec_problem(self)
        if problem is not None:
            raise ValueError(f"not a valid Spec ({problem}); build specs with upbit_stream.ticker(), trade(), "
                             "orderbook(), candle(), my_order() or my_asset()")

    @property
    def endpoint(self) -> Literal["public", "private", "info"]:
        """Which connection serves this spec."""
        if self.type in INFO_TYPES:
            return "info"
        return "private" if self.type in PRIVATE_TYPES else "public"

    @property
    def combinations(self) -> int:
        """How many (code, indicator) combinations an indicator spec asks for (Upbit caps a connection at 100)."""
        return len(self.codes) * len(self.indicators)

    @property
    def all_codes(self) -> bool:
        """True for ``my_order()`` without codes: every market of the account."""
        return self.type == "myOrder" and not self.codes


def _spec_problem(spec: Spec[object]) -> str | None:
    """What makes ``spec`` something no constructor would build, or None."""
    private = spec.type in REALTIME_ONLY_TYPES
    if spec.type not in PUBLIC_TYPES and not private:
        return f"unknown type {spec.type!r}"
    if spec.type in INFO_TYPES or spec.type == "announcement":
        return _new_type_problem(spec)
    if spec.timeframe is not None or spec.indicators or spec.categories is not None or spec.include_body:
        return f"timeframe, indicators, categories and include_body do not apply to {spec.type}"
    codes = spec.codes
    if not isinstance(codes, tuple) or not all(isinstance(c, str) and _CODE.fullmatch(c) for c in codes):
        return f"codes must be a tuple of market codes like 'KRW-BTC': got {codes!r}"
    if list(codes) != sorted(set(codes)):
        return "codes must be sorted and unique"
    if not codes and spec.type not in PRIVATE_TYPES:
        return "at least one market code is required"
    if spec.mode not in MODES or (private and spec.mode != "realtime"):
        return f"mode {spec.mode!r} is not allowed for {spec.type}"
    if spec.type == "myAsset" and codes:
        return "myAsset takes no codes"
    if spec.type != "orderbook" and (spec.depth is not None or spec.level is not None):
        return "depth and level apply to orderbooks only"
    if spec.depth is not None and (isinstance(spec.depth, bool) or spec.depth not in DEPTHS[:-1]):
        return f"depth must be one of 1, 5, 15 or None: got {spec.depth!r}"
    level = spec.level
    if level is not None and not (isinstance(level, Decimal) and level.is_finite() and level > 0
                                  and all(code.startswith("KRW-") for code in codes)):
        return f"level must be a positive Decimal for KRW markets, or None: got {level!r}"
    return None


def _new_type_problem(spec: Spec[object]) -> str | None:
    """What makes an announcement or indicator spec something no constructor would build, or None."""
    if spec.mode != "realtime":
        return f"{spec.type} is realtime only (Upbit sends no snapshot): mode must be 'realtime'"
    if spec.depth is not None or spec.level is not None:
        return "depth and level apply to orderbooks only"
    if spec.type == "announcement":
        if spec.codes or spec.timeframe is not None or spec.indicators:
            return "announcement takes categories and include_body only"
        cats = spec.categories
        if cats is not None and (not isinstance(cats, tuple) or not cats or list(cats) != sorted(set(cats))
                                 or any(c not in CATEGORIES for c in cats)):
            return f"categories must be None or a sorted tuple of {', '.join(CATEGORIES)}: got {cats!r}"
        if not isinstance(spec.include_body, bool):
            return f"include_body must be True or False: got {spec.include_body!r}"
        return None
    if spec.categories is not None or spec.include_body:
        return "categories and include_body apply to announcement only"
    codes = spec.codes
    if not codes or not isinstance(codes, tuple) or list(codes) != sorted(set(codes)) \
            or not all(isinstance(c, str) and _CODE.fullmatch(c) and c.startswith("KRW-") for c in codes):
        return f"codes must be a sorted tuple of KRW market codes: got {codes!r}"
    if spec.timeframe not in TIMEFRAMES:
        return f"timeframe must be one of {', '.join(TIMEFRAMES)}: got {spec.timeframe!r}"
    items = spec.indicators
    if not items or not isinstance(items, tuple) or len(set(items)) != len(items):
        return "indicators must be a non-empty tuple without repeats"
    for item in items:
        problem = (condition_problem(item) if spec.type == "indicator_signal"
                   else params_problem(item, VALUE_RULES))
        if problem is not None:
            return problem
    if spec.combinations > MAX_COMBINATIONS:
        return (f"{len(codes)} codes x {len(items)} indicators = {spec.combinations} combinations; "
                f"Upbit accepts at most {MAX_COMBINATIONS} per connection")
    return None


def _codes(codes: str | Iterable[str], *, required: bool = True) -> tuple[str, ...]:
    if isinstance(codes, str):
        items = [codes]
    else:
        try:
            items = list(codes)
        except TypeError:
            raise TypeError(f"codes must be a string or an iterable of strings, got {codes!r}") from None
    seen: dict[str, None] = {}
    for code in items:
        if not isinstance(code, str):
            raise TypeError(f"each code must be a string like 'KRW-BTC', got {code!r}")
        if "." in code:
            raise ValueError(f"code {code!r} carries a depth suffix; pass depth= to orderbook() instead")
        if code != code.upper():
            raise ValueError(f"codes are upper-case, like {code.upper()!r}: got {code!r}")
        if not _CODE.fullmatch(code):
            raise ValueError(f"code {code!r} is not a market code like 'KRW-BTC'")
        seen[code] = None
    if required and not seen:
        raise ValueError("at least one market code is required, like ['KRW-BTC']")
    return tuple(sorted(seen))


def _mode(mode: str) -> Mode:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}: got {mode!r}")
    return mode  # type: ignore[return-value]


def ticker(codes: str | Iterable[str], *, mode: Mode = "both") -> Spec[Ticker]:
    """Current price and 24 h statistics of ``codes``."""
    return Spec("ticker", _codes(codes), _mode(mode))


def trade(codes: str | Iterable[str], *, mode: Mode = "both") -> Spec[Trade]:
    """Every executed trade of ``codes``."""
    return Spec("trade", _codes(codes), _mode(mode))


def orderbook(
    codes: str | Iterable[str],
    *,
    mode: Mode = "both",
    depth: int | None = None,
    level: int | str | Decimal | None = None,
) -> Spec[Orderbook]:
    """Order books of ``codes``: ``depth`` levels (1, 5, 15, 30; None = 30), grouped by ``level``.

    ``level`` is the price grouping unit (호가 모아보기), KRW markets only; None or 0 is Upbit's
    default tick.
    """
    code_tuple = _codes(codes)
    if depth is not None:
        if isinstance(depth, bool) or depth not in DEPTHS:
            raise ValueError(f"depth must be one of {', '.join(map(str, DEPTHS))} or None: got {depth!r}")
        if depth == 30:
            depth = None
    grouping = _level(level)
    if grouping is not None:
        foreign = [code for code in code_tuple if not code.startswith("KRW-")]
        if foreign:
            raise ValueError(f"level grouping exists only for KRW markets, not {', '.join(foreign)}")
    return Spec("orderbook", code_tuple, _mode(mode), depth, grouping)


def _level(level: int | str | Decimal | None) -> Decimal | None:
    if level is None:
        return None
    if isinstance(level, (bool, float)):
        raise TypeError(f"level must be an int, str or Decimal (floats are inexact): got {level!r}")
    try:
        value = Decimal(level)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"level must be a number like 10000: got {level!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"level must be a non-negative number: got {level!r}")
    return None if value == 0 else value


def candle(codes: str | Iterable[str], interval: str = "1m", *, mode: Mode = "both") -> Spec[Candle]:
    """Candles of ``codes`` at ``interval`` (1s 1m 3m 5m 10m 15m 30m 60m 240m)."""
    if interval not in CANDLE_INTERVALS:
        raise ValueError(f"interval must be one of {' '.join(CANDLE_INTERVALS)}: got {interval!r}")
    return Spec(f"candle.{interval}", _codes(codes), _mode(mode))


def my_order(codes: str | Iterable[str] | None = None) -> Spec[MyOrder]:
    """The account's orders and fills, for ``codes`` or (None or empty) every market."""
    return Spec("myOrder", () if codes is None else _codes(codes, required=False), "realtime")


def my_asset() -> Spec[MyAsset]:
    """The account's holdings whenever they change."""
    return Spec("myAsset", (), "realtime")


def announcement(categories: str | Iterable[str] | None = None, *, include_body: bool = False) -> Spec[Announcement]:
    """Upbit's notices as they are published or updated (private endpoint; keys need no permission).

    ``categories`` limits them (``"trade"`` for listings and delistings, ``"wallet"``,
    ``"maintenance"``, …; None = all); ``include_body=True`` adds the Markdown body (which Upbit may
    still send as None when it is large). Realtime only: nothing arrives until a notice does.
    """
    chosen: tuple[str, ...] | None = None
    if categories is not None:
        items = [categories] if isinstance(categories, str) else list(categories)
        unknown = [c for c in items if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown announcement categor{'y' if len(unknown) == 1 else 'ies'} "
                             f"{', '.join(map(repr, unknown))}: choose from {', '.join(CATEGORIES)}")
        if not items:
            raise ValueError("categories is empty: pass None for every category")
        chosen = tuple(sorted({str(c) for c in items}))
    if not isinstance(include_body, bool):
        raise TypeError(f"include_body must be True or False: got {include_body!r}")
    return Spec("announcement", (), "realtime", categories=chosen, include_body=include_body)


def _timeframe(timeframe: str) -> str:
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"timeframe must be one of {', '.join(TIMEFRAMES)} (Upbit computes no 1m or tick "
                         f"indicators): got {timeframe!r}")
    return timeframe


def _krw(codes: str | Iterable[str]) -> tuple[str, ...]:
    chosen = _codes(codes)
    foreign = [code for code in chosen if not code.startswith("KRW-")]
    if foreign:
        raise ValueError(f"indicators exist for KRW markets only, not {', '.join(foreign)}")
    return chosen


def _capped(spec: Spec[Any]) -> Spec[Any]:
    if spec.combinations > MAX_COMBINATIONS:
        raise ValueError(f"{len(spec.codes)} codes x {len(spec.indicators)} indicators = {spec.combinations} "
                         f"combinations; Upbit accepts at most {MAX_COMBINATIONS} on a connection")
    return spec


def indicator(codes: str | Iterable[str], timeframe: Timeframe,
              indicators: IndicatorParams | Iterable[IndicatorParams]) -> Spec[Indicator]:
    """Indicator values of KRW ``codes`` at every close of a ``timeframe`` candle (5m 15m 60m 240m 1d).

    ``indicators`` are built with ``rsi()``, ``volume()``, ``moving_average()``, ``ma_crossover()``,
    ``bollinger_bands()`` and ``macd()``: ``ub.indicator("KRW-BTC", "5m", [ub.rsi(14), ub.macd()])``.
    Realtime only; at most 100 (code, indicator) combinations per connection.
    """
    items = _unique([indicators] if attrs.has(type(indicators)) and not isinstance(indicators, tuple)
                    else list(indicators))  # type: ignore[arg-type]
    for item in items:
        problem = params_problem(item, VALUE_RULES)
        if problem is not None:
            raise ValueError(problem)
    return _capped(Spec("indicator", _krw(codes), "realtime", timeframe=_timeframe(timeframe), indicators=items))


def indicator_signal(codes: str | Iterable[str], timeframe: Timeframe,
                     signals: SignalCondition | Iterable[SignalCondition]) -> Spec[IndicatorSignal]:
    """Conditions of KRW ``codes`` turning from unmet to met at a ``timeframe`` candle close.

    ``signals`` are built with ``signal()``: ``ub.indicator_signal("KRW-BTC", "5m",
    ub.signal(ub.rsi(14), "overbought", threshold=70))``. An event comes once per transition,
    never while the condition stays met. Realtime only; at most 100 combinations per connection.
    """
    items = _unique([signals] if isinstance(signals, SignalCondition) else list(signals))
    for item in items:
        problem = condition_problem(item)
        if problem is not None:
            raise ValueError(problem)
    return _capped(Spec("indicator_signal", _krw(codes), "realtime", timeframe=_timeframe(timeframe),
                        indicators=items))


def _unique(items: list[Any]) -> tuple[Any, ...]:
    if not items:
        raise ValueError("name at least one indicator")
    return tuple(dict.fromkeys(items))
