"""Observability values: connection events, session statistics, health, latency percentiles."""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping

import attrs

__all__ = [
    "ConnectionEvent",
    "ConnectionEventKind",
    "ConnectionStats",
    "Health",
    "LatencyWindow",
    "RateWindow",
    "SessionStats",
    "SubscriptionStats",
    "summarize_health",
]


class ConnectionEventKind(enum.StrEnum):
    """What happened to a connection."""

    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    RECONNECTED = "RECONNECTED"
    GAVE_UP = "GAVE_UP"


@attrs.frozen
class ConnectionEvent:
    """A change of a connection's state; ``at`` is ``time.time()``, ``downtime`` in seconds."""

    endpoint: str
    kind: ConnectionEventKind
    at: float
    reason: str | None = None
    downtime: float | None = None


class LatencyWindow:
    """The last ``size`` exchange-to-client latencies (ms), for percentiles."""

    def __init__(self, size: int = 2048) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, milliseconds: float) -> None:
        """Record one latency sample."""
        self._samples.append(milliseconds)

    def percentile(self, fraction: float) -> float | None:
        """The ``fraction`` percentile (0..1) of the recorded samples, or None without samples."""
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
        return ordered[index]


class RateWindow:
    """Messages per second over the last ``span`` seconds, counted in one-second buckets."""

    def __init__(self, span: int = 10) -> None:
        self._span = span
        self._buckets: deque[list[float]] = deque(maxlen=span + 1)  # [second, count]
        self._started: float | None = None

    def reset(self, now: float) -> None:
        """Start counting afresh at ``now`` (a new connection)."""
        self._buckets.clear()
        self._started = now

    def add(self, now: float, count: int) -> None:
        """Record ``count`` messages at ``now``."""
        second = float(int(now))
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += count
        else:
            self._buckets.append([second, count])

    def rate(self, now: float) -> float:
        """Messages per second over the window ending at ``now`` (shorter if counting began later)."""
        if self._started is None:
            return 0.0
        start = max(self._started, now - self._span)
        elapsed = now - start
        if elapsed <= 0:
            return 0.0
        total = sum(count for second, count in self._buckets if second + 1 > start)
        return total / max(elapsed, 1.0)


@attrs.frozen
class ConnectionStats:
    """One endpoint's connection (SPEC §7)."""

    endpoint: str
    state: str
    connected_since: float | None
    reconnects: int
    messages: Mapping[str, int]
    bytes: Mapping[str, int]
    message_rate: float
    last_message_age: float | None
    requests_sent: int
    rate_limit_waits: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    last_error: str | None
    protocol_errors: int = 0
    unmatched_errors: int = 0


@attrs.frozen
class SubscriptionStats:
    """One subscription: what it asked for and how delivery goes."""

    specs: tuple[object, ...]
    delivered: int
    conflated: int
    queued: int
    overflow: str


@attrs.frozen
class SessionStats:
    """Every connection and subscription of a session."""

    connections: Mapping[str, ConnectionStats]
    subscriptions: tuple[SubscriptionStats, ...]


@attrs.frozen
class Health:
    """``status`` is ``"healthy"``, ``"degraded"`` or ``"down"``; ``reasons`` say why."""

    status: str
    reasons: tuple[str, ...] = ()


def summarize_health(stats: SessionStats) -> Health:
    """Reduce statistics to healthy / degraded / down with human-readable reasons.

    A quiet connection is not a fault: the protocol proves a quiet link still streams, and
    replaces it when it does not.
    """
    reasons: list[str] = []
    down = False
    for endpoint, conn in sorted(stats.connections.items()):
        if conn.state == "failed":
            down = True
            reasons.append(f"{endpoint}: gave up ({conn.last_error})")
        elif conn.state in ("connecting", "backoff", "cooldown"):
            down = True
            reasons.append(f"{endpoint}: {conn.state}" + (f" after {conn.last_error}" if conn.last_error else ""))
    slow = [s for s in stats.subscriptions if s.conflated]
    if slow:
        reasons.append(f"{len(slow)} subscription(s) conflating: consumers slower than the stream")
    if down:
        return Health("down", tuple(reasons))
    return Health("degraded" if reasons else "healthy", tuple(reasons))
