"""``open_relay_session`` and ``RelaySession``: the ``UpbitSession`` surface, served from a relay's JetStream streams."""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from .._config.settings import Settings
from .._core.codec import decode
from .._core.construction import NoPublicConstructor
from .._core.errors import AuthenticationError, ConnectError, SnapshotTimeout
from .._core.markers import StreamGap
from .._core.specs import REALTIME_ONLY_TYPES, Spec
from .._core.stats import (
    ConnectionEvent,
    ConnectionEventKind,
    ConnectionState,
    ConnectionStats,
    Health,
    SessionStats,
    SubscriptionStats,
    summarize_health,
)
from .._trio.channel import SubscriptionChannel, watcher_channel
from .._trio.groups import single_errors
from .._trio.shorthands import Overflow, SubscribeShorthands, Subscription
from .bridge import Bridge, open_bridge
from .consumer import Consumer
from .markers import Catalog
from .naming import Names, check_token, describe, spec_subjects, uncovered
from .naming import inbox_prefix as naming_inbox

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

__all__ = ["RelaySession", "open_relay_session"]

_STRICT_TYPES = frozenset({"trade", "myOrder", "announcement", "indicator", "indicator_signal"})
NATS_RECONNECT = "nats reconnect"


class RelaySession(SubscribeShorthands, metaclass=NoPublicConstructor):
    """Subscriptions served by a relay (built only by ``open_relay_session``): no Upbit connection, no keys."""

    def __init__(self, settings: Settings, names: Names, bridge: Bridge, nc: Client, js: JetStreamContext,
                 nursery: trio.Nursery, url: str, inbox: str = "_INBOX") -> None:
        self.settings = settings
        self.names = names
        self._bridge, self._nc, self._js, self._nursery, self._url = bridge, nc, js, nursery, url
        self.inbox = inbox  # where this session's replies and deliveries come (subjects under it)
        self._channels: dict[int, tuple[SubscriptionChannel[Any], tuple[Spec[Any], ...]]] = {}
        self._watchers: list[SubscriptionChannel[ConnectionEvent]] = []
        self._consumers: set[Consumer] = set()  # bounded: one per stream of each open subscription
        self._connected_since: float | None = time.time()
        self._down_since: float | None = None
        self._reconnects = 0
        self._messages = 0
        self._bytes = 0
        self._last_message: float | None = None
        self._last_error: str | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<RelaySession {self.names.root} via NATS>"

    # -- the NATS connection's state (called in trio through the bridge) -----------------------

    def _on_state(self, kind: str, reason: str | None) -> None:
        now = time.time()
        if kind == "error":
            self._last_error = reason
            return
        if kind == "disconnected":
            self._down_since, self._connected_since = now, None
            self._emit(ConnectionEvent("nats", ConnectionEventKind.DISCONNECTED, now, reason))
            return
        since = self._down_since or now
        self._reconnects += 1
        self._down_since, self._connected_since = None, now
        self._emit(ConnectionEvent("nats", ConnectionEventKind.RECONNECTED, now, None, now - since))
        for channel, _ in self._channels.values():
            if channel.gaps:
                channel._deliver(StreamGap(NATS_RECONNECT, since, now))
        for consumer in self._consumers:
            consumer.reconnected()

    def _emit(self, event: ConnectionEvent) -> None:
        for channel in self._watchers:
            channel._deliver(event)

    # -- subscribing ------------------------------------------------------------------------------

    def subscribe(self, *specs: Spec[Any], buffer: int | None = None, overflow: Overflow | None = None,
                  gaps: bool = False, resume: str | None = None) -> Subscription[Any]:
        """Subscribe to ``specs`` as ``UpbitSession.subscribe`` does, from the relay's streams.

        ``resume="name"`` keeps a durable position under that name: after a restart the same name
        continues after the last event this process received (at most the last unacknowledged
        batch comes again; its ``Nats-Msg-Id`` keys make that idempotent). Raises ``ValueError`` at
        once, listing what the relay carries, for anything it does not carry.
        """
        if not specs or not all(isinstance(spec, Spec) for spec in specs):
            raise TypeError(f"expected specs from upbit_stream.ticker(), trade(), …: got {specs!r}")
        if resume is not None:
            check_token("resume", resume)
        return self._subscription(tuple(specs), buffer, overflow, gaps, resume)

    async def _catalog(self) -> Catalog:
        from . import nats_side

        try:
            data = (await self._bridge.call(nats_side.last_messages, self._js, self.names.stream("control"),
                                            [self.names.carried_subject]))[0]
        except TimeoutError:  # nats-py's timeout is one: no reply, often one this user may not receive
            raise ConnectError(f"JetStream on {self._url} did not answer ({self._last_error or 'no error reported'}); "
                               f"replies come under {self.inbox}.>, which this user must "
                               "be allowed to subscribe to") from None
        catalog = Catalog.decode(data) if data is not None else None
        if catalog is None:
            raise ConnectError(f"no relay has published to {self.names.root} on {self._url} yet: start "
                               "`upbit-stream relay` first")
        return catalog

    async def _check_carried(self, specs: Sequence[Spec[Any]]) -> None:
        catalog = await self._catalog()
        for spec in specs:
            missing = uncovered(catalog.subjects, spec_subjects(self.names, spec))
            if missing or (spec.include_body and not catalog.with_bodies):
                raise ValueError(f"the relay does not carry {describe(spec)}; it carries: {'; '.join(catalog.specs)}")

    def _overflow(self, specs: Sequence[Spec[Any]], overflow: str | None) -> Overflow:
        choice = overflow or self.settings.subscription.overflow
        if choice == "auto":
            return "strict" if any(s.type in _STRICT_TYPES for s in specs) else "latest"
        if choice not in ("latest", "strict"):
            raise ValueError(f"overflow must be 'latest' or 'strict': got {overflow!r}")
        return choice  # type: ignore[return-value]

    @asynccontextmanager
    async def _subscription(self, specs: tuple[Spec[Any], ...], buffer: int | None, overflow: Overflow | None,
                            gaps: bool, resume: str | None) -> AsyncIterator[SubscriptionChannel[Any]]:
        size = self.settings.subscription.buffer if buffer is None else buffer
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"buffer must be an int >= 1: got {buffer!r}")
        policy = self._overflow(specs, overflow)
        if self._closed:
            raise trio.ClosedResourceError("this relay session is closed")
        await self._check_carried(specs)
        channel: SubscriptionChannel[Any] = SubscriptionChannel._create(size, policy, gaps=gaps)
        groups: dict[tuple[str, str], list[str]] = {}
        snapshots = [spec for spec in specs if spec.mode == "snapshot"]
        for spec in specs:
            if spec.mode != "snapshot":
                key = (self.names.stream_of(spec.type), spec.mode)
                groups.setdefault(key, []).extend(spec_subjects(self.names, spec))
        self._channels[id(channel)] = (channel, specs)
        try:
            with single_errors():
                async with trio.open_nursery() as nursery:
                    consumers = [Consumer(self, channel, stream, mode, subjects, resume, size)
                                 for (stream, mode), subjects in groups.items()]
                    try:
                        for consumer in consumers:
                            await consumer.start(nursery)
                        for spec in snapshots:
                            for event in (await self.snapshot(spec)).values():
                                channel._deliver(event)
                        if not consumers:
                            channel._end()
                        yield channel
                    finally:
                        with trio.CancelScope(shield=True, deadline=trio.current_time() + 3):
                            for consumer in consumers:
                                await consumer.stop()
                        nursery.cancel_scope.cancel()
        finally:
            self._channels.pop(id(channel), None)
            channel.close()
        if channel.failure is not None and not channel.failure_seen:
            raise channel.failure

    async def snapshot(self, spec: Spec[Any], timeout: float = 5.0) -> dict[str, Any]:
        """One current event per code of ``spec``, by code, from the relay's last values (no Upbit request)."""
        from . import nats_side

        if spec.type in REALTIME_ONLY_TYPES:
            raise ValueError(f"Upbit sends no snapshots of {spec.type}: subscribe to it instead")
        await self._check_carried([spec])
        subjects = spec_subjects(self.names, spec)
        found: dict[str, Any] = {}
        with trio.move_on_after(timeout):
            payloads = await self._bridge.call(nats_side.last_messages, self._js, self.names.stream_of(spec.type),
                                               subjects)
            for data in payloads:
                if data is not None:
                    for event in decode(data):
                        found[event.code] = event  # type: ignore[union-attr]
        missing = tuple(code for code in spec.codes if code not in found)
        if missing:
            raise SnapshotTimeout(missing, timeout, found)
        return found

    # -- observing --------------------------------------------------------------------------------

    @asynccontextmanager
    async def connection_events(self, buffer: int = 256) -> AsyncIterator[SubscriptionChannel[ConnectionEvent]]:
        """A channel of ``ConnectionEvent``s of the NATS connection (endpoint ``"nats"``)."""
        await trio.lowlevel.checkpoint()
        async with watcher_channel(self._watchers, buffer) as channel:
            yield channel

    def stats(self) -> SessionStats:
        """The NATS connection (as endpoint ``"nats"``) and every subscription."""
        now = time.time()
        state = ConnectionState.CONNECTED if self._connected_since is not None else ConnectionState.BACKOFF
        connection = ConnectionStats(
            "nats", state, self._connected_since, self._reconnects, {"relay": self._messages}, {"relay": self._bytes},
            0.0, None if self._last_message is None else now - self._last_message, 0, 0, None, None, self._last_error)
        return SessionStats(
            connections={"nats": connection},
            subscriptions=tuple(SubscriptionStats(specs, channel.delivered, channel.conflated, channel.queued,
                                                  channel.overflow) for channel, specs in self._channels.values()))

    def health(self) -> Health:
        """healthy / degraded / down, from the NATS connection and the subscriptions."""
        return summarize_health(self.stats())

    def _count(self, batch: list[Msg]) -> None:
        self._messages += len(batch)
        self._bytes += sum(len(msg.data) for msg in batch)
        self._last_message = time.time()


