"""Arguments of ``watch announcements``, ``watch indicators`` and indicator records: categories, indicators, signals."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from .._core.indicators import (
    TIMEFRAMES,
    TRIGGERS,
    IndicatorParams,
    SignalCondition,
    bollinger_bands,
    ma_crossover,
    macd,
    moving_average,
    rsi,
    signal,
    volume,
)
from .._core.specs import CATEGORIES

__all__ = ["add_indicator_options", "add_info_views", "add_signal_option", "indicator_options", "signal_conditions"]


def _built(build: Callable[..., IndicatorParams], parts: list[str], example: str) -> IndicatorParams:
    try:
        numbers: list[Any] = [int(p) if p.isdigit() else p for p in parts]
        return build(*numbers)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"{exc} (e.g. {example})") from None


def _period(build: Callable[..., IndicatorParams], example: str) -> Callable[[str], IndicatorParams]:
    return lambda value: _built(build, [value], example)


def _ema(value: str) -> IndicatorParams:
    return _built(lambda period: moving_average(period, "EMA"), [value], "--ema 20")


def _bands(value: str) -> IndicatorParams:
    return _built(bollinger_bands, value.split("x", 1), "--bollinger 20x2.0")


def _cross(value: str) -> IndicatorParams:
    kind, _, pair = value.rpartition(":")
    return _built(lambda s, lo: ma_crossover(s, lo, kind.upper() or "SMA"),  # type: ignore[arg-type]  # checked there
                  pair.split("/"), "--cross 5/20 or EMA:20/60")


def _macd(value: str) -> IndicatorParams:
    return _built(macd, value.split("/"), "--macd 12/26/9")


def _category(value: str) -> str:
    if value not in CATEGORIES:
        raise argparse.ArgumentTypeError(f"unknown category {value!r}: choose from {', '.join(CATEGORIES)}")
    return value


def _timeframe(value: str) -> str:
    if value not in TIMEFRAMES:
        raise argparse.ArgumentTypeError(f"timeframe must be one of {', '.join(TIMEFRAMES)}: got {value!r}")
    return value


def indicator_options(args: argparse.Namespace) -> list[IndicatorParams]:
    """The indicators the options name, in option order per kind (RSI 14 when none is named)."""
    chosen = [*args.rsi, *args.volume, *args.sma, *args.ema, *args.bollinger, *args.cross, *args.macd]
    return list(dict.fromkeys(chosen)) or [rsi(14)]


def add_indicator_options(parser: Any) -> None:
    """``--rsi``, ``--volume``, ``--sma``, ``--ema``, ``--bollinger``, ``--cross`` and ``--macd`` (each repeatable)."""
    parser.add_argument("--rsi", action="append", type=_period(rsi, "--rsi 14"), default=[], metavar="PERIOD")
    parser.add_argument("--volume", action="append", type=_period(volume, "--volume 20"), default=[],
                        metavar="PERIOD", help="volume against its PERIOD-candle average")
    parser.add_argument("--sma", action="append", type=_period(moving_average, "--sma 20"), default=[],
                        metavar="PERIOD")
    parser.add_argument("--ema", action="append", type=_ema, default=[], metavar="PERIOD")
    parser.add_argument("--bollinger", action="append", type=_bands, default=[], metavar="PERIODxMULT",
                        help="e.g. 20x2.0")
    parser.add_argument("--cross", action="append", type=_cross, default=[], metavar="[EMA:]SHORT/LONG",
                        help="moving-average pair: 5/20, 20/60, 30/90 or 50/200 (SMA unless EMA:)")
    parser.add_argument("--macd", action="append", type=_macd, default=[], metavar="FAST/SLOW/SIGNAL",
                        help="12/26/9, 8/17/9 or 5/35/5")


def signal_conditions(indicators: Sequence[IndicatorParams], wanted: Sequence[str]) -> list[SignalCondition]:
    """What ``--signal TRIGGER[=VALUE]`` asks of the named indicators: each trigger on every indicator that has it.

    Raises ``ValueError`` saying what is wrong: a trigger no named indicator has, a value missing
    or not allowed (``signal()`` checks them against what Upbit documents).
    """
    conditions: list[SignalCondition] = []
    for text in wanted:
        trigger, has_value, value = text.partition("=")
        matched = [params for params in indicators if trigger in TRIGGERS.get(params.indicator, {})]
        if not matched:
            named = ", ".join(sorted({t for params in indicators for t in TRIGGERS.get(params.indicator, {})}))
            raise ValueError(f"--signal {text}: none of the named indicators has the trigger {trigger!r} "
                             f"(theirs: {named}; e.g. --rsi 14 --signal oversold=30)")
        for params in matched:
            takes = TRIGGERS[params.indicator][trigger]
            if takes is None:
                if has_value:
                    raise ValueError(f"--signal {text}: {trigger} takes no value")
                conditions.append(signal(params, trigger))  # type: ignore[arg-type]  # a trigger of TRIGGERS
                continue
            name, allowed = takes
            if not value:
                raise ValueError(f"--signal {text}: {trigger} needs ={name.upper()}, one of "
                                 f"{', '.join(map(str, allowed))}")
            try:
                if name == "threshold":
                    conditions.append(signal(params, trigger, threshold=int(value)))  # type: ignore[arg-type]
                else:
                    conditions.append(signal(params, trigger, multiplier=value))  # type: ignore[arg-type]
            except ValueError as exc:
                raise ValueError(f"--signal {text}: {exc}") from None
    return list(dict.fromkeys(conditions))


def add_signal_option(parser: Any) -> None:
    """``--signal TRIGGER[=VALUE]`` (repeatable): the conditions of ``indicator_signal.TIMEFRAME`` targets."""
    parser.add_argument("--signal", action="append", default=[], metavar="TRIGGER[=VALUE]",
                        help="indicator_signal condition on the named indicators: oversold=30, overbought=70, "
                             "volume_spike=2.0, golden_cross, dead_cross, price_cross_above, … (repeatable)")


def add_info_views(views: Any, code: Callable[[str], str], add_connection_options: Callable[[Any], None]) -> None:
    """Add ``announcements`` and ``indicators`` to the ``watch`` views."""
    view = views.add_parser("announcements", help="scrolling list of Upbit notices (listings, wallet, maintenance)",
                            description="Each notice as Upbit publishes or updates it: KST time, category, "
                            "CREATED/UPDATED, title and URL. Needs API keys (no permission).")
    view.add_argument("--category", dest="categories", action="append", type=_category, default=[],
                      metavar="NAME", help=f"only this category; repeat for more ({', '.join(CATEGORIES[:8])}, …)")
    add_connection_options(view)
    view.set_defaults(command="watch_announcements")
    view = views.add_parser("indicators", help="table of indicator values at each candle close",
                            description="Upbit computes the indicators at each close of a TIMEFRAME candle; "
                            "the table shows each (code, indicator)'s latest value. KRW markets only; API keys "
                            "needed (no permission). Example: watch indicators KRW-BTC --timeframe 5m --rsi 14 "
                            "--macd 12/26/9.")
    view.add_argument("codes", nargs="+", type=code, metavar="CODE", help="KRW market codes, e.g. KRW-BTC")
    view.add_argument("--timeframe", type=_timeframe, default="5m", help=f"{', '.join(TIMEFRAMES)} (default 5m)")
    add_indicator_options(view)
    add_connection_options(view)
    view.set_defaults(command="watch_indicators")
