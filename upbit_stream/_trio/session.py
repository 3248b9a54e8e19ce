"""The session: ``open_upbit_session`` and ``UpbitSession``, owner of every connection, task and channel."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import attrs
import trio

from .._config.auth import MaskedHeaders, authorization_header
from .._config.secrets import Credentials
from .._config.settings import Settings
from .._core.all_events import Event
from .._core.codec import SubscriptionList
from .._core.construction import NoPublicConstructor
from .._core.errors import AuthenticationError, SnapshotTimeout
from .._core.indicators import MAX_COMBINATIONS
from .._core.markers import StreamGap
from .._core.policies import ConnectGate
from .._core.protocol import ConnectionState, EndpointProtocol, ProtocolConfig
from .._core.specs import REALTIME_ONLY_TYPES, Spec
from .._core.stats import (
    ConnectionEvent,
    Health,
    HealthStatus,
    SessionStats,
    SubscriptionStats,
    summarize_health,
)
from .._transports.seam import Connector, check_url, trust_context
from .._transports.via_trio_websocket import trio_websocket_connector
from .._transports.via_websockets import websockets_connector
from .channel import SubscriptionChannel, watcher_channel
from .connection import CLOSE_BOUND, EndpointDriver
from .groups import single_errors
from .shorthands import Overflow, SubscribeShorthands, Subscription

__all__ = ["UpbitSession", "open_upbit_session"]

E1 = TypeVar("E1", bound=Event)
E2 = TypeVar("E2", bound=Event)
E3 = TypeVar("E3", bound=Event)
_STRICT_TYPES = frozenset({"trade", "myOrder", "announcement", "indicator", "indicator_signal"})
_NO_KEYS = (
    "private streams need Upbit API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY in the "
    "environment, or pass open_upbit_session(access_key=..., secret_key=...)"
)
_ENDPOINTS = ("public", "private", "info")
Endpoint = Literal["public", "private", "info"]


class UpbitSession(SubscribeShorthands, metaclass=NoPublicConstructor):
    """Every connection, task and subscription of one ``open_upbit_session()`` block (built only by it)."""

    def __init__(
        self, settings: Settings, credentials: Credentials | None, connector: Connector, nursery: trio.Nursery
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        self._nursery = nursery
        self._channels: dict[int, tuple[SubscriptionChannel[Any], tuple[Spec[Any], ...]]] = {}
        self._watchers: list[SubscriptionChannel[ConnectionEvent]] = []
        check_url(settings.public_url, private=False)
        self._checked_urls: set[str] = set()
        self._closed = False
        gate = ConnectGate(settings.limits.connects_per_second)
        rng = random.Random()
        config = _protocol_config(settings)
        urls = {"public": settings.public_url, "private": settings.private_url, "info": settings.info_url}
        headers = {"public": lambda: MaskedHeaders(), "private": self._private_headers, "info": self._private_headers}
        self._drivers = {
            endpoint: EndpointDriver(
                EndpointProtocol(endpoint, config, gate, random.Random(rng.getrandbits(64))), urls[endpoint],
                connector, gate, headers[endpoint], self._emit, nursery.start_soon,
                connect_timeout=settings.connection.connect_timeout,
            )
            for endpoint in _ENDPOINTS
        }

    def __repr__(self) -> str:
        keys = "with keys" if self._credentials else "without keys"
        return f"<UpbitSession {self.settings.public_url} {keys}>"

    def _private_headers(self) -> MaskedHeaders:
        if self._credentials is None:
            raise AuthenticationError(_NO_KEYS)
        return MaskedHeaders([authorization_header(self._credentials, self.settings.auth.jwt_algorithm)])

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("this upbit_stream session is closed")

    # -- subscribing ------------------------------------------------------------------------------

    @overload
    def subscribe(self, spec: Spec[E1], /, *, buffer: int | None = ..., overflow: Overflow | None = ...,
                  gaps: Literal[False] = ...) -> Subscription[E1]: ...
    @overload
    def subscribe(self, spec: Spec[E1], /, *, buffer: int | None = ..., overflow: Overflow | None = ...,
                  gaps: Literal[True]) -> Subscription[E1 | StreamGap]: ...
    @overload
    def subscribe(self, spec: Spec[E1], spec2: Spec[E2], /, *, buffer: int | None = ...,
                  overflow: Overflow | None = ..., gaps: Literal[False] = ...) -> Subscription[E1 | E2]: ...
    @overload
    def subscribe(self, spec: Spec[E1], spec2: Spec[E2], /, *, buffer: int | None = ...,
                  overflow: Overflow | None = ..., gaps: Literal[True]) -> Subscription[E1 | E2 | StreamGap]: ...
    @overload
    def subscribe(self, spec: Spec[E1], spec2: Spec[E2], spec3: Spec[E3], /, *, buffer: int | None = ...,
                  overflow: Overflow | None = ..., gaps: Literal[False] = ...) -> Subscription[E1 | E2 | E3]: ...
    @overload
    def subscribe(self, *specs: Spec[Event], buffer: int | None = ..., overflow: Overflow | None = ...,
                  gaps: bool = ...) -> Subscription[Event | StreamGap]: ...
    def subscribe(self, *specs: Spec[Any], buffer: int | None = None, overflow: Overflow | None = None,
                  gaps: bool = False) -> Subscription[Any]:
        """Subscribe to ``specs``: ``async with session.subscribe(ub.ticker("KRW-BTC")) as events``.

        Yields the subscription's channel (a ``trio.abc.ReceiveChannel`` of the specs' events in
        wire order; ``async for``, ``receive()``, ``receive_nowait()``, ``receive_batch()``,
        ``batches()``), typed by the specs (``Ticker`` for ``ub.ticker``). ``buffer`` (default
        ``[subscription] buffer``) bounds what a slow consumer may leave unread; ``overflow``
        (``"latest"`` or ``"strict"``; default by type) decides what happens then; with ``gaps=True``
        a ``StreamGap`` marker comes first after each reconnect. Leaving the block unsubscribes.

        A failure of this subscription (``ServerError`` for its own specs, ``SlowConsumerError``,
        ``AuthenticationError``, ``ConnectError`` after giving up) is raised in-band: by the next
        receive after the events delivered before it, or by this block if never read. Nothing
        cancels the code inside the block. Raises ``ValueError`` / ``TypeError`` at once for bad
        arguments and ``trio.ClosedResourceError`` after the session closed.
        """
        return self._subscription(specs, buffer, overflow, gaps)

    @asynccontextmanager
    async def _subscription(self, specs: tuple[Spec[Any], ...], buffer: int | None, overflow: Overflow | None,
                            gaps: bool) -> AsyncIterator[SubscriptionChannel[Any]]:
        chosen = _check_specs(specs)
        size = self.settings.subscription.buffer if buffer is None else buffer
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"buffer must be an int >= 1: got {buffer!r}")
        policy = self._overflow(chosen, overflow)
        self._check_open()
        groups: dict[str, tuple[Spec[Any], ...]] = {
            endpoint: tuple(s for s in chosen if s.endpoint == endpoint) for endpoint in _ENDPOINTS
        }
        for endpoint in ("private", "info"):
            if groups[endpoint]:
                if self._credentials is None:
                    raise AuthenticationError(_NO_KEYS)
                if endpoint not in self._checked_urls:
                    check_url(self._drivers[endpoint].url, private=True)
                    self._checked_urls.add(endpoint)
        await trio.lowlevel.checkpoint()
        self._check_open()
        self._check_combinations(groups["info"])
        channel: SubscriptionChannel[Any] = SubscriptionChannel._create(size, policy, gaps=gaps)
        self._channels[id(channel)] = (channel, chosen)
        handles = [
            (self._drivers[endpoint], self._drivers[endpoint].subscribe(group, channel, gaps=gaps))
            for endpoint, group in groups.items() if group
        ]
        try:
            yield channel
        finally:
            for driver, handle in handles:
                driver.unsubscribe(handle)
            self._channels.pop(id(channel), None)
            channel.close()
        if channel.failure is not None and not channel.failure_seen:
            raise channel.failure

    def _check_combinations(self, specs: tuple[Spec[Any], ...]) -> None:
        """Refuse indicator specs that would take the /info connection past Upbit's 100 combinations."""
        if not specs:
            return
        wanted = {key for spec in specs for key in _combinations(spec)}
        held = {key for _, other in self._channels.values() for spec in other if spec.endpoint == "info"
                for key in _combinations(spec)}
        total = len(wanted | held)
        if total > MAX_COMBINATIONS:
            raise ValueError(
                f"this subscription would make {total} (code, indicator) combinations on the indicator "
                f"connection ({len(held)} held by other subscriptions); Upbit accepts at most "
                f"{MAX_COMBINATIONS} per connection: subscribe to fewer codes or indicators")

    def _overflow(self, specs: tuple[Spec[Any], ...], overflow: str | None) -> Overflow:
        choice = overflow or self.settings.subscription.overflow
        if choice == "auto":
            return "strict" if any(s.type in _STRICT_TYPES for s in specs) else "latest"
        if choice not in ("latest", "strict"):
            raise ValueError(f"overflow must be 'latest' or 'strict': got {overflow!r}")
        return choice  # type: ignore[return-value]

    async def snapshot(self, spec: Spec[E1], timeout: float = 5.0) -> dict[str, E1]:
        """One current event per code of ``spec``, by code, without disturbing live streams.

        ``await session.snapshot(ub.ticker(["KRW-BTC", "KRW-ETH"]))`` gives a ``dict[str, Ticker]``.
        Raises ``SnapshotTimeout`` naming the codes that did not arrive within ``timeout`` (its
        ``found`` holds the others), ``ValueError`` for private types (Upbit sends no snapshots).
        """
        if spec.type in REALTIME_ONLY_TYPES:
            raise ValueError(f"Upbit sends no snapshots of {spec.type}: subscribe to it instead")
        found: dict[str, E1] = {}
        with trio.move_on_after(timeout):
            async with self.subscribe(attrs.evolve(spec, mode="snapshot"), buffer=len(spec.codes) + 1) as events:
                async for event in events:
                    found[event.code] = event
        missing = tuple(code for code in spec.codes if code not in found)
        if missing:
            raise SnapshotTimeout(missing, timeout, found)
        return found

    async def list_subscriptions(self, endpoint: Endpoint = "public", timeout: float = 5.0) -> SubscriptionList:
        """Ask the server what it streams on the ``endpoint`` connection (LIST_SUBSCRIPTIONS).

        ``endpoint`` is ``"public"``, ``"private"`` (myOrder, myAsset, announcement) or ``"info"``
        (indicator, indicator_signal).
        """
        if endpoint not in self._drivers:
            raise ValueError(f"endpoint must be 'public', 'private' or 'info': got {endpoint!r}")
        self._check_open()
        return await self._drivers[endpoint].list_subscriptions(timeout)

    # -- observing --------------------------------------------------------------------------------

    @asynccontextmanager
    async def connection_events(self, buffer: int = 256) -> AsyncIterator[SubscriptionChannel[ConnectionEvent]]:
        """A channel of ``ConnectionEvent``s (connected, disconnected, reconnected, gave up)."""
        self._check_open()
        await trio.lowlevel.checkpoint()
        self._check_open()
        async with watcher_channel(self._watchers, buffer) as channel:
            yield channel

    def _emit(self, event: ConnectionEvent) -> None:
        for channel in self._watchers:
            channel._deliver(event)

    def stats(self) -> SessionStats:
        """Statistics of every connection and subscription (SPEC §7)."""
        now = trio.current_time()
        return SessionStats(
            connections={name: driver.protocol.stats(now) for name, driver in self._drivers.items()},
            subscriptions=tuple(
                SubscriptionStats(specs, channel.delivered, channel.conflated, channel.queued, channel.overflow)
                for channel, specs in self._channels.values()
            ),
        )

    def health(self) -> Health:
        """healthy / degraded / down, with the reasons."""
        stats = self.stats()
        used = {name: c for name, c in stats.connections.items() if c.state != ConnectionState.IDLE}
        health = summarize_health(attrs.evolve(stats, connections=used))
        now = trio.current_time()
        extra = [reason for driver in self._drivers.values() for reason in driver.protocol.health_reasons(now)]
        if extra and health.status is HealthStatus.HEALTHY:
            return Health(HealthStatus.DEGRADED, (*health.reasons, *extra))
        return attrs.evolve(health, reasons=(*health.reasons, *extra)) if extra else health

    async def _aclose(self) -> None:
        """Close every connection politely, bounded by ``CLOSE_BOUND``, then end every channel."""
        self._closed = True
        with trio.CancelScope(shield=True, deadline=trio.current_time() + CLOSE_BOUND):
            async with trio.open_nursery() as nursery:
                for driver in self._drivers.values():
                    nursery.start_soon(driver.aclose)
        for channel, _ in list(self._channels.values()):
            channel._end()
        for watcher in list(self._watchers):
            watcher._end()


