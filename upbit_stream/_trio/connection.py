"""One endpoint's connection: reconnect loop, reader, reducer, heartbeat and per-connection stats."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence

import trio

from .._core.classify import REPEAT_LIMIT, Recovery, classify, fatal_error
from .._core.codec import ErrorFrame, SubscriptionList, decode
from .._core.demand import Subscriber, SubscriptionBook
from .._core.encode import encode_list_subscriptions, encode_request
from .._core.errors import (
    ConnectError,
    ProtocolError,
    ServerError,
    UpbitStreamError,
)
from .._core.events import EVENT_CLASSES
from .._core.markers import StreamGap
from .fanout import Sink, batch_limit, let_consumers_catch_up
from .gate import WINDOW_MARGIN, ConnectGate
from .groups import first_error
from .._core.policies import Backoff, SlidingWindowLimiter
from .._config.settings import Settings
from .._core.specs import Spec
from .._core.stats import ConnectionEvent, ConnectionEventKind, ConnectionStats, LatencyWindow
from .._transports.seam import Connector, Disconnected, Wire

__all__ = ["ConnectGate", "EndpointConnection"]

log = logging.getLogger("upbit_stream")

#: How long an unused connection stays open for a quick re-subscribe before it closes.
LINGER = 5.0
#: Time a connector gets beyond ``connection.connect_timeout`` before its attempt is abandoned.
CONNECT_GRACE = 1.0
#: Shortest time between two connection attempts of one endpoint, whatever the backoff drew.
MIN_ATTEMPT_GAP = 0.5
_EVENT_TYPES = frozenset(EVENT_CLASSES.values())


class _Dead(Exception):
    """The connection is unusable (no pong, stale data, idle) and must be replaced."""


class _Idle(Exception):
    """Nobody subscribes any more: close the connection without counting a failure."""


class EndpointConnection:
    """The connection to one endpoint and the subscriptions it serves."""

    def __init__(
        self,
        endpoint: str,
        url: str,
        settings: Settings,
        connector: Connector,
        gate: ConnectGate,
        headers: Callable[[], Sequence[tuple[str, str]]],
        emit: Callable[[ConnectionEvent], None],
        spawn: Callable[..., None],
    ) -> None:
        self.endpoint = endpoint
        self.url = url
        self.book = SubscriptionBook()
        self._settings = settings
        self._connector = connector
        self._gate = gate
        self._headers = headers
        self._emit = emit
        self._spawn = spawn
        self._format = settings.connection.format
        limits = settings.limits
        self._limiter = SlidingWindowLimiter(
            [(limits.requests_per_second, 1.0 + WINDOW_MARGIN), (limits.requests_per_minute, 60.0 + WINDOW_MARGIN)]
        )
        self._backoff = Backoff(settings.reconnect.initial_delay, settings.reconnect.max_delay)
        self._wake = trio.Event()
        self._running = False
        self._wire: Wire | None = None
        self._new_since_send: list[Subscriber] = []
        self._last_new: list[Subscriber] = []
        self._list_waiters: list[tuple[trio.Event, list[SubscriptionList]]] = []
        # statistics
        self.state = "idle"
        self.connected_since: float | None = None
        self.reconnects = 0
        self.messages: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self.requests_sent = 0
        self.rate_limit_waits = 0
        self.protocol_errors = 0
        self.last_error: str | None = None
        self._last_message_at: float | None = None
        self._first_data_at: float | None = None
        self._latency = LatencyWindow()

    # -- subscriptions (synchronous, called by the session) ---------------------------------------

    def add(self, specs: Sequence[Spec], sink: Sink) -> Subscriber:
        """Register ``sink`` for ``specs`` and wake the reducer (opening the connection if needed)."""
        handle = self.book.add(specs, sink)
        self._new_since_send.append(handle)
        self._poke()
        return handle

    def remove(self, handle: Subscriber) -> None:
        """Unregister a subscriber; the next request leaves its data out."""
        self.book.remove(handle)
        if handle in self._new_since_send:  # else churn while nothing is sent would pile up here
            self._new_since_send.remove(handle)
        self._poke()

    def _poke(self) -> None:
        self._wake.set()
        if not self._running:
            self._running = True
            self._spawn(self._run)

    # -- the connection loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        down_since: float | None = None
        reason = ""
        ever_connected = False
        last_attempt = -math.inf
        repeated = 0  # "fatal if repeated" failures in a row with no data in between
        while True:
            while not len(self.book):
                if self.state != "failed":  # health keeps saying why until a new subscription
                    self.state = "idle"
                await self._wake.wait()
                self._wake = trio.Event()
            await trio.sleep_until(last_attempt + MIN_ATTEMPT_GAP)
            self.state = "cooldown" if self._gate.cooling_down else "connecting"
            await self._gate.acquire()
            last_attempt = trio.current_time()
            self.state = "connecting"
            try:
                await self._connect_and_serve(ever_connected and down_since is not None, down_since, reason)
            except _Idle:
                log.info("%s connection closed: no subscribers", self.endpoint)
                self._disconnected("no subscribers")
                down_since = None
                continue
            except (UpbitStreamError, Disconnected, _Dead) as exc:
                failure: Exception = exc
            else:  # the reader never returns normally; kept for safety
                failure = Disconnected("connection ended")
            reason = str(failure)
            recovery = _recovery(failure)
            if self._first_data_at is not None:
                repeated = 0
            if recovery is Recovery.FATAL_IF_REPEATED:
                repeated += 1
                if repeated >= REPEAT_LIMIT:
                    recovery = Recovery.FATAL
                    failure = ConnectError(f"gave up after {repeated} failures in a row without data: {reason}")
            was_connected = self.connected_since is not None
            if was_connected:
                ever_connected = True
                self._disconnected(reason)
            if recovery is Recovery.FATAL:
                self._give_up(fatal_error(failure, private=self.endpoint == "private"))
                self._first_data_at = None
                down_since = None
                repeated = 0
                continue
            if down_since is None and not was_connected:  # an outage's first failed attempt: once, not per attempt
                self._emit(ConnectionEvent(self.endpoint, ConnectionEventKind.DISCONNECTED, time.time(),
                                           f"cannot connect: {reason}"))
            if recovery is Recovery.THROTTLED:
                self._gate.cool_down(self._settings.reconnect.throttled_cooldown)
            elif recovery is Recovery.BANNED:
                self._gate.cool_down(self._settings.reconnect.banned_cooldown)
            if down_since is None:
                down_since = time.time()
            self.last_error = reason
            if self._first_data_at is not None and trio.current_time() - self._first_data_at >= self._settings.reconnect.healthy_after:
                self._backoff.reset()
            self._first_data_at = None
            delay = self._backoff.next_delay()
            log.info("%s connection lost (%s); retrying in %.2f s", self.endpoint, reason, delay)
            self.state = "backoff"
            await trio.sleep(delay)

    async def _connect_and_serve(self, reconnect: bool, down_since: float | None, reason: str) -> None:
        # A connector gets connect_timeout plus a grace period, whatever it does inside: trio-websocket
        # 0.12 never returns from a server that accepts TCP and then says nothing.
        limit = self._settings.connection.connect_timeout + CONNECT_GRACE
        try:
            with trio.CancelScope(deadline=trio.current_time() + limit) as guard:
                async with self._connector(self.url, list(self._headers())) as wire:
                    guard.deadline = math.inf
                    await self._serve(wire, reconnect=reconnect, down_since=down_since, reason=reason)
        except BaseExceptionGroup as group:  # a connector's own nursery may wrap our error
            raise first_error(group) from None
        if guard.cancelled_caught:
            raise ConnectError(f"no handshake within {limit:g} s")

    def _disconnected(self, reason: str) -> None:
        self._wire = None
        self.connected_since = None
        self._emit(ConnectionEvent(self.endpoint, ConnectionEventKind.DISCONNECTED, time.time(), reason))

    def _give_up(self, error: UpbitStreamError) -> None:
        """A failure retrying cannot fix: end this endpoint's subscribers with ``error``."""
        log.warning("%s connection gave up: %s", self.endpoint, error)
        self.state = "failed"
        self.last_error = str(error)
        for handle in self.book.subscribers:
            self.book.remove(handle)
            handle.target.fail(error)
        self._emit(ConnectionEvent(self.endpoint, ConnectionEventKind.GAVE_UP, time.time(), str(error)))

    async def _serve(self, wire: Wire, *, reconnect: bool, down_since: float | None, reason: str) -> None:
        now = time.time()
        self._wire = wire
        self.state = "connected"
        self.connected_since = now
        self._last_message_at = trio.current_time()
        if reconnect:
            self.reconnects += 1
            downtime = None if down_since is None else now - down_since
            self._emit(ConnectionEvent(self.endpoint, ConnectionEventKind.RECONNECTED, now, reason, downtime))
            gap = StreamGap(reason, down_since or now, now)
            for handle in self.book.subscribers:
                if handle.target.gaps:
                    handle.target.deliver(gap)
        else:
            self._emit(ConnectionEvent(self.endpoint, ConnectionEventKind.CONNECTED, now))
        log.info("%s connected to %s", self.endpoint, self.url)
        self.book.reset_connection()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._reduce, wire)
                nursery.start_soon(self._heartbeat, wire)
                await self._read(wire)
        except BaseExceptionGroup as group:
            raise first_error(group) from None
        finally:
            self._wire = None

    async def _read(self, wire: Wire) -> None:
        """Hand frames to ``_on_frames``: one at a time, or in batches when the wire offers them."""
        receive_ready = getattr(wire, "receive_ready", None)
        limit_for = (-1, 0)  # (book.changes, batch limit)
        while True:
            frames = [await wire.receive()]
            if receive_ready is not None:
                if limit_for[0] != self.book.changes:
                    limit_for = (self.book.changes, batch_limit(self._sinks()))
                if limit_for[1] > 1:
                    frames += receive_ready(limit_for[1] - 1)
            self._on_frames(frames)
            if len(frames) > 1:
                await let_consumers_catch_up(self._sinks)

    def _sinks(self) -> list[Sink]:
        return [handle.target for handle in self.book.subscribers]

    def _on_frames(self, frames: list[bytes | str]) -> None:
        """Decode, count and deliver frames received together (one clock reading for all)."""
        now = self._last_message_at = trio.current_time()
        wall_ms = time.time() * 1000.0
        book, counts, sizes, latency = self.book, self.messages, self.bytes, self._latency
        for frame in frames:
            try:
                messages = decode(frame)
            except ProtocolError as exc:
                self.protocol_errors += 1
                log.debug("%s: skipped a frame: %s", self.endpoint, exc)
                continue
            size = len(frame)
            for message in messages:
                if message.__class__ in _EVENT_TYPES:
                    counts[message.type] += 1
                    sizes[message.type] += size
                    if message.timestamp is not None:
                        latency.add(wall_ms - message.timestamp)
                    if self._first_data_at is None:
                        self._first_data_at = now
                    deliveries, finished = book.route(message)
                    for sink, event in deliveries:
                        sink.deliver(event)
                    for handle in finished:
                        book.remove(handle)
                        handle.target.finish()
                elif message.__class__ is ErrorFrame:
                    self._on_error(message)
                elif message.__class__ is SubscriptionList:
                    for event, slot in self._list_waiters:
                        slot.append(message)
                        event.set()
                    self._list_waiters.clear()

    def _on_error(self, error: ErrorFrame) -> None:
        log.warning("%s: server error %s: %s", self.endpoint, error.name, error.message)
        if classify(server_error=error.name) is Recovery.RETRY:  # rate limited: re-send, paced
            self.book.reset_sent()
            self._poke()
            return
        if error.name == "INVALID_AUTH":  # about the connection's keys: fatal for the endpoint
            raise ServerError(error.name, error.message)
        culprits = self._last_new or list(self.book.subscribers)
        self._last_new = []
        for handle in culprits:
            self.book.remove(handle)
            handle.target.fail(ServerError(error.name, error.message))
        self._poke()

    async def _pace(self) -> None:
        """Wait until the request limiter allows one more message, and count it."""
        while True:
            now = trio.current_time()
            wait = self._limiter.delay(now)
            if wait <= 0:
                break
            self.rate_limit_waits += 1
            await trio.sleep(wait)
        self._limiter.record(trio.current_time())
        self.requests_sent += 1

    async def _reduce(self, wire: Wire) -> None:
        debounce = self._settings.subscription.debounce
        while True:
            self._wake = trio.Event()
            await trio.sleep(debounce)
            if not len(self.book):
                with trio.move_on_after(LINGER):
                    while not len(self.book):
                        await self._wake.wait()
                        self._wake = trio.Event()
                if not len(self.book):
                    raise _Idle()
                continue
            if self.book.needs_send():
                await self._pace()
                # Computed after pacing, so the request carries every change made while waiting.
                text = encode_request(uuid.uuid4().hex, self.book.request_objects(), self._format)
                self.book.mark_sent()
                self._last_new, self._new_since_send = self._new_since_send, []
                log.debug("%s request: %s", self.endpoint, text)
                await wire.send(text)
            await self._wake.wait()

    async def _heartbeat(self, wire: Wire) -> None:
        beat = self._settings.heartbeat
        while True:
            await trio.sleep(beat.interval)
            with trio.move_on_after(beat.timeout) as deadline:
                await wire.ping()
            if deadline.cancelled_caught:
                raise _Dead(f"no pong within {beat.timeout:g} s")
            if self.endpoint == "public" and beat.stale_after and self.book.streaming():
                silent = trio.current_time() - (self._last_message_at or 0.0)
                if silent > beat.stale_after:
                    raise _Dead(f"no data for {silent:.0f} s")

    # -- on demand --------------------------------------------------------------------------------

    async def list_subscriptions(self, timeout: float) -> SubscriptionList:
        """Ask the server what it streams on this connection, in the connection's format."""
        wire = self._wire
        if wire is None:
            raise UpbitStreamError(f"the {self.endpoint} connection is not open: subscribe to something first")
        event, slot = trio.Event(), []
        waiter = (event, slot)
        self._list_waiters.append(waiter)
        try:
            await self._pace()
            await wire.send(encode_list_subscriptions(uuid.uuid4().hex, self._format))
            with trio.fail_after(timeout):
                await event.wait()
        finally:
            if waiter in self._list_waiters:  # no answer: forget the waiter
                self._list_waiters.remove(waiter)
        return slot[0]

    def stats(self) -> ConnectionStats:
        """A snapshot of this connection's statistics."""
        now = trio.current_time()
        elapsed = time.time() - self.connected_since if self.connected_since else 0.0
        total = sum(self.messages.values())
        return ConnectionStats(
            endpoint=self.endpoint,
            state=self.state,
            connected_since=self.connected_since,
            reconnects=self.reconnects,
            messages=dict(self.messages),
            bytes=dict(self.bytes),
            message_rate=total / elapsed if elapsed > 0 else 0.0,
            last_message_age=None if self._last_message_at is None else now - self._last_message_at,
            requests_sent=self.requests_sent,
            rate_limit_waits=self.rate_limit_waits,
            latency_p50_ms=self._latency.percentile(0.5),
            latency_p99_ms=self._latency.percentile(0.99),
            last_error=self.last_error,
        )


def _recovery(failure: Exception) -> Recovery:
    """Look ``failure`` up in the classification table (``_classify``)."""
    if isinstance(failure, _Dead):
        return Recovery.RETRY
    if isinstance(failure, Disconnected):
        return classify(closed=True, close_code=failure.code)
    if isinstance(failure, ServerError):
        return classify(server_error=failure.name)
    if isinstance(failure, ConnectError):
        return classify(status=failure.status) if failure.status is not None else classify(error=failure)
    return Recovery.FATAL  # AuthenticationError (no keys) and anything else retrying cannot fix
