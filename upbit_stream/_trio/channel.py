"""``SubscriptionChannel``: one subscription's bounded, in-band-failing receive channel.

The connection's reader puts events in synchronously (``_deliver``: never waits); the consumer takes
them with ``async for``, ``receive``, ``receive_nowait`` or in lists (``receive_batch``,
``batches``). A failure of the subscription (``_fail``) is raised by the receive after everything
delivered before it; nothing cancels the consumer.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Any, Generic, Literal, TypeVar

import trio

from .._core.construction import NoPublicConstructor
from .._core.errors import SlowConsumerError, UpbitStreamError
from .._core.info_events import Announcement, Indicator, IndicatorSignal
from .._core.markers import StreamGap

__all__ = ["MAX_UNREAD_GAPS", "YIELD_AFTER", "YIELD_EVERY", "SubscriptionChannel", "watcher_channel"]

EventT_co = TypeVar("EventT_co", covariant=True)
Overflow = Literal["latest", "strict"]

#: Events a receive may hand out in a row without yielding to the scheduler (still a cancel point each time).
YIELD_EVERY = 64
#: Seconds of handing out events in a row after which a receive yields to the scheduler anyway.
YIELD_AFTER = 0.000_25
#: Unread ``StreamGap`` markers kept apart; beyond that the newest unread one widens to cover the next.
MAX_UNREAD_GAPS = 64

_clock = time.perf_counter


class SubscriptionChannel(trio.abc.ReceiveChannel[EventT_co], Generic[EventT_co], metaclass=NoPublicConstructor):
    """The events of one subscription, in wire order, at most ``buffer`` of them unread.

    Built by the session (``async with session.subscribe(...) as channel``), never by hand. When ``buffer`` events are unread, ``overflow`` decides: ``"latest"`` keeps
    the newest event per stream (type, code and orderbook level), in the place its stream first took
    in line; ``"strict"`` fails the subscription with ``SlowConsumerError``, counting every event it
    could not take. ``StreamGap`` markers are never merged with events or with each other.
    """

    def __init__(self, buffer: int, overflow: Overflow, *, gaps: bool = False) -> None:
        self.buffer = buffer
        self.overflow = overflow
        self.gaps = gaps
        self._ready: deque[Any] = deque()  # bounded: buffer events, plus at most MAX_UNREAD_GAPS markers
        self._held: dict[Hashable, Any] = {}  # bounded: one per stream of this subscription's specs
        self._unread_gaps = 0
        self._gap_keys = 0
        self._waiting = trio.lowlevel.ParkingLot()
        self._ended = False  # no more events will come: EndOfChannel once drained
        self._closed = False  # the consumer closed its end
        self._failure: UpbitStreamError | None = None
        self.failure_seen = False
        self.delivered = 0
        self.conflated = 0
        self.missed = 0
        self.taken = 0  # events (not markers) the consumer has received
        self._in_a_row = 0
        self._since_yield = 0.0
        self._caught_up: trio.Event | None = None

    def __repr__(self) -> str:
        return f"<SubscriptionChannel {self.overflow} buffer={self.buffer} queued={self.queued}>"

    # -- the delivering side (synchronous; the connection and session call these) --------------

    @property
    def accepting(self) -> bool:
        """Whether delivered events still go anywhere (not ended, failed or closed)."""
        return not (self._ended or self._closed or self._failure is not None)

    @property
    def queued(self) -> int:
        """Events and markers waiting for the consumer."""
        return len(self._ready) + len(self._held)

    @property
    def failure(self) -> UpbitStreamError | None:
        """The error this subscription ended with, if any."""
        failure = self._failure
        if isinstance(failure, SlowConsumerError) and failure.missed != self.missed:
            failure = self._failure = SlowConsumerError(self.missed, self.buffer)
        return failure

    def _deliver(self, item: Any) -> None:
        """Put ``item`` in line without waiting: conflate or fail if ``buffer`` events are unread."""
        if not self.accepting:
            if self._failure is not None and not self.failure_seen:
                self.missed += 1
            return
        if item.__class__ is StreamGap:
            self._deliver_gap(item)
        elif not self._held and len(self._ready) - self._unread_gaps < self.buffer:
            self._ready.append(item)
        elif self.overflow == "strict":
            self.missed += 1
            self._failure = SlowConsumerError(self.missed, self.buffer)
            self._waiting.unpark_all()
            self._release_catch_up()
            return
        else:
            key = _stream_key(item)
            replaced = key in self._held
            self._held[key] = item
            if replaced:  # the event it replaces was counted as delivered: now it counts as conflated
                self.conflated += 1
                return
        self.delivered += 1
        if self._waiting:  # the hot path: most events find nobody parked
            self._waiting.unpark_all()

    def _deliver_many(self, items: list[Any]) -> None:
        """``_deliver`` each of ``items`` (events, never markers), in order."""
        ready = self._ready
        if (self._held or self._ended or self._closed or self._failure is not None
                or len(ready) - self._unread_gaps + len(items) > self.buffer):
            for item in items:
                self._deliver(item)
            return
        ready.extend(items)
        self.delivered += len(items)
        if self._waiting:
            self._waiting.unpark_all()

    def _deliver_gap(self, gap: StreamGap) -> None:
        if self._unread_gaps >= MAX_UNREAD_GAPS:
            self._widen_newest_gap(gap)
            return
        self._unread_gaps += 1
        if self._held:  # keep its place behind the held events
            self._gap_keys += 1
            self._held[("gap", self._gap_keys)] = gap
        else:
            self._ready.append(gap)

    def _widen_newest_gap(self, gap: StreamGap) -> None:
        for key in reversed(list(self._held)):
            old = self._held[key]
            if old.__class__ is StreamGap:
                self._held[key] = StreamGap(gap.reason, old.since, gap.until)
                return
        for index in range(len(self._ready) - 1, -1, -1):
            old = self._ready[index]
            if old.__class__ is StreamGap:
                self._ready[index] = StreamGap(gap.reason, old.since, gap.until)
                return

    @property
    def behind(self) -> bool:
        """A ``"strict"`` subscription with more than half its buffer unread."""
        return self.overflow == "strict" and 2 * len(self._ready) > self.buffer and self.accepting

    async def _wait_caught_up(self) -> None:
        """Return once no more than half the buffer is unread, or the channel stopped accepting."""
        if self.behind:
            if self._caught_up is None:
                self._caught_up = trio.Event()
            await self._caught_up.wait()

    def _release_catch_up(self) -> None:
        if self._caught_up is not None:
            self._caught_up.set()
            self._caught_up = None

    def _fail(self, error: UpbitStreamError) -> None:
        """End the subscription with ``error``, raised after what was already delivered."""
        if self.accepting:
            self._failure = error
            self._waiting.unpark_all()
            self._release_catch_up()

    def _finish(self) -> None:
        """No more events: the consumer gets ``EndOfChannel`` once it has taken what is here."""
        self._ended = True
        self._waiting.unpark_all()
        self._release_catch_up()

    _end = _finish

    # -- the consumer's side --------------------------------------------------------------------

    def receive_nowait(self) -> EventT_co:
        """The next event, or ``trio.WouldBlock`` if none is waiting.

        Raises the subscription's failure once what came before it is taken, ``trio.EndOfChannel``
        once it ended, ``trio.ClosedResourceError`` after ``close()``.
        """
        if self._ready:
            item = self._ready.popleft()
            if self._caught_up is not None and 2 * len(self._ready) <= self.buffer:
                self._release_catch_up()
        elif self._held:
            key = next(iter(self._held))
            item = self._held.pop(key)
        else:
            self._raise_when_empty()
            raise trio.WouldBlock
        if item.__class__ is StreamGap:
            self._unread_gaps -= 1
        else:
            self.taken += 1
        return item  # type: ignore[no-any-return]

    def _raise_when_empty(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("this subscription channel was closed")
        if self._failure is not None:
            failure = self.failure
            self.failure_seen = True
            raise failure  # type: ignore[misc]
        if self._ended:
            raise trio.EndOfChannel

    async def receive(self) -> EventT_co:
        """The next event, waiting if none is here (a cancel point; yields every ``YIELD_EVERY``)."""
        if self._ready or self._held:
            await self._pace()
            return self.receive_nowait()
        while True:
            self._raise_when_empty()
            await self._waiting.park()
            self._in_a_row = 0
            self._since_yield = _clock()
            if self._ready or self._held:
                return self.receive_nowait()

    async def _pace(self) -> None:
        """A cancel point always; a schedule point every ``YIELD_EVERY`` events or ``YIELD_AFTER`` s.

        The time counts from this consumer's last schedule point, so its own work between
        receives counts too: a consumer spending ``YIELD_AFTER`` per event yields before each one.
        """
        self._in_a_row += 1
        if self._in_a_row >= YIELD_EVERY or _clock() - self._since_yield >= YIELD_AFTER:
            await trio.lowlevel.checkpoint()
            self._in_a_row = 0
            self._since_yield = _clock()
            return
        await trio.lowlevel.checkpoint_if_cancelled()

    async def receive_batch(self, limit: int | None = None) -> list[EventT_co]:
        """Every waiting event (at most ``limit``) in wire order, waiting for at least one."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be an int >= 1 or None: got {limit!r}")
        batch = [await self.receive()]
        room = (limit or self.buffer + MAX_UNREAD_GAPS + len(self._held)) - 1
        ready = self._ready
        if len(ready) <= room and not self._unread_gaps and not self._held:  # the usual case: take them all at once
            batch += ready
            self.taken += len(ready)
            ready.clear()
            if self._caught_up is not None:
                self._release_catch_up()
            return batch
        while room > 0 and (self._ready or self._held):
            batch.append(self.receive_nowait())
            room -= 1
        return batch

    async def batches(self, limit: int | None = None) -> AsyncIterator[list[EventT_co]]:
        """``async for batch in channel.batches()``: lists from ``receive_batch`` until the channel ends."""
        while True:
            try:
                yield await self.receive_batch(limit)
            except trio.EndOfChannel:
                return

    async def __anext__(self) -> EventT_co:
        ready = self._ready
        if ready:  # the hot path: receive() with _pace and receive_nowait written out
            in_a_row = self._in_a_row + 1
            if in_a_row >= YIELD_EVERY or _clock() - self._since_yield >= YIELD_AFTER:
                await trio.lowlevel.checkpoint()
                self._in_a_row = 0
                self._since_yield = _clock()
            else:
                self._in_a_row = in_a_row
                await trio.lowlevel.checkpoint_if_cancelled()
            if ready and self._caught_up is None:
                item = ready.popleft()
                if item.__class__ is StreamGap:
                    self._unread_gaps -= 1
                else:
                    self.taken += 1
                return item  # type: ignore[no-any-return]
            try:
                return self.receive_nowait()
            except trio.EndOfChannel:
                raise StopAsyncIteration from None
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving: what is unread is dropped, later receives raise ``ClosedResourceError``."""
        self._closed = True
        self._ready.clear()
        self._held.clear()
        self._unread_gaps = 0
        self._waiting.unpark_all()
        self._release_catch_up()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()


def _stream_key(event: Any) -> Hashable:
    """What ``"latest"`` keeps one event of: type and code, plus an orderbook's level, an indicator's
    timeframe and params (and a signal's trigger), an announcement's uuid."""
    cls = event.__class__
    if cls in _INDICATORS:
        return (cls, event.code, event.timeframe, event.params, getattr(event, "trigger", None))
    if cls is Announcement:
        return (cls, event.uuid)
    return (cls, getattr(event, "type", None), getattr(event, "code", None), getattr(event, "level", None))


_INDICATORS = frozenset({Indicator, IndicatorSignal})



@asynccontextmanager
async def watcher_channel(watchers: list[SubscriptionChannel[Any]], buffer: int) -> AsyncIterator[SubscriptionChannel[Any]]:
    """A strict channel of ``buffer`` registered in ``watchers`` while the block runs (``connection_events()``).

    Raises ``ValueError`` for a bad ``buffer``, and the channel's failure if the block never read it.
    """
    if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
        raise ValueError(f"buffer must be an int >= 1: got {buffer!r}")
    channel: SubscriptionChannel[Any] = SubscriptionChannel._create(buffer, "strict")
    watchers.append(channel)
    try:
        yield channel
    finally:
        watchers.remove(channel)
        channel.close()
    if channel.failure is not None and not channel.failure_seen:
        raise channel.failure
