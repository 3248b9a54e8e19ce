"""The asyncio side (runs only on the bridge's loop): nats-py connections, streams, feeds, consumers.

Nothing here touches trio except through ``Bridge.to_trio``; the trio shell reaches this module
only through ``Bridge.call``.
"""

from __future__ import annotations

import asyncio
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
from .nats_publisher import MSG_ID, Item

__all__ = ["Feed", "connect", "ensure_streams"]

#: Bytes nats-py may buffer while reconnecting (the publish window bounds what is ever in it).
PENDING_BYTES: Final = 64 << 20


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
    """Publish control messages (heartbeats, markers, the catalog), each acknowledged before the next.

    Raises ``LookupError`` when no stream takes one of them (deleted, or JetStream not up yet).
    """
    for subject, payload, msg_id in items:
        try:
            await js.publish(subject, payload, headers={MSG_ID: msg_id} if msg_id else None)
        except nats.js.errors.NoStreamResponseError:
            raise LookupError(f"no stream takes {subject}") from None


async def heartbeats(js: JetStreamContext, stream: str, prefix: str) -> list[bytes]:
    """The last heartbeat of every relay that left one in ``stream`` (subjects ``prefix.<relay>``)."""
    try:
        info = await js.stream_info(stream, subjects_filter=f"{prefix}.*")
    except nats.js.errors.NotFoundError:
        return []
    subjects = sorted((info.state.subjects or {}).keys())
    return [data for data in await last_messages(js, stream, subjects) if data is not None]


async def jetstream(nc: Client, timeout: float = 5.0) -> JetStreamContext:
    """The JetStream context of ``nc`` for its API calls (made on the loop; publishes go through ``Publisher``)."""
    return nc.jetstream(timeout=timeout)
