"""Indicator arithmetic of the fake exchange: textbook formulas over closed candles, in exact Decimals.

Upbit does not publish its formulas, so these are the common textbook ones (the choices are listed
in ``upbit_stream.testing``): SMA; EMA with ``α = 2/(n+1)`` seeded with the SMA of its first ``n``
inputs; Wilder's RSI (first averages simple, then ``(prev·(n−1) + x)/n``; 100 when there are no
losses, 50 when there is no change at all); Bollinger bands with the population standard deviation;
MACD = EMA(fast) − EMA(slow), its signal the EMA(signal_period) of MACD, histogram the difference;
volume ratio = the candle's volume / the average volume of the ``period`` candles before it (0 when
that average is 0; a candle without volume is never a spike). Every reported number is rounded
half-up to 8 decimal places, trailing zeros dropped (``106791950.0``); conditions compare the
reported numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal

from .._core.indicators import (
    BollingerBandsParams,
    BollingerBandsValue,
    IndicatorParams,
    IndicatorValue,
    MacdParams,
    MacdValue,
    MaCrossoverParams,
    MaCrossoverValue,
    MovingAverageParams,
    MovingAverageValue,
    RsiEventParams,
    RsiParams,
    RsiValue,
    SignalCondition,
    VolumeEventParams,
    VolumeParams,
    VolumeValue,
)

__all__ = ["comparison", "condition_states", "tidy", "value_series"]

_CTX = Context(prec=40)
_PLACES = Decimal("0.00000001")
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)

Series = list[Decimal | None]


def tidy(number: Decimal) -> Decimal:
    """``number`` rounded half-up to 8 decimal places, trailing zeros dropped but one decimal kept."""
    text = format(number.quantize(_PLACES, ROUND_HALF_UP, _CTX), "f").rstrip("0")
    return Decimal(text + "0" if text.endswith(".") else text)


def sma(xs: Sequence[Decimal], n: int) -> Series:
    """Simple moving average of ``n`` values at each index (None until ``n`` values exist)."""
    out: Series = [None] * len(xs)
    total = _ZERO
    for i, x in enumerate(xs):
        total = _CTX.add(total, x)
        if i >= n:
            total = _CTX.subtract(total, xs[i - n])
        if i >= n - 1:
            out[i] = _CTX.divide(total, n)
    return out


def ema(xs: Sequence[Decimal | None], n: int) -> Series:
    """Exponential moving average (α = 2/(n+1)) of the defined values, seeded with the SMA of the first ``n``."""
    out: Series = [None] * len(xs)
    alpha = _CTX.divide(2, n + 1)
    seen: list[Decimal] = []
    current: Decimal | None = None
    for i, x in enumerate(xs):
        if x is None:
            continue
        if current is None:
            seen.append(x)
            if len(seen) == n:
                current = _CTX.divide(sum(seen, _ZERO), n)
                out[i] = current
            continue
        current = _CTX.add(current, _CTX.multiply(alpha, _CTX.subtract(x, current)))
        out[i] = current
    return out


def moving(kind: str, xs: Sequence[Decimal], n: int) -> Series:
    return ema(xs, n) if kind == "EMA" else sma(xs, n)


def rsi(closes: Sequence[Decimal], n: int) -> Series:
    """Wilder's RSI of ``n`` changes at each index (None until ``n`` changes exist)."""
    out: Series = [None] * len(closes)
    gain = loss = _ZERO
    for i in range(1, len(closes)):
        change = closes[i] - closes[i - 1]
        up, down = max(change, _ZERO), max(-change, _ZERO)
        if i <= n:
            gain, loss = _CTX.add(gain, up), _CTX.add(loss, down)
            if i < n:
                continue
            gain, loss = _CTX.divide(gain, n), _CTX.divide(loss, n)
        else:
            gain = _CTX.divide(_CTX.add(_CTX.multiply(gain, n - 1), up), n)
            loss = _CTX.divide(_CTX.add(_CTX.multiply(loss, n - 1), down), n)
        if loss == 0:
            out[i] = _HUNDRED if gain > 0 else Decimal(50)
        else:
            out[i] = _HUNDRED - _CTX.divide(_HUNDRED, 1 + _CTX.divide(gain, loss))
    return out


