"""The relay (trio shell): one session's events published to JetStream, with heartbeats, gap markers and a catalog."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._core.encode import encode_event
from .._core.errors import SlowConsumerError
from .._core.markers import StreamGap
from .._core.specs import Spec
from .._core.stats import HealthStatus
from .._trio.groups import single_errors
from .._trio.session import UpbitSession
from .bridge import Bridge, open_bridge
from .markers import Catalog, Heartbeat, covered, encode_gap, restart_gap
from .naming import (
    Names,
    StreamPlan,
    describe,
    inbox_prefix,
    message_id,
    spec_subjects,
    stream_holding,
    subject_for,
)

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from .nats_publisher import Item, Publisher

__all__ = ["Relay", "RelayOptions", "offer", "open_relay"]

RELAY_OVERFLOW = "relay overflow"
#: The ``StreamGap`` reason of events JetStream refused to store (the marker's reason adds why).
REJECTED = "rejected by JetStream"

log = logging.getLogger("upbit_stream")


@attrs.frozen(kw_only=True)
class RelayOptions:
    """How a relay publishes: where, under which names, with what window and retention."""

    nats_url: str
    region: str = "kr"
    account: str = "main"
    window: int = 4096  # unacknowledged publishes at most
    batch: int = 1024  # events per crossing of the bridge at most
    buffer: int = 16384  # events the relay's own subscription may hold before it counts a gap
    max_age: float = 86400.0  # seconds a stream keeps messages
    max_bytes: int = 1 << 30  # bytes each stream keeps at most
    heartbeat: float = 1.0  # seconds between heartbeats
    user: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    token: str | None = attrs.field(default=None, repr=False)
    tls: ssl.SSLContext | None = None
    inbox_prefix: str | None = None  # default _INBOX.<user> (see naming.inbox_prefix)
    relay_id: str = attrs.field(factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")


@attrs.define
class Relay:
    """A running relay: its names and counters (``published``, ``acked``, ``duplicates``, ``resent``,
    ``rejected`` (refused for good by JetStream, each marked as a gap), ``gaps``)."""

    options: RelayOptions
    names: Names
    specs: tuple[Spec[Any], ...]
    published: int = 0
    acked: int = 0
    duplicates: int = 0
    resent: int = 0
    rejected: int = 0
    unacknowledged: int = 0
    gaps: int = 0
    started_gap: StreamGap | None = None
    _publisher: Publisher | None = None

    def refresh(self) -> None:
        """Copy the publisher's counters (read from trio; plain ints written by the loop thread)."""
        if self._publisher is not None:
            self.acked, self.duplicates = self._publisher.acked, self._publisher.duplicates
            self.resent, self.unacknowledged = self._publisher.resent, self._publisher.unacknowledged
            self.rejected = self._publisher.rejected


async def offer(bridge: Bridge, publisher: Publisher, items: Sequence[Item]) -> None:
    """Hand ``items`` to ``publisher`` without a round trip (a cancel point), waiting only while its window is full.

    No crossing is awaited per batch: the loop is woken when it is idle and sends whatever queued
    meanwhile, so an event is never held back behind the previous batch's crossing.
    """
    await trio.lowlevel.checkpoint_if_cancelled()
    while publisher.outstanding >= publisher.window:
        room = trio.Event()
        publisher.when_room(functools.partial(bridge.to_trio, room.set))
        await room.wait()
    publisher.offer(items)


