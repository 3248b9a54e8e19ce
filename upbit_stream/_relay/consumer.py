"""One JetStream push consumer feeding one subscription channel: hand-over, decoding, gaps, acknowledgements."""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, Final

import trio

from .._core.codec import decode
from .._core.errors import AuthenticationError, ConnectError
from .._core.markers import StreamGap
from .._trio.channel import SubscriptionChannel
from .markers import decode_gap, lag_gap
from .naming import stream_sequence

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js import api

    from .session import RelaySession

__all__ = ["CONSUMER_LOST", "CONSUMER_OVERFLOW", "Consumer"]

CONSUMER_OVERFLOW: Final = "relay consumer overflow"
#: The ``StreamGap`` reason when a live reader's consumer vanished (its stream was deleted, say) and was made again.
CONSUMER_LOST: Final = "relay consumer lost"
#: Seconds of silence after which a live reader asks JetStream whether its consumer still exists.
ALIVE_CHECK_AFTER: Final = 5.0
#: Seconds before JetStream redelivers what a vanished ``resume=`` consumer had not acknowledged.
ACK_WAIT: Final = 10.0
#: Seconds between acknowledgements of a ``resume=`` subscription while its subscriber takes events.
ACK_EVERY: Final = 0.005
#: Seconds between writes of a ``resume=`` position into its durable's metadata (and one at a clean stop).
POSITION_EVERY: Final = 1.0
#: The durable's metadata key holding the last stream sequence acknowledged.
POSITION_KEY: Final = "upbit_stream_acked"


def _stream_seq(msg: Msg, otherwise: int) -> int:
    """The stream sequence JetStream delivered ``msg`` at (from its reply subject), or ``otherwise``."""
    seq = stream_sequence(msg.reply)
    return otherwise if seq is None else seq


