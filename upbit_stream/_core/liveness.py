"""Liveness of one connection: ping schedule, pong deadline, and when a quiet link must prove itself.

Dead and quiet are different things. A connection is **dead** when a pong is overdue: it is
aborted at once. It is **quiet** when no data came for ``stale_after`` seconds: a quiet market is
normal, so the connection is asked to prove it still streams (the protocol sends
LIST_SUBSCRIPTIONS) and is replaced only if that proof fails or goes unanswered.
"""

from __future__ import annotations

import math

__all__ = ["Liveness"]


class Liveness:
    """Timers of one connection; times are the caller's monotonic seconds."""

    def __init__(self, interval: float, timeout: float, stale_after: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.stale_after = stale_after
        self.last_data_at = 0.0
        self.rtt: float | None = None
        self._last_ping_at = 0.0
        self._ping_sent_at: float | None = None
        self._proved_at = 0.0

    def connected(self, now: float) -> None:
        """A new connection is up at ``now``."""
        self.last_data_at = self._last_ping_at = self._proved_at = now
        self._ping_sent_at = None
        self.rtt = None

    def data(self, now: float) -> None:
        """Data arrived at ``now``."""
        self.last_data_at = now

    def ping_due(self) -> float:
        """When the next ping should go (infinity while one is unanswered)."""
        return math.inf if self._ping_sent_at is not None else self._last_ping_at + self.interval

    def ping_sent(self, now: float) -> None:
        """A ping went out at ``now``."""
        self._ping_sent_at = self._last_ping_at = now

    def pong(self, now: float) -> None:
        """The pong of the last ping arrived at ``now``."""
        if self._ping_sent_at is not None:
            self.rtt = now - self._ping_sent_at
            self._ping_sent_at = None

    def pong_deadline(self) -> float:
        """When the unanswered ping makes the connection dead (infinity if none is out)."""
        return math.inf if self._ping_sent_at is None else self._ping_sent_at + self.timeout

    def dead(self, now: float) -> str | None:
        """Why the connection is dead at ``now``, or None."""
        if now >= self.pong_deadline():
            return f"no pong within {self.timeout:g} s"
        return None

    def proof_due(self, watching: bool) -> float:
        """When a quiet connection must prove it still streams (``watching``: someone expects data)."""
        if not watching or not self.stale_after:
            return math.inf
        return max(self.last_data_at, self._proved_at) + self.stale_after

    def proved(self, now: float) -> None:
        """The connection proved at ``now`` that it is alive and subscribed."""
        self._proved_at = now

    def quiet_for(self, now: float) -> float:
        """Seconds since the last data."""
        return now - self.last_data_at