class _Shell:
    """The relay's tasks, sharing the bridge, the JetStream context and the names."""

    def __init__(self, relay: Relay, bridge: Bridge, js: JetStreamContext, publisher: Publisher,
                 plans: Sequence[StreamPlan]) -> None:
        self.relay, self.bridge, self.js, self.publisher = relay, bridge, js, publisher
        self.names, self.plans = relay.names, tuple(plans)

    async def beats(self) -> list[Heartbeat]:
        from . import nats_side

        raw = await self.bridge.call(nats_side.heartbeats, self.js, self.names.stream("control"),
                                     self.names.heartbeat_prefix)
        return [beat for beat in map(Heartbeat.decode, raw) if beat is not None]

    async def mark_gap(self, gap: StreamGap, streams: Sequence[str]) -> None:
        """Put a gap marker into each of ``streams`` (keyed, so markers repeated by several pumps are stored once).

        Markers go through the publisher's queue behind the events offered before them, so a
        reader finds each marker between the last event before the gap and the first after it.
        """
        payload = encode_gap(gap, self.relay.options.relay_id)
        reason = hashlib.blake2b(gap.reason.encode(), digest_size=6).hexdigest()  # a reason may be long
        key = f"gap:{self.relay.options.relay_id}:{reason}:{gap.since:.6f}"
        await self.offer([(self.names.gap_subject(stream), payload, key) for stream in dict.fromkeys(streams)])
        self.relay.gaps += 1

    async def offer(self, items: list[Item]) -> None:
        await offer(self.bridge, self.publisher, items)

    async def heartbeat(self, session: UpbitSession, catalog: Catalog) -> None:
        """A heartbeat every interval, with the catalog again (retention by age would otherwise drop it)."""
        from . import nats_side

        subject = f"{self.names.heartbeat_prefix}.{self.relay.options.relay_id}"
        while True:
            healthy = session.health().status is not HealthStatus.DOWN
            beat = Heartbeat(self.relay.options.relay_id, time.time(), healthy)
            items = [(subject, beat.encode(), ""), (self.names.carried_subject, catalog.encode(), "")]
            try:
                await self.settle_refusals()
                await self.bridge.call(nats_side.publish_plain, self.js, items)
            except LookupError:  # the control stream is gone: the next beat makes the streams again
                self.publisher.stream_missing = True
            except Exception:  # the broker is away: the next beat tries again  # noqa: BLE001
                pass
            self.relay.refresh()
            await trio.sleep(self.relay.options.heartbeat)

    async def settle_refusals(self) -> None:
        """Mark what JetStream refused for good as a gap on its stream (logged); create streams found missing.

        A stream deleted while the relay runs makes every publish to it wait (no stream answers);
        creating it again, as at start, lets them through.
        """
        from . import nats_side

        if self.publisher.stream_missing:
            self.publisher.stream_missing = False
            log.warning("relay %s: no stream took some publishes; creating the streams again",
                        self.relay.options.relay_id)
            await self.bridge.call(nats_side.ensure_streams, self.js, self.plans)
        refused: dict[str, list[tuple[str, float]]] = {}
        for subject, why, at in self.publisher.take_rejections():
            stream = stream_holding(self.plans, subject) or self.names.stream("events")
            if subject == self.names.gap_subject(stream):  # a refused marker is only logged: marking it would loop
                log.warning("relay %s: JetStream refused a gap marker for %s (%s)", self.relay.options.relay_id,
                            stream, why)
                continue
            refused.setdefault(stream, []).append((why, at))
        for stream, whys in refused.items():
            log.warning("relay %s: JetStream refused %d event(s) for %s (%s); marked as a gap",
                        self.relay.options.relay_id, len(whys), stream, whys[-1][0])
            await self.mark_gap(StreamGap(f"{REJECTED}: {whys[-1][0]}", whys[0][1], whys[-1][1]), [stream])

    async def pump(self, session: UpbitSession, spec: Spec[Any]) -> None:
        """Publish every event of ``spec``; an Upbit gap or an overflow of this pump becomes a gap marker."""
        options = self.relay.options
        stream = self.names.stream_of(spec.type)
        while True:
            since = time.time()
            try:
                async with session.subscribe(spec, buffer=options.buffer, overflow="strict", gaps=True) as channel:
                    async for batch in channel.batches(limit=options.batch):
                        await self._publish(spec, stream, batch)
            except SlowConsumerError:
                await self.mark_gap(StreamGap(RELAY_OVERFLOW, since, time.time()), [stream])

    async def _publish(self, spec: Spec[Any], stream: str, batch: list[Any]) -> None:
        items: list[Item] = []
        for event in batch:
            if event.__class__ is StreamGap:
                if items:
                    await self.offer(items)
                    self.relay.published += len(items)
                    items = []
                beats = await self.beats()
                if not covered(beats, me=self.relay.options.relay_id, now=time.time(),
                               interval=self.relay.options.heartbeat):
                    await self.mark_gap(event, [stream])
                continue
            payload = encode_event(event)
            subject = subject_for(self.names, spec, event)
            items.append((subject, payload, message_id(subject, event, payload)))
        if items:
            await self.offer(items)
            self.relay.published += len(items)


@asynccontextmanager
async def open_relay(session: UpbitSession, specs: Sequence[Spec[Any]], options: RelayOptions) -> AsyncIterator[Relay]:
    """Publish every event of ``specs`` from ``session`` until the block ends (the relay runs in the background).

    On entry: connect, create or update the streams, announce a restart gap when no other relay
    was alive, publish the catalog. On exit: wait (bounded) for outstanding acknowledgements.
    """
    try:
        from . import nats_publisher, nats_side
    except ImportError as exc:  # pragma: no cover - the [relay] extra is missing
        raise ImportError("the relay needs nats-py: pip install 'upbit-stream[relay]'") from exc
    names = Names(options.region, options.account)
    inbox = inbox_prefix(options.inbox_prefix, options.user)
    relay = Relay(options, names, tuple(specs))
    with single_errors():
        async with open_bridge() as bridge, trio.open_nursery() as nursery:
            nc = await bridge.call(lambda: nats_side.connect(
                options.nats_url, name=f"upbit-stream relay {options.relay_id}", user=options.user,
                password=options.password, token=options.token, tls=options.tls, forever=True,
                inbox=inbox))
            try:
                js = await bridge.call(nats_side.jetstream, nc)
                accounts = any(names.stream_of(spec.type) == names.stream("account") for spec in specs)
                plans = names.plans(max_age=options.max_age, max_bytes=options.max_bytes, with_account=accounts)
                await bridge.call(nats_side.ensure_streams, js, plans)
                publisher = nats_publisher.Publisher(nc, options.window)
                await bridge.call(publisher.start)
                relay._publisher = publisher
                shell = _Shell(relay, bridge, js, publisher, plans)
                gap = restart_gap(await shell.beats(), me=options.relay_id, now=time.time(),
                                  interval=options.heartbeat)
                if gap is not None:
                    relay.started_gap = gap
                    await shell.mark_gap(gap, [names.stream_of(spec.type) for spec in specs])
                catalog = Catalog(tuple(dict.fromkeys(s for spec in specs for s in spec_subjects(names, spec))),
                                  tuple(describe(spec) for spec in specs), options.relay_id,
                                  any(spec.include_body for spec in specs))
                await bridge.call(nats_side.publish_plain, js, [(names.carried_subject, catalog.encode(), "")])
                nursery.start_soon(shell.heartbeat, session, catalog)
                for spec in specs:
                    nursery.start_soon(shell.pump, session, spec)
                yield relay
                nursery.cancel_scope.cancel()
            finally:
                with trio.CancelScope(shield=True, deadline=trio.current_time() + 5):
                    if relay._publisher is not None:
                        await bridge.call(relay._publisher.drain, 3.0)
                        await bridge.call(relay._publisher.stop)
                        relay.refresh()
                    await bridge.call(nats_side.close, nc)