def value_series(params: IndicatorParams, closes: Sequence[Decimal],
                 volumes: Sequence[Decimal]) -> list[IndicatorValue | None]:
    """The indicator's reported value at each closed candle (None where history is too short)."""
    out: list[IndicatorValue | None] = [None] * len(closes)
    if isinstance(params, VolumeParams):
        n = params.period
        for i in range(n, len(volumes)):
            avg = _CTX.divide(sum(volumes[i - n:i], _ZERO), n)
            ratio = _CTX.divide(volumes[i], avg) if avg else _ZERO
            out[i] = VolumeValue(volume=tidy(volumes[i]), avg_volume=tidy(avg), ratio=tidy(ratio))
    elif isinstance(params, RsiParams):
        for i, r in enumerate(rsi(closes, params.period)):
            out[i] = None if r is None else RsiValue(rsi=tidy(r))
    elif isinstance(params, MovingAverageParams):
        for i, m in enumerate(moving(params.type, closes, params.period)):
            out[i] = None if m is None else MovingAverageValue(value=tidy(m))
    elif isinstance(params, MaCrossoverParams):
        short = moving(params.type, closes, params.short_period)
        long = moving(params.type, closes, params.long_period)
        for i, (s, lg) in enumerate(zip(short, long)):
            out[i] = None if s is None or lg is None else MaCrossoverValue(ma_short=tidy(s), ma_long=tidy(lg))
    elif isinstance(params, BollingerBandsParams):
        _bollinger(params, closes, out)
    elif isinstance(params, MacdParams):
        fast, slow = ema(closes, params.fast), ema(closes, params.slow)
        line: Series = [None if f is None or s is None else f - s for f, s in zip(fast, slow)]
        signal = ema(line, params.signal_period)
        for i, (m, sg) in enumerate(zip(line, signal)):
            if m is not None and sg is not None:
                out[i] = MacdValue(macd=tidy(m), macd_signal=tidy(sg), histogram=tidy(m - sg))
    return out


def _bollinger(params: BollingerBandsParams, closes: Sequence[Decimal], out: list[IndicatorValue | None]) -> None:
    n = params.period
    total = squares = _ZERO
    for i, x in enumerate(closes):
        total, squares = _CTX.add(total, x), _CTX.add(squares, _CTX.multiply(x, x))
        if i >= n:
            old = closes[i - n]
            total, squares = _CTX.subtract(total, old), _CTX.subtract(squares, _CTX.multiply(old, old))
        if i < n - 1:
            continue
        mean = _CTX.divide(total, n)
        variance = max(_CTX.subtract(_CTX.divide(squares, n), _CTX.multiply(mean, mean)), _ZERO)
        width = _CTX.multiply(params.multiplier, _CTX.sqrt(variance))
        out[i] = BollingerBandsValue(bb_upper=tidy(mean + width), bb_middle=tidy(mean), bb_lower=tidy(mean - width))


def comparison(condition: SignalCondition, close: Decimal, value: IndicatorValue | None) -> int | None:
    """Whether ``condition`` holds at one close: 1 met, -1 not met, 0 the two compared values are equal
    (only for the comparisons that keep their previous state then), None when not computable."""
    if value is None:
        return None
    trigger = condition.trigger
    ep = condition.event_params
    if isinstance(value, VolumeValue) and isinstance(ep, VolumeEventParams):
        return 1 if value.volume > 0 and value.volume >= ep.multiplier * value.avg_volume else -1
    if isinstance(value, RsiValue) and isinstance(ep, RsiEventParams):
        met = value.rsi >= ep.threshold if trigger == "overbought" else value.rsi <= ep.threshold
        return 1 if met else -1
    if isinstance(value, (VolumeValue, RsiValue)):
        return None  # a condition without its event parameters: never built by the validated paths
    if isinstance(value, MovingAverageValue):
        a, b = close, value.value
    elif isinstance(value, MaCrossoverValue):
        a, b = value.ma_short, value.ma_long
    elif isinstance(value, BollingerBandsValue):
        a, b = (close, value.bb_upper) if trigger == "price_cross_above" else (close, value.bb_lower)
    else:
        a, b = (value.macd, value.macd_signal) if trigger in ("golden_cross", "dead_cross") else (value.macd, _ZERO)
    sign = (a > b) - (a < b)
    return -sign if trigger in ("price_cross_below", "dead_cross", "zero_cross_below") else sign


def condition_states(condition: SignalCondition, closes: Sequence[Decimal],
                     values: Sequence[IndicatorValue | None]) -> list[bool]:
    """Whether ``condition`` stands at each close; an equal comparison keeps the state the last
    differing one gave, and a close where it cannot be computed counts as not met."""
    states: list[bool] = []
    state = False
    for close, value in zip(closes, values):
        verdict = comparison(condition, close, value)
        if verdict is None:
            state = False
        elif verdict:
            state = verdict > 0
        states.append(state)
    return states
