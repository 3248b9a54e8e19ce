"""What the command line's words mean: record targets into specs, sizes and durations into numbers (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from .._core.events import CANDLE_INTERVALS
from .._core.indicators import TIMEFRAMES, IndicatorParams, SignalCondition, rsi
from .._core.specs import (
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

__all__ = ["parse_duration", "parse_size", "parse_targets"]

_TYPES = ("ticker", "trade", "orderbook", *(f"candle.{i}" for i in CANDLE_INTERVALS), "my_order", "my_asset",
          "announcement", *(f"indicator.{t}" for t in TIMEFRAMES), *(f"indicator_signal.{t}" for t in TIMEFRAMES))
_ALIASES = {"myOrder": "my_order", "myAsset": "my_asset", "candle": "candle.1m"}


def parse_targets(
    texts: Iterable[str], *, depth: int | None = None, realtime_only: bool = False,
    indicators: Sequence[IndicatorParams] = (), signals: Sequence[SignalCondition] = (),
) -> tuple[Spec[Any], ...]:
    """Specs from ``TYPE:CODE,CODE`` words (``my_order`` may omit codes, ``my_asset`` takes none,
    ``announcement`` takes categories or none, ``indicator.5m`` KRW codes and computes ``indicators``,
    ``indicator_signal.5m`` KRW codes and watches ``signals``).

    Raises ``ValueError`` saying what is wrong with the first bad word.
    """
    mode = "realtime" if realtime_only else "both"
    specs: list[Spec[Any]] = []
    for text in texts:
        name, sep, rest = text.partition(":")
        name = _ALIASES.get(name, name)
        codes = [code for code in rest.split(",") if code] if sep else []
        if name not in _TYPES:
            given = text.partition(":")[0]
            raise ValueError(f"unknown type {given!r} in {text!r}: expected one of {', '.join(_TYPES)}")
        if name == "announcement":
            specs.append(announcement(codes or None))
            continue
        if name.startswith("indicator.") and codes:
            specs.append(indicator(codes, name.partition(".")[2], indicators or [rsi(14)]))  # type: ignore[arg-type]
            continue
        if name.startswith("indicator_signal.") and codes:
            if not signals:
                raise ValueError(f"{text!r} needs conditions: name indicators and --signal TRIGGER[=VALUE] "
                                 "(e.g. --rsi 14 --signal oversold=30)")
            specs.append(indicator_signal(codes, name.partition(".")[2], signals))  # type: ignore[arg-type]
            continue
        if sep and not codes and name != "my_order":
            raise ValueError(f"{text!r} names no codes: write {name}:KRW-BTC,KRW-ETH")
        if name == "my_asset":
            if codes:
                raise ValueError(f"my_asset takes no codes (it streams the whole account): got {text!r}")
            specs.append(my_asset())
        elif name == "my_order":
            specs.append(my_order(codes))
        elif not codes:
            raise ValueError(f"{name} needs market codes, like {name}:KRW-BTC,KRW-ETH")
        elif name == "orderbook":
            specs.append(orderbook(codes, mode=mode, depth=depth))  # type: ignore[arg-type]
        elif name.startswith("candle."):
            specs.append(candle(codes, name.partition(".")[2], mode=mode))  # type: ignore[arg-type]
        else:
            specs.append((ticker if name == "ticker" else trade)(codes, mode=mode))  # type: ignore[arg-type]
    if not specs:
        raise ValueError("name at least one TYPE:CODES to record, like ticker:KRW-BTC")
    return tuple(specs)


_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(i?)(b?)", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(s|m|h|d)?", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(text: str) -> int:
    """Bytes from ``100MB``, ``1.5GiB``, ``500k`` or ``4096`` (KB/MB/GB are 1000-based, KiB/MiB/GiB 1024)."""
    match = _SIZE.fullmatch(text.strip())
    if not match or (match.group(3) and not match.group(2)):
        raise ValueError(f"not a size: {text!r} (expected e.g. 100MB, 1.5GB, 512KiB or a byte count)")
    number, prefix, binary = float(match.group(1)), match.group(2).lower(), bool(match.group(3))
    power = "kmgt".index(prefix) + 1 if prefix else 0
    size = int(number * (1024 if binary else 1000) ** power)
    if size < 1:
        raise ValueError(f"size must be at least one byte: got {text!r}")
    return size


def parse_duration(text: str) -> float:
    """Seconds from ``90s``, ``15m``, ``1h``, ``1d`` or a plain number of seconds."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 90s, 15m, 1h, 1d or seconds)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise ValueError(f"duration must be positive: got {text!r}")
    return seconds
