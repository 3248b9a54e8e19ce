"""The session: ``open_upbit_session`` and ``UpbitSession``, owner of every connection and task."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import attrs
import trio

from .._config.auth import authorization_header
from .._core.codec import SubscriptionList
from .connection import EndpointConnection
from .._core.errors import AuthenticationError, SnapshotTimeout
from .._core.events import Event
from .fanout import Sink
from .gate import ConnectGate
from .groups import single_errors
from .._config.secrets import Credentials
from .._config.settings import Settings
from .._core.specs import (
    PRIVATE_TYPES,
    Mode,
    Spec,
    candle,
    my_asset,
    my_order,
    orderbook,
    ticker,
    trade,
)
from .._core.stats import (
    ConnectionEvent,
    Health,
    SessionStats,
    SubscriptionStats,
    summarize_health,
)
from .._transports.seam import Connector, check_url
from .._transports.via_trio_websocket import trio_websocket_connector
from .._transports.via_websockets import websockets_connector

__all__ = ["UpbitSession", "open_upbit_session"]

_STRICT_TYPES = frozenset({"trade", "myOrder"})
_NO_KEYS = (
    "private streams need Upbit API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY in the "
    "environment, or pass open_upbit_session(access_key=..., secret_key=...)"
)


class UpbitSession:
    """Every connection, task and subscription of one ``open_upbit_session()`` block."""

    def __init__(
        self, settings: Settings, credentials: Credentials | None, connector: Connector, nursery: trio.Nursery
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        self._nursery = nursery
        self._sinks: dict[int, tuple[Sink, tuple[Spec, ...]]] = {}
        self._watchers: list[Sink] = []
        gate = ConnectGate(settings.limits.connects_per_second)
        private_url = settings.private_url
        check_url(settings.public_url, private=False)
        self._connections = {
            "public": EndpointConnection(
                "public", settings.public_url, settings, connector, gate, lambda: (), self._emit, nursery.start_soon
            ),
            "private": EndpointConnection(
                "private", private_url, settings, connector, gate, self._private_headers, self._emit,
                nursery.start_soon,
            ),
        }
        self._private_url_checked = False
        self._closed = False

    def __repr__(self) -> str:
        keys = "with keys" if self._credentials else "without keys"
        return f"<UpbitSession {self.settings.public_url} {keys}>"

    def _private_headers(self) -> list[tuple[str, str]]:
        if self._credentials is None:
            raise AuthenticationError(_NO_KEYS)
        return [authorization_header(self._credentials, self.settings.auth.jwt_algorithm)]

    # -- subscribing ------------------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(
        self,
        *specs: Spec,
        buffer: int | None = None,
        overflow: Literal["latest", "strict"] | None = None,
        gaps: bool = False,
    ) -> AsyncIterator[trio.MemoryReceiveChannel[Any]]:
        """Subscribe to ``specs``; yields the receiving end of a bounded channel of events.

        Leaving the block unsubscribes. A ``"strict"`` subscription that falls behind, a server
        error about its request, or an authentication failure is raised from this block.
        """
        chosen = _check_specs(specs)
        size = self.settings.subscription.buffer if buffer is None else buffer
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"buffer must be an int >= 1: got {buffer!r}")
        policy = self._overflow(chosen, overflow)
        if self._closed:
            raise RuntimeError("this session is closed")
        private = tuple(s for s in chosen if s.type in PRIVATE_TYPES)
        public = tuple(s for s in chosen if s.type not in PRIVATE_TYPES)
        if private:
            if self._credentials is None:
                raise AuthenticationError(_NO_KEYS)
            if not self._private_url_checked:
                check_url(self.settings.private_url, private=True)
                self._private_url_checked = True
        send, receive = trio.open_memory_channel[Any](size)
        sink = Sink(send, size, policy, gaps=gaps)
        handles = []
        with trio.CancelScope() as scope:
            sink.cancel_scope = scope
            self._nursery.start_soon(sink.flush)
            self._sinks[id(sink)] = (sink, chosen)
            for endpoint, group in (("public", public), ("private", private)):
                if group:
                    handles.append((self._connections[endpoint], self._connections[endpoint].add(group, sink)))
            try:
                yield receive
            except trio.EndOfChannel:
                if sink.failure is None:
                    raise
            finally:
                for connection, handle in handles:
                    connection.remove(handle)
                self._sinks.pop(id(sink), None)
                sink.close()
        if sink.failure is not None:
            raise sink.failure

    def _overflow(self, specs: tuple[Spec, ...], overflow: str | None) -> Literal["latest", "strict"]:
        choice = overflow or self.settings.subscription.overflow
        if choice == "auto":
            return "strict" if any(s.type in _STRICT_TYPES for s in specs) else "latest"
        if choice not in ("latest", "strict"):
            raise ValueError(f"overflow must be 'latest' or 'strict': got {overflow!r}")
        return choice  # type: ignore[return-value]

    def ticker(self, codes: str | Iterable[str], *, mode: Mode = "both", **options: Any) -> Any:
        """``subscribe(ticker(codes, mode=mode), **options)``."""
        return self.subscribe(ticker(codes, mode=mode), **options)

    def trade(self, codes: str | Iterable[str], *, mode: Mode = "both", **options: Any) -> Any:
        """``subscribe(trade(codes, mode=mode), **options)``."""
        return self.subscribe(trade(codes, mode=mode), **options)

    def orderbook(
        self, codes: str | Iterable[str], *, mode: Mode = "both", depth: int | None = None,
        level: Any = None, **options: Any,
    ) -> Any:
        """``subscribe(orderbook(codes, mode=…, depth=…, level=…), **options)``."""
        return self.subscribe(orderbook(codes, mode=mode, depth=depth, level=level), **options)

    def candle(self, codes: str | Iterable[str], interval: str = "1m", *, mode: Mode = "both", **options: Any) -> Any:
        """``subscribe(candle(codes, interval, mode=mode), **options)``."""
        return self.subscribe(candle(codes, interval, mode=mode), **options)

    def my_order(self, codes: str | Iterable[str] | None = None, **options: Any) -> Any:
        """``subscribe(my_order(codes), **options)``."""
        return self.subscribe(my_order(codes), **options)

    def my_asset(self, **options: Any) -> Any:
        """``subscribe(my_asset(), **options)``."""
        return self.subscribe(my_asset(), **options)

    async def snapshot(self, spec: Spec, timeout: float = 5.0) -> dict[str, Event]:
        """One current event per code of ``spec``, without disturbing live streams."""
        if spec.type in PRIVATE_TYPES:
            raise ValueError("Upbit sends no snapshots of private types; subscribe to them instead")
        found: dict[str, Event] = {}
        with trio.move_on_after(timeout):
            async with self.subscribe(attrs.evolve(spec, mode="snapshot"), buffer=len(spec.codes) + 1) as events:
                async for event in events:
                    found[event.code] = event
        missing = tuple(code for code in spec.codes if code not in found)
        if missing:
            raise SnapshotTimeout(missing, timeout, found)
        return found

    async def list_subscriptions(self, endpoint: Literal["public", "private"] = "public", timeout: float = 5.0) -> SubscriptionList:
        """Ask the server what it streams on the ``endpoint`` connection (LIST_SUBSCRIPTIONS)."""
        if endpoint not in self._connections:
            raise ValueError(f"endpoint must be 'public' or 'private': got {endpoint!r}")
        return await self._connections[endpoint].list_subscriptions(timeout)

    # -- observing --------------------------------------------------------------------------------

    @asynccontextmanager
    async def connection_events(self, buffer: int = 256) -> AsyncIterator[trio.MemoryReceiveChannel[ConnectionEvent]]:
        """A channel of ``ConnectionEvent``s (connected, disconnected, reconnected, gave up)."""
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise ValueError(f"buffer must be an int >= 1: got {buffer!r}")
        send, receive = trio.open_memory_channel[ConnectionEvent](buffer)
        sink = Sink(send, buffer, "strict")
        with trio.CancelScope() as scope:
            sink.cancel_scope = scope
            self._watchers.append(sink)
            try:
                yield receive
            finally:
                self._watchers.remove(sink)
                sink.close()
        if sink.failure is not None:
            raise sink.failure

    def _emit(self, event: ConnectionEvent) -> None:
        for sink in self._watchers:
            sink.deliver(event)

    def stats(self) -> SessionStats:
        """Statistics of every connection and subscription (SPEC §7)."""
        return SessionStats(
            connections={name: conn.stats() for name, conn in self._connections.items()},
            subscriptions=tuple(
                SubscriptionStats(specs, sink.delivered, sink.conflated, sink.queued, sink.overflow)
                for sink, specs in self._sinks.values()
            ),
        )

    def health(self) -> Health:
        """healthy / degraded / down, with the reasons."""
        stats = self.stats()
        used = {name: c for name, c in stats.connections.items() if c.state != "idle"}
        return summarize_health(attrs.evolve(stats, connections=used), stale_after=self.settings.heartbeat.stale_after)

    def _close(self) -> None:
        self._closed = True
        for sink, _ in list(self._sinks.values()):
            sink.close()
        for sink in list(self._watchers):
            sink.close()


def _check_specs(specs: tuple[Spec, ...]) -> tuple[Spec, ...]:
    if not specs:
        raise ValueError("subscribe() needs at least one spec, e.g. upbit_stream.ticker('KRW-BTC')")
    for spec in specs:
        if not isinstance(spec, Spec):
            raise TypeError(f"expected specs from upbit_stream.ticker(), trade(), …: got {spec!r}")
    return specs


def _connector_for(settings: Settings) -> Connector:
    """The connector ``connection.transport`` names, with the connection settings."""
    connection = settings.connection
    make = websockets_connector if connection.transport == "websockets" else trio_websocket_connector
    return make(connect_timeout=connection.connect_timeout, max_message_size=connection.max_message_size)


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
    """Open a session; connections open lazily with the first subscription of each endpoint.

    Leaving the block cancels every task, closes every connection and ends every channel.
    """
    settings = _settings_from(config)
    try:
        credentials = Credentials.resolve(access_key, secret_key, settings.auth, os.environ)
    finally:
        del access_key, secret_key  # only masked Credentials stay in this frame's locals, also on errors
    if connector is None:
        connector = _connector_for(settings)
    with single_errors():
        async with trio.open_nursery() as nursery:
            session = UpbitSession(settings, credentials, connector, nursery)
            try:
                yield session
            finally:
                session._close()
                nursery.cancel_scope.cancel()
