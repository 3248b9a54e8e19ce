"""Technical indicators of ``/websocket/v1/info``: parameter, value and condition classes, and their rules.

Each of Upbit's six indicators has a params class (what to compute), a value class (what a
closed candle gave) and, for ``indicator_signal``, triggers with their event parameters. The
builders (``volume()`` … ``macd()``, ``signal()``) check every documented parameter against the
allowed set — ``indicator`` and ``indicator_signal`` allow different sets — and raise
``ValueError`` naming the allowed values. The same tables serve the fake exchange's validation.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final, Literal, TypeAlias, TypeVar, final

import attrs

from .events import _Exportable, _wire

__all__ = [
    "BollingerBandsParams",
    "BollingerBandsValue",
    "IndicatorParams",
    "IndicatorValue",
    "MaCrossoverParams",
    "MaCrossoverValue",
    "MacdParams",
    "MacdValue",
    "MovingAverageParams",
    "MovingAverageValue",
    "RsiEventParams",
    "RsiParams",
    "RsiValue",
    "SignalCondition",
    "VolumeEventParams",
    "VolumeParams",
    "VolumeValue",
    "bollinger_bands",
    "ma_crossover",
    "macd",
    "moving_average",
    "rsi",
    "signal",
    "volume",
]

Timeframe = Literal["5m", "15m", "60m", "240m", "1d"]
TIMEFRAMES: Final[tuple[str, ...]] = ("5m", "15m", "60m", "240m", "1d")
MaType = Literal["SMA", "EMA"]
MA_TYPES: Final[tuple[str, ...]] = ("SMA", "EMA")
Trigger = Literal["volume_spike", "overbought", "oversold", "price_cross_above", "price_cross_below",
                  "golden_cross", "dead_cross", "zero_cross_above", "zero_cross_below"]
#: Upbit's cap on (codes × indicators) summed over the indicator objects of one /info request.
MAX_COMBINATIONS: Final = 100


# -- what to compute ------------------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class VolumeParams(_Exportable):
    """Volume of the closed candle against the average of ``period`` candles."""

    indicator: ClassVar[str] = "volume"
    period: int = attrs.field(metadata=_wire("p"))


@final
@attrs.frozen(kw_only=True)
class RsiParams(_Exportable):
    """Relative strength index over ``period`` candles."""

    indicator: ClassVar[str] = "rsi"
    period: int = attrs.field(metadata=_wire("p"))


@final
@attrs.frozen(kw_only=True)
class MovingAverageParams(_Exportable):
    """A simple (SMA) or exponential (EMA) moving average of ``period`` closes."""

    indicator: ClassVar[str] = "moving_average"
    type: str = attrs.field(metadata=_wire("t"))
    period: int = attrs.field(metadata=_wire("p"))


@final
@attrs.frozen(kw_only=True)
class MaCrossoverParams(_Exportable):
    """A short and a long moving average, for crossings."""

    indicator: ClassVar[str] = "ma_crossover"
    type: str = attrs.field(metadata=_wire("t"))
    short_period: int = attrs.field(metadata=_wire("shp"))
    long_period: int = attrs.field(metadata=_wire("lop"))


@final
@attrs.frozen(kw_only=True)
class BollingerBandsParams(_Exportable):
    """Bollinger bands: the ``period`` average ± ``multiplier`` standard deviations."""

    indicator: ClassVar[str] = "bollinger_bands"
    period: int = attrs.field(metadata=_wire("p"))
    multiplier: Decimal = attrs.field(metadata=_wire("m"))


@final
@attrs.frozen(kw_only=True)
class MacdParams(_Exportable):
    """MACD with its fast, slow and signal periods."""

    indicator: ClassVar[str] = "macd"
    fast: int = attrs.field(metadata=_wire("f"))
    slow: int = attrs.field(metadata=_wire("s"))
    signal_period: int = attrs.field(metadata=_wire("sgp"))


IndicatorParams: TypeAlias = (VolumeParams | RsiParams | MovingAverageParams | MaCrossoverParams
                              | BollingerBandsParams | MacdParams)

# -- what a closed candle gave ---------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class VolumeValue(_Exportable):
    """The candle's volume, the average volume of the period and their ratio."""

    volume: Decimal = attrs.field(metadata=_wire("vol"))
    avg_volume: Decimal = attrs.field(metadata=_wire("av"))
    ratio: Decimal = attrs.field(metadata=_wire("rto"))


