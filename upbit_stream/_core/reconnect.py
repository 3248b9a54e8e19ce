"""The reconnect state machine of one endpoint: attempts, backoff, repeated failures, giving up.

Pure: times come in as arguments, connection events go out as values. ``classify`` decides each
failure's recovery; this module applies it: retry after jittered backoff (reset only after data
flowed for ``healthy_after``), cool down the whole session after HTTP 429/418, count "fatal if
repeated" failures in a row without data, and give up when a failure is fatal.
"""

from __future__ import annotations

import math
import random

import attrs

from .classify import REPEAT_LIMIT, Failure, Recovery
from .errors import ConnectError, UpbitStreamError
from .markers import StreamGap
from .policies import Backoff, ConnectGate
from .stats import ConnectionEvent, ConnectionEventKind, ConnectionState

__all__ = ["ConnectionState", "Lost", "Made", "Reconnection"]


@attrs.frozen
class Made:
    """A connection came up: its event, and the gap subscribers are told about (after an outage)."""

    event: ConnectionEvent
    gap: StreamGap | None


@attrs.frozen
class Lost:
    """A connection or attempt ended: events to emit, and the error everyone fails with if fatal."""

    events: tuple[ConnectionEvent, ...]
    fatal: UpbitStreamError | None
    delay: float


class Reconnection:
    """Attempts and recovery of one endpoint; the connect ``gate`` is shared by the session."""

    def __init__(self, endpoint: str, gate: ConnectGate, backoff: Backoff, *, min_attempt_gap: float,
                 healthy_after: float, throttled_cooldown: float, banned_cooldown: float) -> None:
        self.endpoint = endpoint
        self.state = ConnectionState.IDLE
        self.connected_since: float | None = None  # wall-clock seconds
        self.connect_time: float | None = None  # seconds the last successful attempt took
        self.reconnects = 0
        self.last_error: str | None = None
        self._gate = gate
        self._backoff = backoff
        self._min_gap = min_attempt_gap
        self._healthy_after = healthy_after
        self._cooldowns = {Recovery.THROTTLED: throttled_cooldown, Recovery.BANNED: banned_cooldown}
        self._retry_at = -math.inf
        self._last_attempt = -math.inf
        self._down_since: float | None = None
        self._ever_connected = False
        self._repeated = 0
        self._first_data_at: float | None = None

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self.state is ConnectionState.CONNECTED

    def next_attempt_at(self, now: float, wanted: bool) -> float | None:
        """When the next attempt may start (None: not ``wanted``, failed, or already connecting/open)."""
        if not wanted or self.state in (ConnectionState.CONNECTING, ConnectionState.CONNECTED, ConnectionState.FAILED):
            return None
        return max(now, self._retry_at, self._last_attempt + self._min_gap, self._gate.ready_at(now))

    def retry_now(self) -> None:
        """A new subscription after giving up: try again (no earlier than the attempt gap allows)."""
        if self.state is ConnectionState.FAILED:
            self.state = ConnectionState.IDLE
            self._retry_at = -math.inf

    def attempt_started(self, now: float) -> None:
        """An attempt starts at ``now`` (it passed the connect gate)."""
        self.state = ConnectionState.CONNECTING
        self._last_attempt = now

    def made(self, now: float, wall: float) -> Made:
        """The attempt succeeded at ``now``."""
        self.state = ConnectionState.CONNECTED
        self.connected_since = wall
        self.connect_time = now - self._last_attempt
        self._first_data_at = None
        if self._ever_connected and self._down_since is not None:
            self.reconnects += 1
            reason = self.last_error or "connection lost"
            event = ConnectionEvent(self.endpoint, ConnectionEventKind.RECONNECTED, wall, reason,
                                    wall - self._down_since)
            made = Made(event, StreamGap(reason, self._down_since, wall))
        else:
            made = Made(ConnectionEvent(self.endpoint, ConnectionEventKind.CONNECTED, wall), None)
        self._ever_connected = True
        self._down_since = None
        return made

    def data(self, now: float) -> None:
        """Data arrived on the open connection."""
        if self._first_data_at is None:
            self._first_data_at = now

    def lost(self, failure: Failure, now: float, wall: float) -> Lost:
        """The connection or attempt ended with ``failure`` at ``now``."""
        was_connected = self.state is ConnectionState.CONNECTED
        self.connected_since = None
        recovery, error = failure.recovery, failure.error
        if self._first_data_at is not None:
            self._repeated = 0
        if recovery is Recovery.FATAL_IF_REPEATED:
            self._repeated += 1
            if self._repeated >= REPEAT_LIMIT:
                recovery = Recovery.FATAL
                error = ConnectError(f"gave up after {self._repeated} failures in a row without data: {failure.reason}")
        events = []
        if was_connected:
            events.append(ConnectionEvent(self.endpoint, ConnectionEventKind.DISCONNECTED, wall, failure.reason))
        self.last_error = failure.reason
        if recovery is Recovery.FATAL:
            self.state = ConnectionState.FAILED
            self.last_error = str(error)
            events.append(ConnectionEvent(self.endpoint, ConnectionEventKind.GAVE_UP, wall, str(error)))
            self._down_since = None
            self._repeated = 0
            self._first_data_at = None
            return Lost(tuple(events), error, math.inf)
        if self._down_since is None:
            self._down_since = wall
            if not was_connected:  # an outage's first failed attempt: once, not per attempt
                events.append(ConnectionEvent(self.endpoint, ConnectionEventKind.DISCONNECTED, wall,
                                              f"cannot connect: {failure.reason}"))
        cooldown = self._cooldowns.get(recovery)
        if cooldown is not None:
            self._gate.cool_down(now, cooldown)
        first = self._first_data_at
        if first is not None and now - first >= self._healthy_after:
            self._backoff.reset()
        self._first_data_at = None
        delay = self._backoff.next_delay()
        self._retry_at = now + delay
        self.state = ConnectionState.BACKOFF
        return Lost(tuple(events), None, delay)

    def closed(self, wall: float) -> ConnectionEvent:
        """The connection was closed politely (nobody subscribes)."""
        self.connected_since = None
        self.state = ConnectionState.IDLE
        self._down_since = None
        self._first_data_at = None
        return ConnectionEvent(self.endpoint, ConnectionEventKind.DISCONNECTED, wall, "no subscribers")

    def display_state(self, now: float) -> ConnectionState:
        """The state as statistics show it (a backoff that waits out a cooldown shows as cooldown)."""
        if self.state is ConnectionState.BACKOFF and self._gate.cooling_down(now):
            return ConnectionState.COOLDOWN
        return self.state


def new_reconnection(endpoint: str, gate: ConnectGate, rng: random.Random, *, initial_delay: float,
                     max_delay: float, min_attempt_gap: float, healthy_after: float,
                     throttled_cooldown: float, banned_cooldown: float) -> Reconnection:
    """A ``Reconnection`` with its own backoff drawn from ``rng``."""
    return Reconnection(endpoint, gate, Backoff(initial_delay, max_delay, rng=rng), min_attempt_gap=min_attempt_gap,
                        healthy_after=healthy_after, throttled_cooldown=throttled_cooldown,
                        banned_cooldown=banned_cooldown)
