"""The trio-websocket connector (the only importer of trio_websocket), through its public API and a FrameWatch."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import NamedTuple

import trio
import trio_websocket

from .._config.auth import MaskedHeaders
from .._core.errors import ConnectError, Disconnected
from .frame_watch import FrameWatch
from .seam import (
    CLOSE_TIMEOUT,
    MAX_FRAGMENTS,
    Connector,
    OpenStream,
    Target,
    Wire,
    closed,
    closing,
    described,
    masked,
    open_byte_stream,
)

__all__ = ["trio_websocket_connector"]

#: Bytes trio-websocket asks of the stream per read (its default is 4 KiB).
RECEIVE_SIZE = 64 * 1024
_GONE = (trio.BrokenResourceError, trio.ClosedResourceError)


class _Options(NamedTuple):
    max_message_size: int
    message_queue_size: int
    max_fragments: int
    open_stream: OpenStream


class _TrioWebsocketWire:
    """``Wire`` over a trio-websocket connection; its close codes are read off the wire by the ``FrameWatch``.

    A pump task moves messages from trio-websocket into a channel of our own, so that
    ``receive_ready`` can take what has arrived without waiting. Without a ``watch`` (a
    connection made elsewhere; prefer ``trio_websocket_connector(open_stream=...)``), no pump
    runs: ``receive`` reads trio-websocket directly, ``receive_ready`` has nothing, close codes
    are trio-websocket's and ``ping`` may wait on a closed connection.
    """

    def __init__(self, ws: trio_websocket.WebSocketConnection, watch: FrameWatch | None = None,
                 queue_size: int = 0) -> None:
        self._ws = ws
        self._watch = watch
        self._in, self._out = trio.open_memory_channel[bytes | str](queue_size)
        self._pings: set[trio.CancelScope] = set()
        if watch is not None:
            watch.on_end = self._end

    async def pump(self) -> None:
        """Move messages into our channel until the connection ends (run in the connection's nursery).

        At the end, and before ``receive`` learns of it, a close frame trio-websocket owes the
        peer is sent.
        """
        async with self._in:
            try:
                while True:
                    message = await self._ws.get_message()
                    try:
                        self._in.send_nowait(message)  # no second checkpoint per message
                    except trio.WouldBlock:
                        await self._in.send(message)
            except (trio_websocket.ConnectionClosed, *_GONE):
                pass
            with trio.move_on_after(CLOSE_TIMEOUT):
                await self.answer_close()
        self._end()

    async def answer_close(self) -> None:
        """Send the close frame trio-websocket failed to send: the echo of a valid code it rejected
        (1014), or the code it failed the connection with (1002, 1007) without telling the peer."""
        watch, reason = self._watch, self._ws.closed
        if watch is None or watch.our_close is not None or watch.lost:
            return
        peer = watch.peer_close
        try:
            if peer is not None and peer.code is not None:
                await watch.send_close(peer.code)
            elif reason is not None and reason.code not in (1000, 1005, 1006):
                await watch.send_close(reason.code, reason.reason or "")
        except _GONE:
            pass

    async def send(self, message: str | bytes) -> None:
        try:
            await self._ws.send_message(message)
        except trio_websocket.ConnectionClosed:
            raise self._disconnected() from None

    async def receive(self) -> bytes | str:
        if self._watch is None:
            try:
                return await self._ws.get_message()
            except trio_websocket.ConnectionClosed:
                raise self._disconnected() from None
        try:
            return await self._out.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise self._disconnected() from None

    def receive_ready(self, limit: int) -> list[bytes | str]:
        """Up to ``limit`` messages already received, taken at once (maybe none)."""
        taken: list[bytes | str] = []
        while len(taken) < limit:
            try:
                taken.append(self._out.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        return taken

    async def ping(self) -> None:
        """trio-websocket's ping, given up (``Disconnected``) when the connection ends meanwhile."""
        if self._watch is not None and self._watch.ended:
            raise self._disconnected()
        answered = False
        with trio.CancelScope() as scope:  # cancelled by _end
            self._pings.add(scope)
            try:
                await self._ws.ping()
                answered = True
            except trio_websocket.ConnectionClosed:
                pass
            finally:
                self._pings.discard(scope)
        if not answered:
            raise self._disconnected()

    def _end(self) -> None:
        for scope in self._pings:
            scope.cancel()

    def _disconnected(self) -> Disconnected:
        """Ours if we closed first, else the peer's (as sent, 1014 too); ``None`` without a close frame."""
        watch = self._watch
        if watch is None:
            reason = self._ws.closed
            code = None if reason is None or reason.code == 1006 else reason.code
            return closed(code, reason.reason if reason is not None else "")
        first, ours = watch.first_close, watch.our_close
        if first is not None and first.code is not None:
            return closed(first.code, first.reason or ("closed by us" if first.ours else ""))
        if ours is not None and ours.code is not None:  # our answer to a malformed close frame
            return closed(ours.code, ours.reason or "closed by us")
        reason = self._ws.closed  # a failure we could not tell the peer about
        if reason is not None and reason.code not in (1000, 1005, 1006):
            return closed(reason.code, reason.reason or "closed by us")
        return closed(None, watch.failure)


def trio_websocket_connector(
    *,
    connect_timeout: float = 10.0,
    max_message_size: int = 4 * 1024 * 1024,
    ssl_context: ssl.SSLContext | None = None,
    message_queue_size: int = 64,
    max_fragments: int = MAX_FRAGMENTS,
    open_stream: OpenStream | None = None,
) -> Connector:
    """A ``Connector`` using trio-websocket, TLS verified with ``ssl_context`` (default: system CAs)."""
    options = _Options(max_message_size, message_queue_size, max_fragments, open_stream or trio.open_tcp_stream)

    @asynccontextmanager
    async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[Wire]:
        headers = masked(headers)  # from here on, this frame shows no header value
        target = Target.parse(url)
        try:
            async with trio.open_nursery() as nursery:
                opened = None
                with trio.move_on_after(connect_timeout):
                    opened = await _open(nursery, target, headers, ssl_context, options)
                if opened is None:
                    raise ConnectError(f"no handshake within {connect_timeout:g} s")
                stream, watch, ws = opened
                wire = _TrioWebsocketWire(ws, watch, message_queue_size)
                nursery.start_soon(wire.pump)
                try:
                    async with closing(functools.partial(_close, ws, stream)):
                        yield wire
                finally:
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            leaf = _single(group)
            if leaf is None:
                raise
            raise leaf from leaf.__cause__  # as itself: its cause tells a certificate verdict from a reset

    return connect


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception in ``group`` that is not a cancellation, if there is exactly one."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        elif not isinstance(exc, trio.Cancelled):
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else None


async def _close(ws: trio_websocket.WebSocketConnection, stream: trio.abc.Stream, code: int | None) -> None:
    """The close handshake with ``code`` (at most ``CLOSE_TIMEOUT``), then the socket; ``None``: just the socket."""
    if code is not None:
        with trio.move_on_after(CLOSE_TIMEOUT):
            await ws.aclose(code)
    await trio.aclose_forcefully(stream)  # cancelled at once: never blocks


async def _open(
    nursery: trio.Nursery, target: Target, headers: MaskedHeaders, ssl_context: ssl.SSLContext | None,
    options: _Options,
) -> tuple[trio.abc.Stream, FrameWatch, trio_websocket.WebSocketConnection]:
    """TCP, then TLS (completed here, so that its failures surface at once), then the HTTP upgrade."""
    stream = await open_byte_stream(target, ssl_context, options.open_stream)
    try:
        watch = FrameWatch(stream, max_fragments=options.max_fragments)
        ws = await nursery.start(_run, watch, target, headers, options)
        if ws is None:
            raise watch.handshake_error()
        return stream, watch, ws
    except BaseException:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)  # cancelled at once: never blocks
        raise


