"""What an endpoint protocol shows of itself: its statistics and the reasons it is less than healthy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .reconnect import ConnectionState
from .silence import IndicatorSilence, health_notes
from .stats import ConnectionStats, LatencyWindow, RateWindow

if TYPE_CHECKING:
    from .demand import SubscriptionBook
    from .liveness import Liveness
    from .protocol_config import ProtocolConfig
    from .reconnect import Reconnection
    from .schedule import RequestSchedule

__all__ = ["Observation"]


class Observation:
    """Mixed into ``EndpointProtocol``: ``stats()`` and ``health_reasons()``."""

    # provided by EndpointProtocol
    endpoint: str
    config: ProtocolConfig
    book: SubscriptionBook
    reconnection: Reconnection
    messages: dict[str, int]
    bytes: dict[str, int]
    protocol_errors: int
    unmatched_errors: int
    _liveness: Liveness
    _schedule: RequestSchedule
    _rate: RateWindow
    _latency: LatencyWindow
    _silence: IndicatorSilence

    @property
    def state(self) -> ConnectionState:
        """Where the connection stands."""
        return self.reconnection.state

    def stats(self, now: float) -> ConnectionStats:
        """A snapshot of this connection's statistics."""
        connected = self.state is ConnectionState.CONNECTED
        p50, p99 = self._latency.percentiles(0.5, 0.99)
        return ConnectionStats(
            endpoint=self.endpoint, state=self.reconnection.display_state(now),
            connected_since=self.reconnection.connected_since, reconnects=self.reconnection.reconnects,
            messages=dict(self.messages), bytes=dict(self.bytes),
            message_rate=self._rate.rate(now) if connected else 0.0,
            last_message_age=self._liveness.quiet_for(now) if connected else None,
            requests_sent=self._schedule.requests_sent, rate_limit_waits=self._schedule.rate_limit_waits,
            latency_p50_ms=p50, latency_p99_ms=p99,
            last_error=self.reconnection.last_error, protocol_errors=self.protocol_errors,
            unmatched_errors=self.unmatched_errors,
        )

    def health_reasons(self, now: float) -> list[str]:
        """Why this endpoint is less than healthy while connected (starved snapshots, silent indicators)."""
        if self.state is not ConnectionState.CONNECTED:
            return []
        return health_notes(self.endpoint, self.book, self._silence, self.config.snapshot_patience, now)
