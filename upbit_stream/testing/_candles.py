"""Candles of the simulated market: each (code, unit)'s candle in progress and the updates not yet published."""

from __future__ import annotations

from decimal import Context, Decimal

from .._core.events import CANDLE_INTERVALS

__all__ = ["INTERVAL_MS", "CandleBook", "CandleState"]

_CTX = Context(prec=60)
INTERVAL_MS = {u: (int(u[:-1]) * (1000 if u.endswith("s") else 60_000)) for u in CANDLE_INTERVALS}


class CandleState:
    """One candle: its period start (epoch ms), OHLC, volume and amount (``price × volume`` summed)."""

    __slots__ = ("start", "open", "high", "low", "close", "volume", "amount", "ts")

    def __init__(self, start: int, price: Decimal, ts: int) -> None:
        self.start, self.ts = start, ts
        self.open = self.high = self.low = self.close = price
        self.volume = self.amount = Decimal(0)

    def copy(self) -> CandleState:
        twin = CandleState(self.start, self.open, self.ts)
        twin.high, twin.low, twin.close, twin.volume, twin.amount = (self.high, self.low, self.close,
                                                                    self.volume, self.amount)
        return twin


class CandleBook:
    """The candles of every code and unit, and which of them a trade changed since the last ``take_dirty()``.

    A candle whose period ends before it was taken is kept aside (closed, with its final update) so
    the next ``take_dirty()`` still returns it, before the candle that replaced it: a period closed
    between two flushes is never lost. At most ``closed_limit`` such candles wait (oldest dropped and
    counted in ``lost``), so a book nobody flushes stays bounded.
    """

    def __init__(self, closed_limit: int = 4096) -> None:
        self._current: dict[tuple[str, str], CandleState] = {}
        self._dirty: dict[tuple[str, str], None] = {}
        self._closed: dict[tuple[str, str, int], CandleState] = {}  # bounded: closed_limit
        self.closed_limit = closed_limit
        self.lost = 0

    def seed(self, code: str, price: Decimal, now_ms: int) -> None:
        """Give ``code`` a placeholder candle per unit (no trade yet: what a snapshot shows before one)."""
        for unit, ms in INTERVAL_MS.items():
            self._current[(code, unit)] = CandleState(now_ms - now_ms % ms, price, now_ms)

    def current(self, code: str, unit: str) -> CandleState:
        return self._current[(code, unit)]

    def record(self, code: str, price: Decimal, volume: Decimal, amount: Decimal, now_ms: int) -> None:
        """Add one trade to every unit's candle of ``code``; a new period (or a placeholder) starts fresh."""
        for unit, ms in INTERVAL_MS.items():
            key = (code, unit)
            start = now_ms - now_ms % ms
            c = self._current[key]
            if c.start != start or not c.volume:  # a placeholder has no volume; a trade always has some
                if c.start != start and key in self._dirty:
                    self._keep_closed(code, unit, c)
                c = self._current[key] = CandleState(start, price, now_ms)
            c.high, c.low, c.close, c.ts = max(c.high, price), min(c.low, price), price, now_ms
            c.volume = _CTX.add(c.volume, volume)
            c.amount = _CTX.add(c.amount, amount)
            self._dirty[key] = None

    def _keep_closed(self, code: str, unit: str, candle: CandleState) -> None:
        if len(self._closed) >= self.closed_limit:
            del self._closed[next(iter(self._closed))]
            self.lost += 1
        self._closed[(code, unit, candle.start)] = candle

    def take_dirty(self) -> list[tuple[str, str, CandleState]]:
        """Every candle changed since the last call, each once: closed ones first (oldest first), then
        the candles in progress. The states returned are copies (later trades do not change them)."""
        closed, self._closed = self._closed, {}
        dirty, self._dirty = self._dirty, {}
        taken = [(code, unit, c) for (code, unit, _), c in closed.items()]
        taken += [(code, unit, self._current[(code, unit)].copy()) for code, unit in dirty]
        return taken