@final
@attrs.frozen(kw_only=True)
class RsiValue(_Exportable):
    """The RSI (0–100)."""

    rsi: Decimal = attrs.field(metadata=_wire("rsi"))


@final
@attrs.frozen(kw_only=True)
class MovingAverageValue(_Exportable):
    """The moving average."""

    value: Decimal = attrs.field(metadata=_wire("value"))


@final
@attrs.frozen(kw_only=True)
class MaCrossoverValue(_Exportable):
    """The short and the long moving average."""

    ma_short: Decimal = attrs.field(metadata=_wire("mas"))
    ma_long: Decimal = attrs.field(metadata=_wire("mal"))


@final
@attrs.frozen(kw_only=True)
class BollingerBandsValue(_Exportable):
    """The upper band, the middle line and the lower band."""

    bb_upper: Decimal = attrs.field(metadata=_wire("bbu"))
    bb_middle: Decimal = attrs.field(metadata=_wire("bbm"))
    bb_lower: Decimal = attrs.field(metadata=_wire("bbl"))


@final
@attrs.frozen(kw_only=True)
class MacdValue(_Exportable):
    """The MACD line, its signal line and their difference."""

    macd: Decimal = attrs.field(metadata=_wire("macd"))
    macd_signal: Decimal = attrs.field(metadata=_wire("macds"))
    histogram: Decimal = attrs.field(metadata=_wire("hist"))


IndicatorValue: TypeAlias = (VolumeValue | RsiValue | MovingAverageValue | MaCrossoverValue
                             | BollingerBandsValue | MacdValue)

# -- conditions ------------------------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class RsiEventParams(_Exportable):
    """The RSI threshold of an ``overbought`` (≥) or ``oversold`` (≤) condition."""

    threshold: int = attrs.field(metadata=_wire("th"))


@final
@attrs.frozen(kw_only=True)
class VolumeEventParams(_Exportable):
    """How many times the average volume a ``volume_spike`` needs."""

    multiplier: Decimal = attrs.field(metadata=_wire("mul"))


EventParams: TypeAlias = RsiEventParams | VolumeEventParams


@final
@attrs.frozen
class SignalCondition:
    """One condition of ``indicator_signal()``: an indicator, a trigger and its event parameters.

    Build it with ``signal()``, which checks it against the sets Upbit allows for signals.
    """

    params: IndicatorParams
    trigger: str
    event_params: EventParams | None = None

    @property
    def indicator(self) -> str:
        """The indicator's wire name, e.g. ``"rsi"``."""
        return self.params.indicator


#: Classes by wire indicator name: (params, value).
INDICATOR_CLASSES: Final[dict[str, tuple[type[Any], type[Any]]]] = {
    "volume": (VolumeParams, VolumeValue),
    "rsi": (RsiParams, RsiValue),
    "moving_average": (MovingAverageParams, MovingAverageValue),
    "ma_crossover": (MaCrossoverParams, MaCrossoverValue),
    "bollinger_bands": (BollingerBandsParams, BollingerBandsValue),
    "macd": (MacdParams, MacdValue),
}

# -- the documented value sets (S5 for indicator, S6 for indicator_signal) ------------------------

_D = Decimal
_PAIRS: Final = ((5, 20), (20, 60), (30, 90), (50, 200))
_MACD: Final = ((12, 26, 9), (8, 17, 9), (5, 35, 5))

