"""Subscription specs: what a subscriber asks for, validated by the public constructors."""


import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Generic, Literal, TypeVar

import attrs

from .events import CANDLE_INTERVALS, Candle, MyAsset, MyOrder, Orderbook, Ticker, Trade

__all__ = ["Mode", "Spec", "candle", "my_asset", "my_order", "orderbook", "ticker", "trade"]

Mode = Literal["both", "realtime", "snapshot"]
MODES: tuple[str, ...] = ("both", "realtime", "snapshot")
DEPTHS: tuple[int, ...] = (1, 5, 15, 30)
PUBLIC_TYPES: frozenset[str] = frozenset(
    {"ticker", "trade", "orderbook", *(f"candle.{unit}" for unit in CANDLE_INTERVALS)}
)
PRIVATE_TYPES: frozenset[str] = frozenset({"myOrder", "myAsset"})

_CODE = re.compile(r"[A-Z0-9]{2,10}-[A-Z0-9]{1,20}")

#: The event class a spec's subscription yields (``Spec[Ticker]`` from ``ticker()``).
EventT_co = TypeVar("EventT_co", covariant=True)


@attrs.frozen
class Spec(Generic[EventT_co]):
    """One type of data for a set of codes, as a subscriber wants it; typed by the events it yields.

    Build specs with ``ticker()`` (a ``Spec[Ticker]``), ``trade()``, ``orderbook()``, ``candle()``,
    ``my_order()`` and ``my_asset()``; they validate their arguments, and so does this class:
    anything no constructor would build raises ``ValueError``.
    """

    type: str
    codes: tuple[str, ...]
    mode: Mode = "both"
    depth: int | None = None
    level: Decimal | None = None

    def __attrs_post_init__(self) -> None:
        problem = _spec_problem(self)
        if problem is not None:
            raise ValueError(f"not a valid Spec ({problem}); build specs with upbit_stream.ticker(), trade(), "
                             "orderbook(), candle(), my_order() or my_asset()")

    @property
    def endpoint(self) -> Literal["public", "private"]:
        """Which connection serves this spec."""
        return "private" if self.type in PRIVATE_TYPES else "public"

    @property
    def all_codes(self) -> bool:
        """True for ``my_order()`` without codes: every market of the account."""
        return self.type == "myOrder" and not self.codes


def _spec_problem(spec: Spec[object]) -> str | None:
    """What makes ``spec`` something no constructor would build, or None."""
    private = spec.type in PRIVATE_TYPES
    if spec.type not in PUBLIC_TYPES and not private:
        return f"unknown type {spec.type!r}"
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