async def _run(
    watch: FrameWatch, target: Target, headers: MaskedHeaders, options: _Options, *,
    task_status: trio.TaskStatus[trio_websocket.WebSocketConnection | None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """trio-websocket's connection, its reader task in a nursery of its own; ``None`` is started if the upgrade fails.

    Whatever its reader raises ends the connection (``watch`` says why) instead of the session.
    """
    started = False
    try:
        async with trio.open_nursery() as inner:
            ws = await _upgrade(inner, watch, target, headers, options)
            if ws is None:
                inner.cancel_scope.cancel()
            started = True
            task_status.started(ws)
    except Exception as exc:  # noqa: BLE001 - trio-websocket's failure, never the session's
        leaf = _single(exc) if isinstance(exc, BaseExceptionGroup) else exc
        watch.failure = watch.failure or f"trio-websocket failed: {described(leaf or exc)}"
        watch.lost = True
        watch.on_end()
    if not started:
        task_status.started(None)


async def _upgrade(
    nursery: trio.Nursery, watch: FrameWatch, target: Target, headers: MaskedHeaders, options: _Options,
) -> trio_websocket.WebSocketConnection | None:
    """The HTTP upgrade; ``None`` as soon as the stream is lost or refused before the 101."""
    ws = None
    with trio.CancelScope() as handshake:
        watch.on_end = lambda: handshake.cancel() if watch.lost else None
        try:
            ws = await trio_websocket.wrap_client_stream(
                nursery, watch, target.host_header, target.resource,  # type: ignore[arg-type]
                extra_headers=_encoded(headers), message_queue_size=options.message_queue_size,
                max_message_size=options.max_message_size, receive_buffer_size=RECEIVE_SIZE,
            )
        except BaseException as exc:  # noqa: BLE001 - its traceback would show the request: cut it
            raise exc.with_traceback(None)
    watch.on_end = lambda: None
    return None if handshake.cancelled_caught else ws


def _encoded(headers: MaskedHeaders) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in headers]
