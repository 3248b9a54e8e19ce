"""Delivery to subscribers: bounded channels the reader fills without ever waiting on one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import attrs
import trio

try:  # where trio.testing takes it from: importing trio.testing itself would import pytest
    from trio._core import wait_all_tasks_blocked
except ImportError:  # pragma: no cover - a future trio that moved it
    from trio.testing import wait_all_tasks_blocked

from .._core.errors import SlowConsumerError, UpbitStreamError
from .._core.markers import StreamGap

__all__ = ["MAX_BATCH", "Sink", "StreamGap", "batch_limit", "let_consumers_catch_up"]

Overflow = Literal["latest", "strict"]

#: Most messages the reader takes in one step when several are already waiting.
MAX_BATCH = 64
#: Longest the reader waits after a batch for the consumers to take what it delivered.
CATCH_UP_LIMIT = 0.002


class Sink:
    """The delivering end of one subscription.

    ``deliver`` is synchronous: it puts the event into the subscriber's bounded channel, or, when
    the channel is full, conflates it (``"latest"``: keep the newest event per type and code until
    the subscriber catches up) or fails the subscription (``"strict"``).
    """

    def __init__(
        self, send: trio.MemorySendChannel[Any], buffer: int, overflow: Overflow, *, gaps: bool = False
    ) -> None:
        self._send = send
        self.gaps = gaps
        self.buffer = buffer
        self.overflow = overflow
        self._pending: dict[tuple[Any, ...], Any] = {}
        self._wake = trio.Event()
        self._finishing = False
        self.closed = False
        self.failure: UpbitStreamError | None = None
        self.cancel_scope: trio.CancelScope | None = None
        self.delivered = 0
        self.conflated = 0
        self.missed = 0
        self._in_flight = 0  # an event flush() took from _pending and waits to put in the channel

    @property
    def queued(self) -> int:
        """Events waiting for the subscriber (in the channel or held back by conflation).

        ``delivered + conflated + queued - <events in the channel>`` is every event offered.
        """
        return self._send.statistics().current_buffer_used + len(self._pending) + self._in_flight

    @property
    def backlog(self) -> int:
        """Events in the channel for a consumer expected to catch up: 0 once it is conflated or closed."""
        return 0 if self._pending or self.closed else self._send.statistics().current_buffer_used

    def deliver(self, event: Any) -> None:
        """Hand ``event`` to the subscriber without blocking."""
        if self.closed:
            return
        if not self._pending:
            try:
                self._send.send_nowait(event)
            except trio.WouldBlock:
                pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.closed = True  # the subscriber closed its end: nothing more to do
                return
            else:
                self.delivered += 1
                return
        if self.overflow == "strict":
            self.missed += 1
            self.fail(SlowConsumerError(self.missed, self.buffer))
            return
        key = (event.__class__, getattr(event, "type", None), getattr(event, "code", None))
        if self._pending.pop(key, None) is not None:
            self.conflated += 1
        self._pending[key] = event
        self._wake.set()

    def fail(self, error: UpbitStreamError) -> None:
        """End the subscription with ``error``, raised from the subscriber's ``async with``."""
        if self.failure is None and not self.closed:
            self.failure = error
        if self.cancel_scope is not None:
            self.cancel_scope.cancel()  # first, so a waiting receive sees Cancelled, not EndOfChannel
        self.close()

    def finish(self) -> None:
        """End the channel once everything already delivered has been taken."""
        self._finishing = True
        if not self._pending:
            self.close()
        else:
            self._wake.set()

    def close(self) -> None:
        """End the channel now, dropping anything held back."""
        self.closed = True
        self._pending.clear()
        self._send.close()
        self._wake.set()  # lets flush() return

    async def flush(self) -> None:
        """Move conflated events into the channel as the subscriber makes room (a task)."""
        while not self.closed:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._pending and not self.closed:
                key = next(iter(self._pending))
                event = self._pending.pop(key)
                self._in_flight = 1
                try:
                    await self._send.send(event)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self.closed = True
                    return
                finally:
                    self._in_flight = 0
                self.delivered += 1
            if self._finishing:
                self.close()


def batch_limit(sinks: Iterable[Sink]) -> int:
    """How many waiting messages the reader may take in one step: half the smallest buffer, at most ``MAX_BATCH``.

    Half, so that a batch fits beside what a consumer has not taken yet, after the reader let it
    catch up (``let_consumers_catch_up``).
    """
    return min(MAX_BATCH, min((sink.buffer // 2 for sink in sinks), default=MAX_BATCH))


async def let_consumers_catch_up(sinks: Callable[[], Iterable[Sink]]) -> None:
    """After a batch: wait until no other task can run, so consumers take what they were given.

    A consumer takes one event per scheduling round while a reader taking a batch per round
    would outrun it; this evens the pace without waiting on any one subscriber. A consumer that
    sleeps or waits on something else does not hold the reader (no task can run, so the wait
    ends); when other tasks keep running, the reader waits in steps of ``CATCH_UP_LIMIT`` only
    while consumers are still taking events from ``sinks()`` (conflated ones are not waited for).
    """
    backlog: int | None = None
    while True:
        with trio.move_on_after(CATCH_UP_LIMIT) as waited:
            await wait_all_tasks_blocked()
        if not waited.cancelled_caught:
            return
        now = sum(sink.backlog for sink in sinks())
        if not now or (backlog is not None and now >= backlog):
            return
        backlog = now