class Consumer:
    """One JetStream push consumer of one stream feeding one subscription channel."""

    def __init__(self, session: RelaySession, channel: SubscriptionChannel[Any], stream: str, mode: str,
                 subjects: list[str], resume: str | None, size: int) -> None:
        self.session, self.channel, self.stream = session, channel, stream
        self.gap_subject = session.names.gap_subject(stream)
        self.subjects = [*dict.fromkeys(subjects), self.gap_subject]
        self.mode, self.size = mode, size
        self.durable = f"{resume}-{stream.rsplit('_', 1)[-1].lower()}" if resume is not None else None
        self.name: str | None = None
        self.not_before: float | None = time.time()
        self.events = 0
        # resume=: what this process delivered and has not acknowledged, by stream sequence, and the
        # sequence acknowledged last; a redelivery of either is dropped (it reached the channel already)
        self.unacked: deque[tuple[int, int, Msg]] = deque()  # bounded: by the consumer's max_ack_pending
        self.held: set[int] = set()  # bounded: the sequences in unacked
        self.acked_seq = 0
        self._recorded_seq = 0  # the position last written to the durable's metadata
        self._server_config: api.ConsumerConfig | None = None
        self.feed: Any = None
        self.stopped = False
        self.nursery: trio.Nursery | None = None
        self.last_seq = 0  # the stream sequence of the last message a live consumer delivered
        self._start_at: int | None = None  # the stream sequence a consumer made again starts at (None: by mode)
        self._made_at: Any = None  # the consumer's creation time (a datetime), as JetStream reported it
        self._heard_at = 0.0  # trio time of the last hand-over
        self._rebinding = False
        self.failure: BaseException | None = None
        self._failed = trio.Event()

    async def start(self, nursery: trio.Nursery) -> None:
        from . import nats_side

        bridge, js = self.session._bridge, self.session._js
        if self.durable is not None:
            info = await bridge.call(nats_side.consumer_info, js, self.stream, self.durable)
            if info is not None:
                self.not_before = None
                # ADR-60 (nats-server 2.14+): forget what the previous process held unacknowledged and
                # deliver again from the ack floor, in order, now rather than after ack_wait
                await bridge.call(nats_side.reset, js, self.stream, self.durable)
                state = await bridge.call(nats_side.stream_state, js, self.stream)
                # the position this reader wrote, else the ack floor (which JetStream moves on past
                # deleted messages, so alone it can hide that some were never read)
                recorded = (info.config.metadata or {}).get(POSITION_KEY, "")
                floor = int(recorded) if recorded.isdigit() else (info.ack_floor.stream_seq if info.ack_floor else 0)
                gap = lag_gap(acked_stream_seq=floor or 0, first_seq=state.state.first_seq, since=0.0, now=time.time())
                if gap is not None and self.channel.gaps:
                    self.channel._deliver(gap)
        self.feed = nats_side.Feed(bridge, self._hand, limit=max(self.size, 1024) * 4)
        self.nursery = nursery
        nursery.start_soon(self._fail)
        try:
            info = await bridge.call(nats_side.subscribe, js, self.feed, self.stream, self._config(), self.durable)
        except Exception as exc:
            error = self.session._last_error or f"{exc.__class__.__name__}: {exc}"
            if "ermissions" in error or "uthorization" in error:
                raise AuthenticationError(f"NATS refused a consumer on {self.stream}: these credentials may not "
                                          f"read it ({error})") from None
            raise ConnectError(f"NATS did not create a consumer on {self.stream}: {error}") from exc
        self.name = info.name
        self._server_config = info.config
        self._made_at = info.created
        self.session._consumers.add(self)
        self._heard_at = trio.current_time()
        if self.durable is not None:
            nursery.start_soon(self._acknowledge)
        nursery.start_soon(self._watch_alive)

    def _config(self) -> api.ConsumerConfig:
        """The consumer to create: from ``_start_at`` when made again (``_rebind``), else by mode."""
        from nats.js import api

        policy = api.DeliverPolicy.NEW if self.mode == "realtime" else api.DeliverPolicy.LAST_PER_SUBJECT
        config = api.ConsumerConfig(filter_subjects=self.subjects, deliver_policy=policy)
        if self.durable is not None:
            config.ack_policy, config.max_ack_pending, config.ack_wait = api.AckPolicy.ALL, self.size, ACK_WAIT
        else:
            config.ack_policy, config.inactive_threshold, config.mem_storage = api.AckPolicy.NONE, 30.0, True
        if self._start_at is not None:
            config.deliver_policy, config.opt_start_seq = api.DeliverPolicy.BY_START_SEQUENCE, self._start_at
        return config

    def reconnected(self) -> None:
        """NATS is back: check (in a task) that this live consumer still exists, else make it again.

        A restarted server forgets an ephemeral consumer kept in memory (and any server deletes one
        left without its reader past ``inactive_threshold``): without this the subscription would
        stay open and silent. The new one starts after the last message this one delivered.
        """
        if self.durable is None and self.nursery is not None and not self.stopped and not self._rebinding:
            self._rebinding = True
            self.nursery.start_soon(self._rebind)

    async def _watch_alive(self) -> None:
        """After ``ALIVE_CHECK_AFTER`` s without a message, ask whether the consumer still exists; make it again if not.

        Deleting a stream deletes its consumers without a word to their readers (a relay makes
        the stream again when its publishes find it gone): without this check the subscription
        would stay open and silent.
        """
        import nats.errors

        from . import nats_side

        while not self.stopped:
            await trio.sleep(max(self._heard_at + ALIVE_CHECK_AFTER - trio.current_time(), 0.01))
            if trio.current_time() - self._heard_at < ALIVE_CHECK_AFTER:
                continue  # a message came meanwhile
            self._heard_at = trio.current_time()  # the next look comes a period later, whatever this one finds
            if self._rebinding or self.name is None:
                continue
            try:
                info = await self.session._bridge.call(nats_side.consumer_info, self.session._js, self.stream, self.name)
            except (nats.errors.Error, TimeoutError, OSError):
                continue  # NATS is away: its reconnect makes the consumer again if it must
            if info is None and not self._rebinding:
                self._rebinding = True
                await self._rebind(lost=True)

    async def _rebind(self, *, lost: bool = False) -> None:
        """Make the consumer again after the last message delivered (``lost``: it vanished, say so with a gap).

        A stream made anew restarts its sequences: then the new consumer starts at its beginning.
        A ``resume=`` durable made again counts what this process had delivered as acknowledged
        (the consumer that could take the acknowledgements is gone).
        """
        import nats.errors

        from . import nats_side

        bridge, js = self.session._bridge, self.session._js
        delay = 0.05
        since = time.time()
        try:
            while not self.stopped:
                try:
                    if not lost and self.name is not None and await bridge.call(
                            nats_side.consumer_info, js, self.stream, self.name) is not None:
                        return  # it survived (a reconnect without a restart)
                    state = await bridge.call(nats_side.stream_state, js, self.stream)  # raises while it is gone
                    made = state.created is not None and self._made_at is not None and state.created > self._made_at
                    delivered = self.last_seq if self.durable is None else max(self.held, default=self.acked_seq)
                    if made or state.state.last_seq < delivered:  # a new stream: read it from its first message
                        delivered, self._start_at = 0, max(state.state.first_seq, 1)
                    else:
                        self._start_at = delivered + 1 if delivered else None
                    if self.durable is None:
                        self.last_seq = delivered
                    else:
                        self.unacked.clear()
                        self.held.clear()
                        self.acked_seq, self._recorded_seq = delivered, 0
                    if lost and self.channel.gaps:
                        self.channel._deliver(StreamGap(CONSUMER_LOST, since, time.time()))
                    lost = False
                    await bridge.call(nats_side.unsubscribe, js, self.feed, self.stream, None)
                    info = await bridge.call(nats_side.subscribe, js, self.feed, self.stream, self._config(),
                                             self.durable)
                    self.name, self._made_at, self._server_config = info.name, info.created, info.config
                    return
                except (nats.errors.Error, TimeoutError, OSError):  # JetStream not back yet: ask again
                    await trio.sleep(delay)
                    delay = min(delay * 2, 1.0)
        finally:
            self._rebinding = False

    def _hand(self, batch: list[Msg], dropped: int) -> None:
        """In trio (``run_sync_soon`` from the loop): decode and deliver ``batch`` at once, no task in between."""
        if self.stopped:
            return
        self._heard_at = trio.current_time()
        try:
            self._take(batch, dropped)
        except Exception as exc:  # noqa: BLE001 - a payload that is not an event: the subscription fails with it
            self.stopped, self.failure = True, exc
            self._failed.set()

    async def _fail(self) -> None:
        """Raise what ``_hand`` could not (it runs outside any task)."""
        await self._failed.wait()
        assert self.failure is not None
        raise self.failure

    def _take(self, batch: list[Msg], dropped: int) -> None:
        self.session._count(batch)
        if dropped and self.channel.gaps:
            now = time.time()
            self.channel._deliver(StreamGap(CONSUMER_OVERFLOW, now, now))
        for msg in batch:
            seq = 0  # read below when durable: the stream position this message is acknowledged by
            if self.durable is not None:
                seq = stream_sequence(msg.reply) or msg.metadata.sequence.stream  # the latter raises
                if seq <= self.acked_seq or seq in self.held:
                    continue  # redelivered after ack_wait while still unread here: already delivered
                self.held.add(seq)
            if msg.subject == self.gap_subject:
                gap = decode_gap(msg.data, not_before=self.not_before)
                if gap is not None and self.channel.gaps:
                    self.channel._deliver(gap)
            else:
                for event in decode(msg.data):
                    self.channel._deliver(event)
                    self.events += 1
            if self.durable is not None:
                self.unacked.append((self.events, seq, msg))
        if self.durable is None and batch:
            self.last_seq = _stream_seq(batch[-1], self.last_seq)

    async def _acknowledge(self) -> None:
        """Acknowledge what the subscriber took, every ``ACK_EVERY`` at most (one crossing each).

        The server sends at most ``max_ack_pending`` (the buffer of the subscription that created
        the durable) unacknowledged: acknowledging often keeps a small window flowing. The position
        is written to the durable every ``POSITION_EVERY`` while it moves.
        """
        recorded_at = trio.current_time()
        while True:
            await trio.sleep(ACK_EVERY)
            if self.unacked and self.unacked[0][0] <= self.channel.taken:
                await self._ack_taken()
            if self.acked_seq != self._recorded_seq and trio.current_time() - recorded_at >= POSITION_EVERY:
                await self._record_position()
                recorded_at = trio.current_time()

    async def _record_position(self) -> None:
        from . import nats_side

        seq = self.acked_seq
        if self._server_config is not None and seq != self._recorded_seq:
            await self.session._bridge.call(nats_side.record_position, self.session._js, self.stream,
                                            self._server_config, POSITION_KEY, seq)
            self._recorded_seq = seq

    async def _ack_taken(self) -> None:
        from . import nats_side

        last = None
        taken = self.channel.taken
        while self.unacked and self.unacked[0][0] <= taken:
            _, seq, last = self.unacked.popleft()
            self.held.discard(seq)
            self.acked_seq = max(self.acked_seq, seq)
        if last is not None:
            await self.session._bridge.call(nats_side.ack, last)

    async def stop(self) -> None:
        from . import nats_side

        bridge = self.session._bridge
        self.session._consumers.discard(self)
        if self.durable is not None:
            await self._ack_taken()
            await self._record_position()
        if self.feed is not None:
            ephemeral = self.name if self.durable is None else None
            await bridge.call(nats_side.unsubscribe, self.session._js, self.feed, self.stream, ephemeral)
        self.stopped = True
        if self.durable is not None:  # what this process got but did not read: at once to the next one
            unread = [msg for _, _, msg in self.unacked] + (self.feed.take() if self.feed is not None else [])
            if unread:
                await bridge.call(nats_side.nak, unread)



