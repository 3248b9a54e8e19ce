"""The asyncio side (runs only on the bridge's loop): nats-py connections, streams, the publish window, feeds.

Nothing here touches trio except through ``Bridge.to_trio``; the trio shell reaches this module
only through ``Bridge.call``.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import ssl
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from .bridge import Bridge
from .naming import StreamPlan

__all__ = ["Feed", "Publisher", "connect", "ensure_streams"]

#: Bytes nats-py may buffer while reconnecting (the publish window bounds what is ever in it).
PENDING_BYTES: Final = 64 << 20
MSG_ID: Final = "Nats-Msg-Id"
Item = tuple[str, bytes, str]  # subject, payload, Nats-Msg-Id


async def connect(url: str, *, name: str, user: str | None = None, password: str | None = None,
                  token: str | None = None, tls: ssl.SSLContext | None = None, forever: bool = False,
                  on_state: Callable[[str, str | None], None] | None = None, inbox: str = "_INBOX") -> Client:
    """A nats-py connection; ``forever`` keeps reconnecting (the relay), else a few tries (consumers).

    ``inbox`` is nats-py's ``inbox_prefix``: every reply (JetStream API, publish acknowledgements)
    and every push delivery of this connection comes on a subject under it.
    """

    async def disconnected() -> None:
        if on_state is not None:
            on_state("disconnected", None)

    async def reconnected() -> None:
        if on_state is not None:
            on_state("reconnected", None)

    refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def error(exc: Exception) -> None:
        text = f"{exc.__class__.__name__}: {exc}"
        if on_state is not None:
            on_state("error", text)
        if not forever and "uthorization" in text and not refused.done():
            refused.set_exception(PermissionError(f"NATS refused these credentials ({text})"))

    connecting: asyncio.Future[Any] = asyncio.ensure_future(nats.connect(
        servers=[url], name=name, user=user, password=password, token=token, tls=tls,
        allow_reconnect=True, max_reconnect_attempts=-1 if forever else 120, reconnect_time_wait=0.25,
        connect_timeout=2, pending_size=PENDING_BYTES, disconnected_cb=disconnected, reconnected_cb=reconnected,
        error_cb=error, inbox_prefix=inbox,
    ))
    done, _ = await asyncio.wait([connecting, refused], timeout=None if forever else 10,
                                 return_when=asyncio.FIRST_COMPLETED)
    if connecting in done:
        refused.cancel()
        client: Client = connecting.result()
        return client
    connecting.cancel()
    if refused in done:
        refused.result()
    raise TimeoutError(f"no answer from NATS at {url} within 10 s")


async def close(nc: Client) -> None:
    """Close ``nc`` (bounded), ignoring a connection already gone."""
    try:
        await asyncio.wait_for(nc.close(), timeout=2)
    except (asyncio.TimeoutError, nats.errors.Error, OSError):
        pass


def _config(plan: StreamPlan) -> api.StreamConfig:
    return api.StreamConfig(
        name=plan.name, subjects=list(plan.subjects), retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE, max_age=plan.max_age, max_bytes=plan.max_bytes,
        max_msgs_per_subject=plan.max_msgs_per_subject, duplicate_window=plan.duplicate_window,
        discard=api.DiscardPolicy.OLD, allow_direct=True,
    )


async def ensure_streams(js: JetStreamContext, plans: Sequence[StreamPlan]) -> None:
    """Create each planned stream, or update it to the plan (idempotent: running twice changes nothing)."""
    for plan in plans:
        config = _config(plan)
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:  # exists with another configuration
            await js.update_stream(config)


class Publisher:
    """Publishes with acknowledgements through a bounded window; re-sends what is not acknowledged.

    Trio hands items over with ``offer`` (no waiting, no round trip: one wake-up of the loop when
    it is idle, so a batch is whatever queued while the loop was busy) and keeps ``outstanding``
    (offered, not yet acknowledged) under the window itself, waiting for ``when_room``: a full
    window is the backpressure. ``publish`` is the awaited form (sent when it returns). An item
    whose acknowledgement fails or does not come within ``ack_timeout`` is sent again with the
    same ``Nats-Msg-Id``, so JetStream stores it once.
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

    async def publish(self, items: Sequence[Item]) -> tuple[int, int]:
        """Send ``items`` in order (awaited); returns (acknowledged so far, unacknowledged now)."""
        await self.start()
        with self._lock:
            self.offered += len(items)
        for item in items:
            await self._send(item)
        return self.acked, self.unacknowledged

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