@asynccontextmanager
async def open_relay_session(
    nats_url: str = "nats://127.0.0.1:4222",
    *,
    region: str = "kr",
    account: str = "main",
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    tls: ssl.SSLContext | None = None,
    inbox_prefix: str | None = None,
    config: Settings | str | os.PathLike[str] | None = None,
) -> AsyncIterator[RelaySession]:
    """Open a session served by ``upbit-stream relay`` through NATS JetStream (``async with``).

    ::

        async with ub.open_relay_session("nats://127.0.0.1:4222") as session:
            async with session.trade("KRW-BTC", resume="strategy-1") as trades: ...

    The same surface as ``open_upbit_session`` (``subscribe`` and the shorthands, ``snapshot``,
    ``stats``, ``health``, ``connection_events``) and the same events, channels and overflow
    policies; no Upbit connection and no API keys in this process. ``user``/``password`` or
    ``token`` (and ``tls``) are NATS credentials: account streams are readable only with theirs.
    Replies and deliveries come under ``inbox_prefix`` (default ``_INBOX.<user>``, or ``_INBOX``
    without a user), so the server can keep each user to its own inboxes (see the README).
    Raises ``ConnectError`` when NATS cannot be reached.
    """
    try:
        from . import nats_side
    except ImportError as exc:  # pragma: no cover - the [relay] extra is missing
        raise ImportError("open_relay_session needs nats-py: pip install 'upbit-stream[relay]'") from exc
    settings = config if isinstance(config, Settings) else Settings.load(None if config is None else Path(config))
    names = Names(region, account)
    inbox = naming_inbox(inbox_prefix, user)
    with single_errors():
        async with open_bridge() as bridge, trio.open_nursery() as nursery:
            holder: list[RelaySession] = []

            def on_state(kind: str, reason: str | None) -> None:  # on the loop's thread
                if holder:
                    bridge.to_trio(holder[0]._on_state, kind, reason)

            try:
                nc = await bridge.call(lambda: nats_side.connect(
                    nats_url, name="upbit-stream relay session", user=user, password=password, token=token,
                    tls=tls, on_state=on_state, inbox=inbox))
            except PermissionError as exc:
                raise AuthenticationError(f"NATS at {nats_url} refused these credentials") from exc
            except Exception as exc:
                raise ConnectError(f"cannot reach NATS at {nats_url}: {exc or exc.__class__.__name__}") from exc
            try:
                js = await bridge.call(nats_side.jetstream, nc, 2.0)
                session = RelaySession._create(settings, names, bridge, nc, js, nursery, nats_url, inbox)
                holder.append(session)
                yield session
            finally:
                session_closed = holder[0] if holder else None
                if session_closed is not None:
                    session_closed._closed = True
                    for channel, _ in list(session_closed._channels.values()):
                        channel._end()
                with trio.CancelScope(shield=True, deadline=trio.current_time() + 3):
                    await bridge.call(nats_side.close, nc)
                nursery.cancel_scope.cancel()
