"""Session-wide pacing of connection attempts: Upbit's connect limit and the 429/418 cooldowns."""

from __future__ import annotations

import trio

from .._core.policies import SlidingWindowLimiter

__all__ = ["WINDOW_MARGIN", "ConnectGate"]

#: Safety margin added to every limiter window: Upbit measures on its side of the network.
WINDOW_MARGIN = 0.05


class ConnectGate:
    """Session-wide pacing of connection attempts: the connect limit plus 429/418 cooldowns."""

    def __init__(self, per_second: int) -> None:
        self._limiter = SlidingWindowLimiter([(per_second, 1.0 + WINDOW_MARGIN)])
        self._cooldown_until = 0.0
        self.waits = 0

    @property
    def cooling_down(self) -> bool:
        """True while a 429/418 cooldown forbids attempts."""
        return self._cooldown_until > trio.current_time()

    def cool_down(self, seconds: float) -> None:
        """Make no attempt for ``seconds``."""
        self._cooldown_until = max(self._cooldown_until, trio.current_time() + seconds)

    async def acquire(self) -> None:
        """Wait until one more connection attempt is allowed, and count it."""
        while True:
            now = trio.current_time()
            wait = max(self._cooldown_until - now, self._limiter.delay(now))
            if wait <= 0:
                self._limiter.record(now)
                return
            self.waits += 1
            await trio.sleep(wait)
