"""The WebSocket edge: the connector seam, its shared failure mapping, and the trio-websocket connector."""

from __future__ import annotations

import ipaddress
import math
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

import trio
import trio_websocket

from ._errors import ConnectError, RateLimitedError
from ._groups import first_error

__all__ = [
    "CLOSE_TIMEOUT", "Connector", "Disconnected", "Target", "Wire", "check_url", "closed", "connect_failure",
    "handshake_refused", "trio_websocket_connector",
]

#: Longest wait for the peer to answer our close frame before the socket is closed anyway.
CLOSE_TIMEOUT = 2.0


class Disconnected(Exception):
    """The connection ended (closed by the peer, reset, or broken); ``code`` is the close code."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class Wire(Protocol):
    """An open WebSocket as the session uses it.

    A wire may also have ``receive_ready(limit: int) -> list[bytes | str]``, returning at once
    up to ``limit`` messages it has already received (maybe none). The session then reads in
    batches; wires without it are read one message at a time. Both bundled wires have it.
    """

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


class Target(NamedTuple):
    """Where a WebSocket URL points: TCP host and port, TLS or not, HTTP ``Host`` and resource."""

    host: str
    port: int
    secure: bool
    host_header: str
    resource: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        secure = parts.scheme == "wss"
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if secure else 80)
        except ValueError:
            raise ConnectError(f"not a WebSocket URL: {url!r} (bad port)") from None
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if port == (443 if secure else 80) else f"{shown}:{port}"
        resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(host, port, secure, host_header, resource)


def handshake_refused(status: int) -> ConnectError:
    """The error for a handshake answered with HTTP ``status``: ``RateLimitedError`` for 429/418."""
    if status in (429, 418):
        what = "too many requests" if status == 429 else "temporarily banned after repeated 429s"
        return RateLimitedError(f"handshake refused with HTTP {status} ({what})", status=status)
    return ConnectError(f"handshake refused with HTTP {status}", status=status)


def connect_failure(exc: BaseException) -> ConnectError:
    """The error for a TCP or TLS failure: refused, reset, closed mid-handshake, untrusted certificate."""
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in seen and len(seen) < 8:
        if isinstance(link, ssl.SSLCertVerificationError):
            return ConnectError(f"TLS certificate not trusted: {link.verify_message or link}")
        seen.append(link)
        link = link.__cause__ or link.__context__
    inner = exc
    if isinstance(exc, trio.BrokenResourceError) and len(seen) > 1:
        inner = seen[1]  # trio wraps what the socket or TLS layer said, e.g. SSLEOFError
    return ConnectError(f"cannot connect: {inner.__class__.__name__}: {inner}")


def closed(code: int | None, reason: str | None) -> Disconnected:
    """The ``Disconnected`` for a connection that ended with close ``code`` (1006: no close frame)."""
    return Disconnected(f"connection closed: {code} {reason or ''}".strip(), code)


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

    def receive_ready(self, limit: int) -> list[bytes | str]:
        """Up to ``limit`` messages trio-websocket has already received, taken without waiting."""
        channel = getattr(self._ws, "_recv_channel", None)
        taken: list[bytes | str] = []
        if isinstance(channel, trio.MemoryReceiveChannel):
            while len(taken) < limit:
                try:
                    taken.append(channel.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
        return taken

    async def ping(self) -> None:
        try:
            await self._ws.ping()
        except trio_websocket.ConnectionClosed as exc:
            raise _disconnected(exc) from None


def _disconnected(exc: trio_websocket.ConnectionClosed) -> Disconnected:
    reason = exc.reason
    code = getattr(reason, "code", None)
    return closed(code, getattr(reason, "reason", None) or getattr(reason, "name", None))


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
        target = Target.parse(url)
        try:
            async with trio.open_nursery() as nursery:
                with trio.move_on_after(connect_timeout) as deadline:
                    ws, stream = await _open(nursery, target, headers, ssl_context, message_queue_size,
                                             max_message_size)
                if deadline.cancelled_caught:
                    raise ConnectError(f"no handshake within {connect_timeout:g} s")
                try:
                    yield _TrioWebsocketWire(ws)
                finally:
                    await _close(ws)
                    await trio.aclose_forcefully(stream)  # cancelled at once: never blocks
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            real = [leaf for leaf in _leaves(group) if not isinstance(leaf, trio.Cancelled)]
            if len(real) > 1:
                raise
            leaf = real[0] if real else first_error(group)
            if isinstance(leaf, trio_websocket.ConnectionRejected):  # raised by trio-websocket's reader task
                raise handshake_refused(leaf.status_code) from None
            raise leaf  # as itself, its __cause__ kept (it tells a certificate verdict from a reset)

    return connect


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


async def _close(ws: trio_websocket.WebSocketConnection) -> None:
    """The close handshake (at most ``CLOSE_TIMEOUT``); when cancelled, just the socket's close.

    Cancelled, the reader task that would see the peer's answer is cancelled too: waiting is futile.
    """
    if trio.current_effective_deadline() == -math.inf:
        await trio.aclose_forcefully(ws)  # cancelled at once: never blocks
        return
    with trio.CancelScope(shield=True, deadline=trio.current_time() + CLOSE_TIMEOUT):
        await ws.aclose()


async def _open(
    nursery: trio.Nursery, target: Target, headers: Sequence[tuple[str, str]], ssl_context: ssl.SSLContext | None,
    message_queue_size: int, max_message_size: int,
) -> tuple[trio_websocket.WebSocketConnection, trio.abc.Stream]:
    """TCP, then TLS (completed here, so that its failures surface at once), then the HTTP upgrade.

    The stream is returned too: a close answered by the peer leaves it to us to close.
    """
    stream: trio.abc.Stream | None = None
    try:
        stream = await trio.open_tcp_stream(target.host, target.port)
        if target.secure:
            context = ssl_context if ssl_context is not None else ssl.create_default_context()
            stream = trio.SSLStream(stream, context, server_hostname=target.host, https_compatible=True)
            await stream.do_handshake()
        ws = await trio_websocket.wrap_client_stream(
            nursery, stream, target.host_header, target.resource,  # type: ignore[arg-type]
            extra_headers=[(k.encode(), v.encode()) for k, v in headers],
            message_queue_size=message_queue_size, max_message_size=max_message_size,
        )
        return ws, stream
    except BaseException as exc:
        if stream is not None:
            await trio.aclose_forcefully(stream)  # cancelled at once: never blocks
        if isinstance(exc, (OSError, trio.BrokenResourceError)):
            raise connect_failure(exc) from exc  # the cause tells a certificate verdict from a reset
        if isinstance(exc, trio_websocket.HandshakeError):
            raise ConnectError(f"handshake failed: {exc!r}") from None
        raise
