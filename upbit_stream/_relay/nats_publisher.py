"""The asyncio side's publish window (runs only on the bridge's loop): acknowledged publishes, re-sends, rejections."""

from __future__ import annotations

import asyncio
import collections
import itertools
import threading
import time
from collections.abc import Callable, Sequence

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from .markers import Ack, ack_outcome

__all__ = ["MSG_ID", "Item", "Publisher"]

MSG_ID = "Nats-Msg-Id"
Item = tuple[str, bytes, str]  # subject, payload, Nats-Msg-Id
#: Rejections kept for the relay to read (``take_rejections``); beyond that only ``rejected`` counts them.
MAX_KEPT_REJECTIONS = 1024


class Publisher:
    """Publishes with acknowledgements through a bounded window; re-sends what is not acknowledged.

    Trio hands items over with ``offer`` (no waiting, no round trip: one wake-up of the loop when
    it is idle, so a batch is whatever queued while the loop was busy) and keeps ``outstanding``
    (offered, not yet settled) under the window itself, waiting for ``when_room``: a full window is
    the backpressure. Each publish asks for its acknowledgement on a subject of one inbox this
    publisher reads itself. An item whose acknowledgement says "later" or does not come within
    ``ack_timeout`` is sent again with the same ``Nats-Msg-Id``, so JetStream stores it once; one
    JetStream refuses for good (``Ack.REJECTED``) is dropped, counted in ``rejected`` and kept for
    ``take_rejections``, so it never holds the window.
    """

    def __init__(self, nc: Client, window: int, ack_timeout: float = 2.0) -> None:
        self._nc = nc
        self.window = window
        self._slots = asyncio.Semaphore(window)
        self._ack_timeout = ack_timeout
        self._inbox = ""
        self._acks: Subscription | None = None
        self._inflight: dict[str, tuple[float, Item]] = {}  # bounded: by the window (each holds a slot)
        self._tokens = itertools.count()
        self._retrying: set[asyncio.Task[None]] = set()  # bounded: each holds an item that left the window
        self._lock = threading.Lock()
        self._offered_items: collections.deque[Item] = collections.deque()  # bounded: offer stays within the window
        self._rejections: collections.deque[tuple[str, str, float]] = collections.deque(maxlen=MAX_KEPT_REJECTIONS)
        self._woken = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._room: list[Callable[[], object]] = []  # bounded: one per task of the relay waiting for room
        self.offered = 0
        self.acked = 0
        self.duplicates = 0
        self.resent = 0
        self.rejected = 0
        self.stream_missing = False  # an acknowledgement said no stream takes a subject (cleared by the relay)

    @property
    def unacknowledged(self) -> int:
        return len(self._offered_items) + len(self._inflight) + len(self._retrying)

    @property
    def outstanding(self) -> int:
        """Offered and not yet settled (acknowledged or rejected for good); read from trio."""
        return self.offered - self.acked - self.rejected

    async def start(self) -> None:
        """Read the acknowledgement inbox; start the sender and the watchdog (on the loop, before the first ``offer``)."""
        if not self._tasks:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._inbox = self._nc.new_inbox()
            self._acks = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
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

    def when_room(self, callback: Callable[[], object]) -> None:
        """From trio: ``callback()`` (on the loop's thread, once) when ``outstanding`` falls below the window.

        Every task waiting gets its own call.
        """
        with self._lock:
            self._room.append(callback)
        if self.outstanding < self.window:
            self._notify_room()

    def take_rejections(self) -> list[tuple[str, str, float]]:
        """From trio: (subject, why, when) of each publish JetStream refused for good since the last call."""
        with self._lock:
            taken = list(self._rejections)
            self._rejections.clear()
        return taken

    def _notify_room(self) -> None:
        with self._lock:
            callbacks, self._room = self._room, []
        for callback in callbacks:
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
                except (nats.errors.Error, OSError):  # not connected: sent again later
                    self._retry(item)

    async def _send(self, item: Item) -> None:
        await self._slots.acquire()
        token = str(next(self._tokens))
        self._inflight[token] = (asyncio.get_running_loop().time(), item)  # before: the answer may come at once
        try:
            await self._nc.publish(item[0], item[1], reply=f"{self._inbox}.{token}", headers={MSG_ID: item[2]})
        except BaseException:
            if self._inflight.pop(token, None) is not None:
                self._slots.release()
            raise

    async def _on_ack(self, msg: Msg) -> None:
        entry = self._inflight.pop(msg.subject[len(self._inbox) + 1:], None)
        if entry is None:
            return  # given up on after ack_timeout: already sent again
        self._slots.release()
        outcome, why = ack_outcome(msg.headers, msg.data)
        if outcome is Ack.STORED or outcome is Ack.DUPLICATE:
            self.acked += 1
            if outcome is Ack.DUPLICATE:
                self.duplicates += 1
        elif outcome is Ack.REJECTED:
            with self._lock:
                self._rejections.append((entry[1][0], why, time.time()))
                self.rejected += 1
        else:
            self.stream_missing = self.stream_missing or outcome is Ack.NO_STREAM
            self._retry(entry[1])
            return
        if self._room and self.outstanding < self.window * 3 // 4:
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
            except (nats.errors.Error, OSError):  # not connected yet: try again
                delay = min(delay * 2, 1.0)

    async def _watch(self) -> None:
        """Give up waiting for acknowledgements older than ``ack_timeout``: their items are sent again."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._ack_timeout / 4)
            old = loop.time() - self._ack_timeout
            for token, (sent, item) in list(self._inflight.items()):
                if sent < old and self._inflight.pop(token, None) is not None:
                    self._slots.release()
                    self._retry(item)

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
        if self._acks is not None:
            try:
                await self._acks.unsubscribe()
            except nats.errors.Error:
                pass  # the connection is closing or gone: the subscription goes with it
        self._notify_room()
