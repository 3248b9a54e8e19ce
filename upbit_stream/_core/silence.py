"""Health notes of an endpoint: subscribers starved of their snapshot, indicator streams that never spoke."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .demand import Key, SubscriptionBook

__all__ = ["IndicatorSilence", "health_notes"]

#: Seconds per indicator timeframe.
_TIMEFRAME_SECONDS = {"5m": 300.0, "15m": 900.0, "60m": 3600.0, "240m": 14400.0, "1d": 86400.0}
#: Slack on top of two candle periods before an indicator stream without data is reported.
_SLACK = 60.0


class IndicatorSilence:
    """Which indicator streams produced data since they were first wanted.

    Upbit accepts unknown and unsupported markets on ``/websocket/v1/info`` without an error and
    sends nothing for them; a stream silent for two of its candle periods (plus a minute) is reported.
    """

    def __init__(self) -> None:
        self._wanted_since: dict[Key, float] = {}
        self._spoke: set[Key] = set()

    def wanted(self, keys: Iterable[Key], now: float) -> None:
        """``keys`` are subscribed from ``now`` (keys already watched keep their time)."""
        for key in keys:
            if key[0] in ("indicator", "indicator_signal"):
                self._wanted_since.setdefault(key, now)

    def spoke(self, key: Key) -> None:
        """An event arrived for ``key``."""
        if key not in self._spoke and key in self._wanted_since:
            self._spoke.add(key)

    def silent(self, book: SubscriptionBook, now: float) -> list[Key]:
        """Indicator keys still wanted that never produced data within their bound (forgets keys nobody wants)."""
        wanted = set(book.wanted_keys())
        for key in [k for k in self._wanted_since if k not in wanted]:
            del self._wanted_since[key]
            self._spoke.discard(key)
        return sorted((key for key, since in self._wanted_since.items()
                       if key not in self._spoke and now - since > _bound(key)), key=repr)


def _bound(key: Key) -> float:
    variant: Any = key[2]
    # indicator_signal keys are silent by nature until a condition turns true: never reported
    if key[0] != "indicator":
        return float("inf")
    return 2 * _TIMEFRAME_SECONDS.get(variant[0], 86400.0) + _SLACK


def health_notes(endpoint: str, book: SubscriptionBook, silence: IndicatorSilence, patience: float,
                 now: float) -> list[str]:
    """Why ``endpoint`` is less than healthy while connected."""
    notes = []
    late = book.starving(now, patience)
    if late:
        keys = sorted({" ".join(str(p) for p in key if p not in ("", None)) for _, key in late})
        notes.append(f"{endpoint}: no snapshot after {patience:g} s for {_shown(keys)}")
    silent = silence.silent(book, now)
    if silent:
        names = [f"{code} {variant[0]} {variant[1]!r}" for _, code, variant in silent]
        notes.append(f"{endpoint}: no indicator data ever came for {_shown(names)} (Upbit sends none for "
                     "unknown or unsupported markets, without an error)")
    return notes


def _shown(items: list[str]) -> str:
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
