"""The WebSocket edge: the connector seam and its trio-websocket implementation (the only importer)."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Protocol
from urllib.parse import urlsplit

import trio
import trio_websocket

from ._errors import ConnectError, RateLimitedError

__all__ = ["Connector", "Disconnected", "Wire", "check_url", "trio_websocket_connector"]


class Disconnected(Exception):
    """The connection ended (closed by the peer, reset, or broken); ``code`` is the close code."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class Wire(Protocol):
    """An open WebSocket as the session uses it."""

    async def send(self, message: str | bytes) -> None:
        """Send one message (text for ``str``, binary for ``bytes``); raises ``Disconnected``."""

    async def receive(self) -> bytes | str:
        """Receive the next message; raises ``Disconnected``."""

    async def ping(self) -> None:
        """Send a ping frame and return when its pong arrives; raises ``Disconnected``."""


#: ``connector(url, headers)`` opens a connection as an async context manager yielding a ``Wire``.
#: It raises ``ConnectError`` (``RateLimitedError`` for 429/418) when the attempt fails.
Connector = Callable[[str, Sequence[tuple[str, str]]], AbstractAsyncContextManager[Wire]]


def check_url(url: str, *, private: bool) -> None:
    """Refuse URLs that are not WebSocket URLs, and plain ``ws://`` to a non-loopback private host."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConnectError(f"not a WebSocket URL: {url!r} (expected ws:// or wss://)")
    if private and parts.scheme == "ws" and not _is_loopback(parts.hostname):
        raise ConnectError(
            f"refusing to send credentials over unencrypted {url!r}; use wss:// (ws:// is allowed on loopback only)"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _TrioWebsocketWire:
    """``Wire`` over a trio-websocket connection."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self._ws = ws

    async def send(self, message: str | bytes) -> None:
        try:
            await self._ws.send_message(message)
        except trio_websocket.ConnectionClosed as exc:
            raise _disconnected(exc) from None

    async def receive(self) -> bytes | str:
        try:
            return await self._ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            raise _disconnected(exc) from None

    async def ping(self) -> None:
        try:
            await self._ws.ping()
        except trio_websocket.ConnectionClosed as exc:
            raise _disconnected(exc) from None


def _disconnected(exc: trio_websocket.ConnectionClosed) -> Disconnected:
    reason = exc.reason
    code = getattr(reason, "code", None)
    text = getattr(reason, "reason", None) or getattr(reason, "name", None) or "connection closed"
    return Disconnected(f"closed by peer: {code} {text}".strip(), code)


def trio_websocket_connector(
    *,
    connect_timeout: float = 10.0,
    max_message_size: int = 4 * 1024 * 1024,
    ssl_context: ssl.SSLContext | None = None,
    message_queue_size: int = 64,
) -> Connector:
    """A ``Connector`` using trio-websocket, TLS verified with ``ssl_context`` (default: system CAs)."""

    @asynccontextmanager
    async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[Wire]:
        context = ssl_context
        if url.startswith("wss://") and context is None:
            context = ssl.create_default_context()
        async with AsyncExitStack() as stack:
            try:
                ws = await stack.enter_async_context(
                    trio_websocket.open_websocket_url(
                        url,
                        ssl_context=context,
                        extra_headers=list(headers),
                        message_queue_size=message_queue_size,
                        max_message_size=max_message_size,
                        connect_timeout=connect_timeout,
                        disconnect_timeout=2.0,
                    )
                )
            except trio_websocket.ConnectionRejected as exc:
                raise _rejected(exc.status_code) from None
            except trio_websocket.ConnectionTimeout:
                raise ConnectError(f"no handshake within {connect_timeout} s") from None
            except trio_websocket.HandshakeError as exc:
                raise ConnectError(f"handshake failed: {exc}") from None
            except ssl.SSLCertVerificationError as exc:
                raise ConnectError(f"TLS certificate not trusted: {exc.verify_message}") from None
            except (OSError, trio.BrokenResourceError) as exc:
                raise ConnectError(f"cannot connect: {_os_reason(exc)}") from None
            yield _TrioWebsocketWire(ws)

    return connect


def _rejected(status: int) -> ConnectError:
    if status in (429, 418):
        what = "too many requests" if status == 429 else "temporarily banned after repeated 429s"
        return RateLimitedError(f"handshake refused with HTTP {status} ({what})", status=status)
    return ConnectError(f"handshake refused with HTTP {status}", status=status)


def _os_reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, trio.BrokenResourceError) and cause is not None:
        exc = cause
    return f"{exc.__class__.__name__}: {exc}"