#: Allowed values per indicator and field, for ``indicator`` values.
VALUE_RULES: Final[dict[str, dict[str, tuple[Any, ...]]]] = {
    "volume": {"period": (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)},
    "rsi": {"period": (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 21, 25)},
    "moving_average": {"type": MA_TYPES, "period": (3, 5, 7, 10, 15, 20, 25, 30, 50, 60, 90, 99, 100, 120, 200)},
    "ma_crossover": {"type": MA_TYPES, "short_period/long_period": _PAIRS},
    "bollinger_bands": {"period": (10, 20, 50), "multiplier": (_D("1.0"), _D("1.5"), _D("2.0"), _D("2.5"), _D("3.0"))},
    "macd": {"fast/slow/signal_period": _MACD},
}
#: Allowed values per indicator and field, for ``indicator_signal`` conditions (narrower).
SIGNAL_RULES: Final[dict[str, dict[str, tuple[Any, ...]]]] = {
    "volume": {"period": (10, 20, 50)},
    "rsi": {"period": (7, 9, 14, 21, 25)},
    "moving_average": {"type": MA_TYPES, "period": (5, 10, 20, 30, 60, 90, 120, 200)},
    "ma_crossover": {"type": MA_TYPES, "short_period/long_period": _PAIRS},
    "bollinger_bands": {"period": (20,), "multiplier": (_D("1.5"), _D("2.0"), _D("2.5"))},
    "macd": {"fast/slow/signal_period": _MACD},
}
#: Triggers per indicator, each with its event parameter and allowed values (None: takes none).
TRIGGERS: Final[dict[str, dict[str, tuple[str, tuple[Any, ...]] | None]]] = {
    "volume": {"volume_spike": ("multiplier", (_D("2.0"), _D("3.0"), _D("5.0")))},
    "rsi": {"overbought": ("threshold", (70, 80)), "oversold": ("threshold", (20, 30))},
    "moving_average": {"price_cross_above": None, "price_cross_below": None},
    "ma_crossover": {"golden_cross": None, "dead_cross": None},
    "bollinger_bands": {"price_cross_above": None, "price_cross_below": None},
    "macd": {"golden_cross": None, "dead_cross": None, "zero_cross_above": None, "zero_cross_below": None},
}


def params_problem(params: Any, rules: dict[str, dict[str, tuple[Any, ...]]]) -> str | None:
    """What makes ``params`` outside ``rules`` (``VALUE_RULES`` or ``SIGNAL_RULES``), or None."""
    indicator = getattr(params, "indicator", None)
    if indicator not in rules or type(params) is not INDICATOR_CLASSES[indicator][0]:
        return f"not an indicator: {params!r}; build one with upbit_stream.rsi(), macd(), …"
    for names, allowed in rules[indicator].items():
        fields = names.split("/")
        got = tuple(getattr(params, name) for name in fields)
        got_value = got if len(fields) > 1 else got[0]
        if any(isinstance(value, bool) for value in got) or got_value not in allowed:
            shown = ", ".join("/".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in allowed)
            return f"{indicator} {names} must be one of {shown}: got {'/'.join(map(str, got))}"
    return None


_P = TypeVar("_P")


def _checked(params: _P) -> _P:
    problem = params_problem(params, VALUE_RULES)
    if problem is not None:
        raise ValueError(problem)
    return params


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int: got {value!r}")
    return value


