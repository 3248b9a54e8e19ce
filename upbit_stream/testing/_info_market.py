"""Closed candles per market and timeframe for the fake's indicator types: history, seeding, closes and signals.

Pure and I/O-free: the caller passes the time (epoch milliseconds). A history is created the first
time a (market, timeframe) is needed, seeded with ``SEEDED`` synthetic closed candles (a seeded
random walk ending at the market's price, so every indicator has enough data at the first close)
and then grows by one candle per close of its timeframe: the market's last trade price and the
volume traded since the previous close. Condition states are a function of the history alone, so
they belong to the market, not to any subscriber.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

import attrs

from .._core.indicators import TIMEFRAMES, IndicatorParams, IndicatorValue, SignalCondition
from ._indicator_math import condition_states, value_series
from ._market import tick_size

__all__ = ["HISTORY_SIZE", "SEEDED", "TIMEFRAME_MS", "ClosedCandle", "InfoMarket"]

TIMEFRAME_MS: Final[dict[str, int]] = {"5m": 300_000, "15m": 900_000, "60m": 3_600_000, "240m": 14_400_000,
                                       "1d": 86_400_000}
#: Closed candles kept per market and timeframe; the oldest drop off.
HISTORY_SIZE: Final = 400
#: Synthetic closed candles a new history starts with (the longest period, MA 200, needs 200).
SEEDED: Final = 260


@attrs.frozen
class ClosedCandle:
    """One closed candle as the indicators see it: its start (epoch ms, UTC), close price and volume."""

    start_ms: int
    close: Decimal
    volume: Decimal

    @property
    def candle_date_time_utc(self) -> str:
        """The start as Upbit writes it in indicator events: ``yyyy-MM-ddTHH:mm:ss`` (UTC)."""
        return datetime.fromtimestamp(self.start_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def check_timeframe(timeframe: str) -> None:
    if timeframe not in TIMEFRAME_MS:
        raise ValueError(f"timeframe must be one of {', '.join(TIMEFRAMES)}: got {timeframe!r}")


class InfoMarket:
    """Closed-candle histories of the markets that have indicators, and what they give."""

    def __init__(self, seed: int, price_of: Callable[[str], Decimal]) -> None:
        self.seed = seed
        self._price_of = price_of
        self._traded: dict[str, Decimal] = {}  # bounded: one total per market code
        self._traded_at_open: dict[str, dict[str, Decimal]] = {tf: {} for tf in TIMEFRAME_MS}
        self._histories: dict[tuple[str, str], deque[ClosedCandle]] = {}  # bounded: one per (market, timeframe)
        self._last_closed: dict[str, int] = {}
        self._restarted: set[str] = set()  # bounded: timeframe names
        # Per (market, timeframe, params or condition), recomputed after each close of the timeframe.
        self._values: dict[tuple[str, str, IndicatorParams], list[IndicatorValue | None]] = {}  # bounded: cleared
        self._states: dict[tuple[str, str, SignalCondition], list[bool]] = {}  # bounded: cleared at each close

    # -- time --------------------------------------------------------------------------------------

    @staticmethod
    def period_start(timeframe: str, now_ms: int) -> int:
        """Start (epoch ms) of the ``timeframe`` candle in progress at ``now_ms`` (UTC boundaries)."""
        return now_ms - now_ms % TIMEFRAME_MS[timeframe]

    def last_closed(self, timeframe: str, now_ms: int) -> int:
        """Start of the latest closed candle of ``timeframe`` (before any close: the one before ``now_ms``'s)."""
        return self._last_closed.get(timeframe, self.period_start(timeframe, now_ms) - TIMEFRAME_MS[timeframe])

    def due(self, boundary_ms: int) -> list[tuple[str, int]]:
        """``(timeframe, start)`` of each candle a clock boundary closes (none already closed ahead of it)."""
        out = []
        for timeframe, ms in TIMEFRAME_MS.items():
            start = boundary_ms - ms
            if boundary_ms % ms == 0 and start > self._last_closed.get(timeframe, start - 1):
                out.append((timeframe, start))
        return out

    def next_start(self, timeframe: str, now_ms: int) -> int:
        """The start of the candle ``close_candle()`` closes now: the one in progress, or the next after
        one already closed ahead of the clock."""
        current = self.period_start(timeframe, now_ms)
        last = self._last_closed.get(timeframe)
        return current if last is None or last < current else last + TIMEFRAME_MS[timeframe]

    # -- data --------------------------------------------------------------------------------------

    def on_trade(self, code: str, volume: Decimal) -> None:
        self._traded[code] = self._traded.get(code, Decimal(0)) + volume

    def has(self, code: str, timeframe: str) -> bool:
        return (code, timeframe) in self._histories

    def history(self, code: str, timeframe: str, now_ms: int) -> deque[ClosedCandle]:
        """The closed candles of ``code`` at ``timeframe``, oldest first (seeded the first time)."""
        history = self._histories.get((code, timeframe))
        if history is None:
            history = self._seeded(code, timeframe, self.last_closed(timeframe, now_ms))
            self._histories[(code, timeframe)] = history
        return history

    def replace(self, code: str, timeframe: str, closes: Sequence[Decimal], volumes: Sequence[Decimal],
                now_ms: int) -> None:
        """Make ``closes``/``volumes`` the history, its last candle the latest closed one."""
        end = self.last_closed(timeframe, now_ms)
        ms = TIMEFRAME_MS[timeframe]
        n = len(closes)
        candles = [ClosedCandle(end - (n - 1 - i) * ms, c, v) for i, (c, v) in enumerate(zip(closes, volumes))]
        self._histories[(code, timeframe)] = deque(candles, maxlen=HISTORY_SIZE)
        self._forget(timeframe)

    def close(self, timeframe: str, start_ms: int, codes: Iterable[str], prices: Mapping[str, Decimal],
              volumes: Mapping[str, Decimal]) -> bool:
        """Close the ``timeframe`` candle starting at ``start_ms`` for every history of that timeframe
        (creating those of ``codes`` first); ``prices``/``volumes`` override the market's. Return
        whether this close's signals are suppressed (the first close after ``restart()``)."""
        for code in codes:
            if (code, timeframe) not in self._histories:
                self._histories[(code, timeframe)] = self._seeded(code, timeframe, start_ms - TIMEFRAME_MS[timeframe])
        opened = self._traded_at_open[timeframe]
        for (code, tf), history in self._histories.items():
            if tf != timeframe:
                continue
            price = prices.get(code, self._price_of(code))
            volume = volumes.get(code, self._traded.get(code, Decimal(0)) - opened.get(code, Decimal(0)))
            history.append(ClosedCandle(start_ms, price, volume))
        self._traded_at_open[timeframe] = dict(self._traded)
        self._last_closed[timeframe] = start_ms
        self._forget(timeframe)
        suppressed = timeframe in self._restarted
        self._restarted.discard(timeframe)
        return suppressed

    def restart(self) -> None:
        """As after a server restart that lost condition states: the next close of each timeframe fires no signal."""
        self._restarted.update(TIMEFRAME_MS)

    # -- indicators --------------------------------------------------------------------------------

    def value(self, code: str, timeframe: str, params: IndicatorParams) -> IndicatorValue | None:
        """The indicator at the latest closed candle (None when the history is too short)."""
        values = self._value_series(code, timeframe, params)
        return values[-1] if values else None

    def fired(self, code: str, timeframe: str, condition: SignalCondition) -> bool:
        """Whether ``condition`` turned from not met to met at the latest close."""
        key = (code, timeframe, condition)
        states = self._states.get(key)
        if states is None:
            closes = [c.close for c in self._histories[(code, timeframe)]]
            states = self._states[key] = condition_states(
                condition, closes, self._value_series(code, timeframe, condition.params))
        return len(states) >= 2 and states[-1] and not states[-2]

    def _value_series(self, code: str, timeframe: str, params: IndicatorParams) -> list[IndicatorValue | None]:
        key = (code, timeframe, params)
        values = self._values.get(key)
        if values is None:
            history = self._histories[(code, timeframe)]
            values = self._values[key] = value_series(params, [c.close for c in history], [c.volume for c in history])
        return values

    def _forget(self, timeframe: str) -> None:
        self._values = {k: v for k, v in self._values.items() if k[1] != timeframe}
        self._states = {k: v for k, v in self._states.items() if k[1] != timeframe}

    def _seeded(self, code: str, timeframe: str, last_start: int) -> deque[ClosedCandle]:
        """``SEEDED`` closed candles ending at ``last_start``: a seeded walk back from the market's price."""
        rng = random.Random(f"{self.seed}/{code}/{timeframe}")
        ms = TIMEFRAME_MS[timeframe]
        scale = math.sqrt(ms / TIMEFRAME_MS["5m"])
        price = self._price_of(code)
        closes = [price]
        walk = float(price)
        for _ in range(SEEDED - 1):
            walk /= 1 + rng.gauss(0.0, 0.003 * scale)
            closes.append(_on_tick(code, Decimal(repr(walk))))
        closes.reverse()
        base = 1e9 * scale * scale / float(price)  # about 1G KRW traded per 5 minutes
        candles = [ClosedCandle(last_start - (SEEDED - 1 - i) * ms, close,
                                Decimal(f"{rng.lognormvariate(0.0, 0.6) * base:.8f}")) for i, close in enumerate(closes)]
        return deque(candles, maxlen=HISTORY_SIZE)


def _on_tick(code: str, price: Decimal) -> Decimal:
    unit = tick_size(code, price)
    return max((price / unit).quantize(Decimal(1), ROUND_HALF_UP) * unit, unit)