class Feed:
    """One push consumer's messages, handed to trio in batches (one ``to_trio`` per batch, not per message).

    ``hand`` runs in trio with the list of messages that arrived since the last hand-over; at most
    ``limit`` wait here (more are counted in ``dropped``; an acknowledged consumer never gets more
    than its ``max_ack_pending``).
    """

    def __init__(self, bridge: Bridge, hand: Callable[[list[Msg], int], None], limit: int) -> None:
        self._bridge = bridge
        self._hand = hand
        self._limit = limit
        self._lock = threading.Lock()
        self._pending: list[Msg] = []
        self._dropped = 0
        self._scheduled = False
        self.subscription: JetStreamContext.PushSubscription | None = None

    async def on_message(self, msg: Msg) -> None:
        with self._lock:
            if len(self._pending) >= self._limit:
                self._dropped += 1
                return
            self._pending.append(msg)
            if self._scheduled:
                return
            self._scheduled = True
        self._bridge.to_trio(self._flush)

    def _flush(self) -> None:  # in trio
        with self._lock:
            batch, self._pending = self._pending, []
            dropped, self._dropped = self._dropped, 0
            self._scheduled = False
        self._hand(batch, dropped)

    def take(self) -> list[Msg]:
        """What arrived and was not handed over yet (a stopping consumer hands it back)."""
        with self._lock:
            batch, self._pending = self._pending, []
        return batch


async def subscribe(js: JetStreamContext, feed: Feed, stream: str, config: api.ConsumerConfig,
                    durable: str | None) -> api.ConsumerInfo:
    """Bind ``feed`` to a push consumer of ``stream`` (created with ``config``, or the existing ``durable``)."""
    filters = config.filter_subjects or []
    subscription = await js.subscribe(filters[0], cb=feed.on_message, durable=durable, stream=stream,
                                      config=config, manual_ack=True, pending_msgs_limit=-1)
    feed.subscription = subscription
    return await subscription.consumer_info()


async def unsubscribe(js: JetStreamContext, feed: Feed, stream: str, consumer: str | None) -> None:
    """Stop ``feed``; with ``consumer`` (an ephemeral one) delete it at once (a durable stays for ``resume``)."""
    try:
        if feed.subscription is not None:
            await feed.subscription.unsubscribe()
        if consumer is not None:
            await js.delete_consumer(stream, consumer)
    except (nats.errors.Error, asyncio.TimeoutError):
        pass


async def ack(msg: Msg) -> None:
    """Acknowledge ``msg`` and, with AckPolicy.ALL, everything before it."""
    try:
        await msg.ack()
    except nats.errors.Error:
        pass  # not acknowledged: redelivered later, and Nats-Msg-Id keys make that harmless


async def nak(msgs: Sequence[Msg]) -> None:
    """Hand ``msgs`` back for redelivery now (a stopping ``resume=`` consumer had not read them)."""
    for msg in msgs:
        try:
            await msg.nak()
        except nats.errors.Error:
            return


async def record_position(js: JetStreamContext, stream: str, config: api.ConsumerConfig, key: str, seq: int) -> None:
    """Keep ``seq`` in the durable's metadata, which JetStream never rewrites (its ack floor it moves past deletions)."""
    config.metadata = {**(config.metadata or {}), key: str(seq)}
    try:
        await js.add_consumer(stream, config=config)
    except (nats.errors.Error, asyncio.TimeoutError):
        pass  # an older server (metadata came in 2.10) or a broken link: the ack floor serves


async def reset(js: JetStreamContext, stream: str, durable: str) -> bool:
    """Reset a durable's delivery state to its ack floor (ADR-60); False where the server is older than 2.14."""
    try:
        await js.reset_consumer(stream, durable)
    except (nats.js.errors.Error, nats.errors.Error):
        return False
    return True


async def last_messages(js: JetStreamContext, stream: str, subjects: Sequence[str]) -> list[bytes | None]:
    """The last stored payload of each subject (None where there is none), by direct get."""

    async def one(subject: str) -> bytes | None:
        try:
            raw = await js.get_last_msg(stream, subject, direct=True)
        except nats.js.errors.NotFoundError:
            return None
        return raw.data

    return list(await asyncio.gather(*(one(subject) for subject in subjects)))


async def stream_state(js: JetStreamContext, stream: str, subjects_filter: str | None = None) -> api.StreamInfo:
    return await js.stream_info(stream, subjects_filter=subjects_filter)


async def consumer_info(js: JetStreamContext, stream: str, durable: str) -> api.ConsumerInfo | None:
    try:
        info: api.ConsumerInfo = await js.consumer_info(stream, durable)
        return info
    except nats.js.errors.NotFoundError:
        return None


async def publish_plain(js: JetStreamContext, items: Sequence[Item]) -> None:
    """Publish control messages (heartbeats, markers, the catalog), each acknowledged before the next."""
    for subject, payload, msg_id in items:
        await js.publish(subject, payload, headers={MSG_ID: msg_id} if msg_id else None)


async def heartbeats(js: JetStreamContext, stream: str, prefix: str) -> list[bytes]:
    """The last heartbeat of every relay that left one in ``stream`` (subjects ``prefix.<relay>``)."""
    try:
        info = await js.stream_info(stream, subjects_filter=f"{prefix}.*")
    except nats.js.errors.NotFoundError:
        return []
    subjects = sorted((info.state.subjects or {}).keys())
    return [data for data in await last_messages(js, stream, subjects) if data is not None]


async def jetstream(nc: Client, window: int, timeout: float = 5.0) -> JetStreamContext:
    """The JetStream context of ``nc`` (made on the loop: its semaphore bounds the publish window)."""
    return nc.jetstream(publish_async_max_pending=window, timeout=timeout)
