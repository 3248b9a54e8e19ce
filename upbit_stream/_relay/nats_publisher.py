"""The asyncio side's publish window (runs only on the bridge's loop): acknowledged publishes, re-sends."""

from __future__ import annotations

import asyncio
import collections
import itertools
import threading
from collections.abc import Callable, Sequence

import nats.errors
from nats.js import JetStreamContext, api

__all__ = ["MSG_ID", "Item", "Publisher"]

MSG_ID = "Nats-Msg-Id"
Item = tuple[str, bytes, str]  # subject, payload, Nats-Msg-Id


class Publisher:
    """Publishes with acknowledgements through a bounded window; re-sends what is not acknowledged.

    Trio hands items over with ``offer`` (no waiting, no round trip: one wake-up of the loop when
    it is idle, so a batch is whatever queued while the loop was busy) and keeps ``outstanding``
    (offered, not yet acknowledged) under the window itself, waiting for ``when_room``: a full
    window is the backpressure. An item whose acknowledgement fails or does not come within
    ``ack_timeout`` is sent again with the same ``Nats-Msg-Id``, so JetStream stores it once.
    """

    def __init__(self, js: JetStreamContext, window: int, ack_timeout: float = 2.0) -> None:
        self._js = js
        self.window = window
        self._slots = asyncio.Semaphore(window)
        self._ack_timeout = ack_timeout
        self._inflight: dict[int, tuple[float, Item, asyncio.Future[api.PubAck]]] = {}
        self._keys = itertools.count()
        self._retrying: set[asyncio.Task[None]] = set()  # bounded: each holds an item that left the window
        self._lock = threading.Lock()
        self._offered_items: collections.deque[Item] = collections.deque()  # bounded: offer stays within the window
        self._woken = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._room: Callable[[], object] | None = None
        self.offered = 0
        self.acked = 0
        self.duplicates = 0
        self.resent = 0
        self.last_error: str | None = None

    @property
    def unacknowledged(self) -> int:
        return len(self._offered_items) + len(self._inflight) + len(self._retrying)

    @property
    def outstanding(self) -> int:
        """Offered and not yet acknowledged (read from trio)."""
        return self.offered - self.acked

    async def start(self) -> None:
        """Start the sender and the acknowledgement watchdog (on the loop, before the first ``offer``)."""
        if not self._tasks:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._tasks = [self._loop.create_task(self._sender()), self._loop.create_task(self._watch())]

    def offer(self, items: Sequence[Item]) -> None:
        """From trio: queue ``items`` to be sent in order; wakes the loop unless it is already awake."""
        assert self._loop is not None and self._wake is not None, "Publisher.start() first"
        with self._lock:
            self._offered_items.extend(items)
            self.offered += len(items)
            if self._woken:
                return
            self._woken = True
        self._loop.call_soon_threadsafe(self._wake.set)

    def when_room(self, callback: Callable[[], object] | None) -> None:
        """From trio: ``callback()`` (on the loop's thread, once) when ``outstanding`` falls below the window."""
        with self._lock:
            self._room = callback
        if callback is not None and self.outstanding < self.window:
            self._notify_room()

    def _notify_room(self) -> None:
        with self._lock:
            callback, self._room = self._room, None
        if callback is not None:
            callback()

    async def _sender(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._lock:
                self._woken = False
                batch = list(self._offered_items)
                self._offered_items.clear()
            for item in batch:
                try:
                    await self._send(item)
                except (nats.errors.Error, OSError) as exc:  # not connected: sent again later
                    self.last_error = repr(exc)
                    self._retry(item)

    async def _send(self, item: Item) -> None:
        await self._slots.acquire()
        try:
            future = await self._js.publish_async(item[0], item[1], headers={MSG_ID: item[2]})
        except BaseException:
            self._slots.release()
            raise
        key = next(self._keys)
        self._inflight[key] = (asyncio.get_running_loop().time(), item, future)
        future.add_done_callback(lambda done: self._done(key, done))

    def _done(self, key: int, future: asyncio.Future[api.PubAck]) -> None:
        entry = self._inflight.pop(key, None)
        self._slots.release()
        if entry is None:
            return
        if future.cancelled() or future.exception() is not None:
            if not future.cancelled():
                self.last_error = repr(future.exception())
            self._retry(entry[1])
            return
        self.acked += 1
        if future.result().duplicate:
            self.duplicates += 1
        if self._room is not None and self.outstanding < self.window * 3 // 4:
            self._notify_room()

    def _retry(self, item: Item) -> None:
        task = asyncio.get_running_loop().create_task(self._resend(item))
        self._retrying.add(task)
        task.add_done_callback(self._retrying.discard)

    async def _resend(self, item: Item) -> None:
        delay = 0.05
        while True:
            await asyncio.sleep(delay)
            try:
                await self._send(item)
                self.resent += 1
                return
            except (nats.errors.Error, OSError) as exc:  # not connected yet: try again
                self.last_error = repr(exc)
                delay = min(delay * 2, 1.0)

    async def _watch(self) -> None:
        """Give up waiting for acknowledgements older than ``ack_timeout`` (their items are re-sent)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._ack_timeout / 4)
            old = loop.time() - self._ack_timeout
            for sent, _, future in list(self._inflight.values()):
                if sent < old:
                    future.cancel()

    async def drain(self, timeout: float) -> int:
        """Wait (at most ``timeout``) until nothing is unacknowledged; returns what still is."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.unacknowledged and loop.time() < deadline:
            await asyncio.sleep(0.01)
        return self.unacknowledged

    async def stop(self) -> None:
        for task in [*self._retrying, *self._tasks]:
            task.cancel()
        self._notify_room()
