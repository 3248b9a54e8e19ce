"""The trio-websocket connector (the only importer of trio_websocket)."""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import trio
import trio_websocket

from .._core.errors import ConnectError
from .seam import CLOSE_TIMEOUT, Connector, Target, Wire, closed, connect_failure, handshake_refused

__all__ = ["trio_websocket_connector"]


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
            leaf = real[0] if real else _leaves(group)[0]
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
