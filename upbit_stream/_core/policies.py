"""Pacing policies with an injected clock: sliding-window rate limiters, the connect gate, jittered backoff."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence

__all__ = ["WINDOW_MARGIN", "Backoff", "ConnectGate", "ConnectLimiter", "RequestLimiter", "SlidingWindowLimiter"]

#: Safety margin added to every client-side limiter window: Upbit measures on its side of the network.
WINDOW_MARGIN = 0.05


class SlidingWindowLimiter:
    """At most ``count`` events in every sliding window of ``span`` seconds, for each pair given.

    Windows are half-open, ``[t, t + span)`` for every real ``t``: two events share a window
    exactly when they are less than ``span`` apart. So after ``count`` events the next may happen
    at ``oldest + span`` (the oldest of those ``count``), not a moment earlier. That sum is taken
    exactly (rounded up to the next float), and ``delay(now)`` is rounded up so that
    ``now + delay(now)`` is always allowed: no float drift, even at large ``now``. Times are
    monotonic seconds passed in by the caller and must not go backwards.
    """

    __slots__ = ("_events", "_windows")

    def __init__(self, windows: Sequence[tuple[int, float]]) -> None:
        if not windows:
            raise ValueError("a limiter needs at least one (count, span) window")
        for count, span in windows:
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"window count must be an int >= 1, not {count!r}")
            if not (isinstance(span, (int, float)) and math.isfinite(span) and span > 0):
                raise ValueError(f"window span must be a finite number of seconds > 0, not {span!r}")
        self._windows = tuple((count, float(span)) for count, span in windows)
        self._events: deque[float] = deque(maxlen=max(count for count, _ in self._windows))

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """The ``(count, span)`` limits, as given."""
        return self._windows

    def delay(self, now: float) -> float:
        """Seconds to wait from ``now`` until an event is allowed; 0.0 if it is allowed now."""
        wait = 0.0
        for count, span in self._windows:
            if len(self._events) < count:
                continue
            ready = _sum_up(self._events[-count], span)
            if now < ready:
                gap = ready - now
                while now + gap < ready:  # float rounding: never return a wait that falls short
                    gap = math.nextafter(gap, math.inf)
                wait = max(wait, gap)
        return wait

    def record(self, now: float) -> None:
        """Note that an event happened at ``now``; ValueError if the limits forbid it."""
        if self._events and now < self._events[-1]:
            raise ValueError(f"time went backwards: {now!r} < {self._events[-1]!r}")
        wait = self.delay(now)
        if wait > 0:
            raise ValueError(f"an event at {now!r} breaks the rate limit; it is allowed in {wait!r} s")
        self._events.append(now)

    def try_acquire(self, now: float) -> bool:
        """Record an event at ``now`` if the limits allow it; return whether they did."""
        if self.delay(now) > 0 or (self._events and now < self._events[-1]):
            return False
        self._events.append(now)
        return True


def _sum_up(a: float, b: float) -> float:
    """The smallest float >= the exact sum ``a + b`` (Knuth's two-sum finds the rounding error)."""
    total = a + b
    b_part = total - a
    error = (a - (total - b_part)) + (b - b_part)
    return math.nextafter(total, math.inf) if error > 0 else total


class RequestLimiter(SlidingWindowLimiter):
    """Upbit's per-connection request limit: ``per_second`` in 1 s and ``per_minute`` in 60 s."""

    __slots__ = ()

    def __init__(self, per_second: int = 5, per_minute: int = 100) -> None:
        super().__init__([(per_second, 1.0), (per_minute, 60.0)])


class ConnectLimiter(SlidingWindowLimiter):
    """Upbit's connect limit: ``per_second`` connection attempts in any 1 s window."""

    __slots__ = ()

    def __init__(self, per_second: int = 5) -> None:
        super().__init__([(per_second, 1.0)])


class ConnectGate:
    """Session-wide pacing of connection attempts: the connect limit plus 429/418 cooldowns.

    Shared by every endpoint of a session; times are the caller's monotonic seconds.
    """

    __slots__ = ("_cooldown_until", "_limiter")

    def __init__(self, per_second: int) -> None:
        self._limiter = SlidingWindowLimiter([(per_second, 1.0 + WINDOW_MARGIN)])
        self._cooldown_until = -math.inf

    def cooling_down(self, now: float) -> bool:
        """True while a 429/418 cooldown forbids attempts."""
        return self._cooldown_until > now

    def cool_down(self, now: float, seconds: float) -> None:
        """Make no attempt for ``seconds`` from ``now``."""
        self._cooldown_until = max(self._cooldown_until, now + seconds)

    def ready_at(self, now: float) -> float:
        """The earliest time from ``now`` at which one more attempt is allowed."""
        return max(now, self._cooldown_until, now + self._limiter.delay(now))

    def try_attempt(self, now: float) -> bool:
        """Count an attempt at ``now`` if the limit and cooldown allow it; return whether they did."""
        return self._cooldown_until <= now and self._limiter.try_acquire(now)


class Backoff:
    """Capped exponential backoff with equal jitter.

    Attempt ``n`` (0-based since the last ``reset()``) waits a uniformly random time in
    ``[c / 2, c]`` with ``c = min(maximum, initial * 2**n)``. The floor of half the ceiling is
    what bounds a storm: an endpoint that keeps failing makes at most one attempt per
    ``maximum / 2`` seconds (full jitter, from 0, would allow bursts of quick retries).
    """

    __slots__ = ("_attempts", "_rng", "initial", "maximum")

    def __init__(
        self, initial: float = 0.5, maximum: float = 30.0, *, rng: random.Random | None = None
    ) -> None:
        for name, value in (("initial", initial), ("maximum", maximum)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"backoff {name} must be finite seconds > 0, not {value!r}")
        if initial > maximum:
            raise ValueError(f"backoff initial ({initial!r}) must not exceed maximum ({maximum!r})")
        self.initial = float(initial)
        self.maximum = float(maximum)
        self._rng = random.Random() if rng is None else rng
        self._attempts = 0

    @property
    def attempts(self) -> int:
        """Delays handed out since the last ``reset()``."""
        return self._attempts

    def ceiling(self, attempt: int) -> float:
        """The largest delay attempt ``attempt`` can get: ``min(maximum, initial * 2**attempt)``."""
        try:  # past 2100 doublings every positive float exceeds any finite maximum
            return min(self.maximum, math.ldexp(self.initial, min(attempt, 2100)))
        except OverflowError:
            return self.maximum

    def next_delay(self) -> float:
        """The delay before the next attempt; counts the attempt."""
        ceiling = self.ceiling(self._attempts)
        delay = self._rng.uniform(ceiling / 2, ceiling)
        self._attempts += 1
        return delay

    def reset(self) -> None:
        """Start over from ``initial`` (after a connection proved healthy)."""
        self._attempts = 0
