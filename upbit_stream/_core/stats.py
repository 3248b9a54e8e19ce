"""Observability values: connection events, session statistics, health, latency percentiles."""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping

import attrs

__all__ = [
    "ConnectionEvent",
    "ConnectionEventKind",
    "ConnectionState",
    "ConnectionStats",
    "Health",
    "HealthStatus",
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

    def percentiles(self, *fractions: float) -> tuple[float | None, ...]:
        """The percentile of each of ``fractions`` (0..1) of the recorded samples (one sort), None without samples."""
        if not self._samples:
            return (None,) * len(fractions)
        ordered = sorted(self._samples)
        last = len(ordered) - 1
        return tuple(ordered[min(last, max(0, round(fraction * last)))] for fraction in fractions)


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


class ConnectionState(enum.StrEnum):
    """Where an endpoint's connection stands."""

    IDLE = "idle"  # nobody subscribes: no connection
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKOFF = "backoff"  # waiting to retry after a failure
    COOLDOWN = "cooldown"  # waiting out a 429/418 cooldown
    FAILED = "failed"  # gave up; a new subscription tries again


class HealthStatus(enum.StrEnum):
    """``Health.status``: healthy, degraded (streaming, with reasons) or down."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"


@attrs.frozen
class ConnectionStats:
    """One endpoint's connection (SPEC §7); ``str()`` is a one-line summary."""

    endpoint: str
    state: ConnectionState
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

    def __str__(self) -> str:
        parts = [f"{self.endpoint}: {self.state}", f"{sum(self.messages.values()):,} messages",
                 f"{self.message_rate:,.1f}/s", f"{self.reconnects} reconnects"]
        if self.latency_p50_ms is not None and self.latency_p99_ms is not None:
            parts.append(f"latency p50 {self.latency_p50_ms:.1f} ms, p99 {self.latency_p99_ms:.1f} ms")
        if self.protocol_errors or self.unmatched_errors:
            parts.append(f"{self.protocol_errors} bad frames, {self.unmatched_errors} unmatched errors")
        if self.last_error:
            parts.append(f"last error: {self.last_error}")
        return ", ".join(parts)


@attrs.frozen
class SubscriptionStats:
    """One subscription: what it asked for and how delivery goes; ``str()`` is a one-line summary."""

    specs: tuple[object, ...]
    delivered: int
    conflated: int
    queued: int
    overflow: str

    def __str__(self) -> str:
        what = "; ".join(f"{getattr(s, 'type', s)} {','.join(getattr(s, 'codes', ())) or '*'}" for s in self.specs)
        return (f"{what} ({self.overflow}): {self.delivered:,} delivered, {self.conflated:,} conflated, "
                f"{self.queued:,} queued")


@attrs.frozen
class SessionStats:
    """Every connection and subscription of a session; ``str()`` is a readable multi-line summary."""

    connections: Mapping[str, ConnectionStats]
    subscriptions: tuple[SubscriptionStats, ...]

    def __str__(self) -> str:
        lines = ["connections:", *(f"  {c}" for _, c in sorted(self.connections.items()))]
        lines += ["subscriptions:", *(f"  {s}" for s in self.subscriptions)] if self.subscriptions else []
        return "\n".join(lines)


@attrs.frozen
class Health:
    """``status`` (a ``HealthStatus``) with the ``reasons`` for it; ``str()`` reads as a sentence per line."""

    status: HealthStatus
    reasons: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "\n".join([str(self.status), *(f"  - {reason}" for reason in self.reasons)])


def summarize_health(stats: SessionStats) -> Health:
    """Reduce statistics to healthy / degraded / down with human-readable reasons.

    A quiet connection is not a fault: the protocol proves a quiet link still streams, and
    replaces it when it does not.
    """
    reasons: list[str] = []
    down = False
    for endpoint, conn in sorted(stats.connections.items()):
        if conn.state is ConnectionState.FAILED:
            down = True
            reasons.append(f"{endpoint}: gave up ({conn.last_error})")
        elif conn.state in (ConnectionState.CONNECTING, ConnectionState.BACKOFF, ConnectionState.COOLDOWN):
            down = True
            reasons.append(f"{endpoint}: {conn.state}" + (f" after {conn.last_error}" if conn.last_error else ""))
    slow = [s for s in stats.subscriptions if s.conflated]
    if slow:
        reasons.append(f"{len(slow)} subscription(s) conflating: consumers slower than the stream")
    if down:
        return Health(HealthStatus.DOWN, tuple(reasons))
    return Health(HealthStatus.DEGRADED if reasons else HealthStatus.HEALTHY, tuple(reasons))