def _protocol_config(settings: Settings) -> ProtocolConfig:
    beat, reconnect = settings.heartbeat, settings.reconnect
    return ProtocolConfig(
        format=str(settings.connection.format), debounce=settings.subscription.debounce,
        requests_per_second=settings.limits.requests_per_second,
        requests_per_minute=settings.limits.requests_per_minute,
        ping_interval=beat.interval, pong_timeout=beat.timeout, stale_after=beat.stale_after,
        snapshot_patience=beat.snapshot_patience, initial_delay=reconnect.initial_delay,
        max_delay=reconnect.max_delay, healthy_after=reconnect.healthy_after,
        throttled_cooldown=reconnect.throttled_cooldown, banned_cooldown=reconnect.banned_cooldown,
    )


def _check_specs(specs: tuple[Spec[Any], ...]) -> tuple[Spec[Any], ...]:
    if not specs:
        raise ValueError("subscribe() needs at least one spec, e.g. upbit_stream.ticker('KRW-BTC')")
    for spec in specs:
        if not isinstance(spec, Spec):
            raise TypeError(f"expected specs from upbit_stream.ticker(), trade(), …: got {spec!r}")
    return specs


def _combinations(spec: Spec[Any]) -> set[tuple[str, str, str]]:
    """The (code, timeframe, indicator) combinations an indicator spec adds to the /info connection."""
    return {(code, spec.timeframe or "", repr(item)) for code in spec.codes for item in spec.indicators}