def _tenths(name: str, value: Any) -> Decimal:
    """A multiplier as an exact Decimal with one decimal place (``2``, ``2.0``, ``"2.00"`` all give 2.0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise TypeError(f"{name} must be a number like 2.0: got {value!r}")
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValueError(f"{name} must be a number like 2.0: got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{name} must be a finite number: got {value!r}")
    if abs(number) >= 1000:  # no allowed value is this large: the rules name the allowed ones
        return number
    tenths = number.quantize(_D("0.1"))
    if tenths != number:
        raise ValueError(f"{name} has one decimal place at most (Upbit does not round): got {value!r}")
    return tenths


def volume(period: int = 20) -> VolumeParams:
    """Volume against its ``period``-candle average (5, 10, … 50)."""
    return _checked(VolumeParams(period=_integer("period", period)))


def rsi(period: int = 14) -> RsiParams:
    """RSI over ``period`` candles (2–14, 21, 25)."""
    return _checked(RsiParams(period=_integer("period", period)))


def moving_average(period: int, type: MaType = "SMA") -> MovingAverageParams:
    """A ``"SMA"`` or ``"EMA"`` moving average of ``period`` closes (3, 5, 7, 10, … 200)."""
    return _checked(MovingAverageParams(type=type, period=_integer("period", period)))


def ma_crossover(short_period: int = 5, long_period: int = 20, type: MaType = "SMA") -> MaCrossoverParams:
    """Two moving averages: 5/20, 20/60, 30/90 or 50/200."""
    return _checked(MaCrossoverParams(type=type, short_period=_integer("short_period", short_period),
                                      long_period=_integer("long_period", long_period)))


def bollinger_bands(period: int = 20, multiplier: float | str | Decimal = "2.0") -> BollingerBandsParams:
    """Bollinger bands of ``period`` (10, 20, 50) at ``multiplier`` deviations (1.0–3.0 in 0.5 steps)."""
    return _checked(BollingerBandsParams(period=_integer("period", period),
                                         multiplier=_tenths("multiplier", multiplier)))


def macd(fast: int = 12, slow: int = 26, signal_period: int = 9) -> MacdParams:
    """MACD with periods 12/26/9, 8/17/9 or 5/35/5."""
    return _checked(MacdParams(fast=_integer("fast", fast), slow=_integer("slow", slow),
                               signal_period=_integer("signal_period", signal_period)))


def signal(params: IndicatorParams, trigger: Trigger, *, threshold: int | None = None,
           multiplier: float | str | Decimal | None = None) -> SignalCondition:
    """A condition for ``indicator_signal()``: ``params`` crossing into ``trigger``.

    ``signal(rsi(14), "overbought", threshold=70)``, ``signal(volume(20), "volume_spike",
    multiplier=2.0)``, ``signal(macd(), "golden_cross")``. Raises ``ValueError`` naming the allowed
    values (signals allow fewer periods than ``indicator()``).
    """
    event_params: EventParams | None = None
    if threshold is not None:
        event_params = RsiEventParams(threshold=_integer("threshold", threshold))
    if multiplier is not None:
        if event_params is not None:
            raise ValueError("pass threshold= (RSI) or multiplier= (volume_spike), not both")
        event_params = VolumeEventParams(multiplier=_tenths("multiplier", multiplier))
    condition = SignalCondition(params, trigger, event_params)
    problem = condition_problem(condition)
    if problem is not None:
        raise ValueError(problem)
    return condition


def condition_problem(condition: Any) -> str | None:
    """What makes ``condition`` something Upbit refuses for ``indicator_signal``, or None."""
    if not isinstance(condition, SignalCondition):
        return f"not a signal condition: {condition!r}; build one with upbit_stream.signal()"
    problem = params_problem(condition.params, SIGNAL_RULES)
    if problem is not None:
        return f"{problem} (indicator_signal allows fewer values than indicator)"
    triggers = TRIGGERS[condition.indicator]
    if condition.trigger not in triggers:
        return f"{condition.indicator} triggers are {', '.join(triggers)}: got {condition.trigger!r}"
    wanted = triggers[condition.trigger]
    given = condition.event_params
    if wanted is None:
        if given is not None:
            return f"trigger {condition.trigger!r} takes no threshold or multiplier"
        return None
    name, allowed = wanted
    value = getattr(given, name, None)
    if value is None or type(given) is not (RsiEventParams if name == "threshold" else VolumeEventParams):
        return f"trigger {condition.trigger!r} needs {name}= (one of {', '.join(map(str, allowed))})"
    if isinstance(value, bool) or value not in allowed:
        return f"{condition.trigger} {name} must be one of {', '.join(map(str, allowed))}: got {value}"
    return None


def request_item(item: IndicatorParams | SignalCondition) -> dict[str, Any]:
    """One entry of a request's ``indicators`` list: ``{"type", "params"[, "trigger", "event_params"]}``."""
    if isinstance(item, SignalCondition):
        entry = request_item(item.params)
        entry["trigger"] = item.trigger
        if item.event_params is not None:
            entry["event_params"] = attrs.asdict(item.event_params)
        return entry
    return {"type": item.indicator, "params": attrs.asdict(item)}