def _connector_for(settings: Settings) -> Connector:
    """The connector ``connection.transport`` names, with the connection settings."""
    connection = settings.connection
    make = websockets_connector if connection.transport == "websockets" else trio_websocket_connector
    return make(connect_timeout=connection.connect_timeout, max_message_size=connection.max_message_size,
                ssl_context=trust_context(connection.ca_file))


def _settings_from(config: Settings | str | os.PathLike[str] | None) -> Settings:
    if isinstance(config, Settings):
        return config
    return Settings.load(None if config is None else Path(config))


@asynccontextmanager
async def open_upbit_session(
    *,
    config: Settings | str | os.PathLike[str] | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    connector: Connector | None = None,
) -> AsyncIterator[UpbitSession]:
    """Open a session (``async with``); connections open lazily with each endpoint's first subscription.

    ::

        async with ub.open_upbit_session() as session:
            async with session.ticker(["KRW-BTC", "KRW-ETH"]) as tickers:
                async for ticker in tickers:
                    print(ticker.code, ticker.trade_price)

    ``config``: a ``Settings``, or the path of a TOML settings file (default: ``upbit_stream.toml``
    if present, then ``UPBIT_STREAM_*`` environment variables). ``access_key``/``secret_key``:
    for private streams (default: ``UPBIT_ACCESS_KEY``/``UPBIT_SECRET_KEY``); never logged or shown.
    ``connector``: another transport, or ``fake.connector()`` of ``upbit_stream.testing`` to run
    against the fake exchange in memory under a virtual clock.

    Raises ``ConfigError`` for bad settings and ``AuthenticationError`` for unusable keys at once;
    connection trouble never escapes the block by itself (it reaches subscribers in-band).
    Leaving the block closes every connection (with a close frame, within about a second),
    cancels every task and ends every channel; your own exception leaves it unwrapped, with its
    ``__cause__``. ``[logging] level`` is the ``upbit_stream`` logger's level while the block
    runs, unless the application set that logger's level itself.
    """
    settings = _settings_from(config)
    try:
        credentials = Credentials.resolve(access_key, secret_key, settings.auth, os.environ)
    finally:
        del access_key, secret_key  # only masked Credentials stay in this frame's locals, also on errors
    if connector is None:
        connector = _connector_for(settings)
    logger = logging.getLogger("upbit_stream")
    previous_level = logger.level
    if previous_level == logging.NOTSET:  # an application that set the level itself keeps it
        logger.setLevel(settings.logging.level)
    try:
        with single_errors():
            async with trio.open_nursery() as nursery:
                session = UpbitSession._create(settings, credentials, connector, nursery)
                try:
                    yield session
                finally:
                    await session._aclose()
                    nursery.cancel_scope.cancel()
    finally:
        logger.setLevel(previous_level)
