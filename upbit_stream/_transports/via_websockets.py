"""The websockets.trio connector (the only importer of websockets): framing, ping/pong and close by websockets."""

from __future__ import annotations

import logging
import math
import ssl
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import trio
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.trio.client import ClientConnection
from websockets.trio.client import connect as _websockets_connect

from .._core.errors import ConnectError
from .seam import (
    CLOSE_TIMEOUT,
    Connector,
    Target,
    Wire,
    closed,
    connect_failure,
    handshake_refused,
)

__all__ = ["websockets_connector"]

#: Request headers whose values websockets' DEBUG log would show: they carry credentials.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class _RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' own logger, with the values of credential headers replaced by ``<hidden>``."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if (len(args) == 2 and isinstance(args[0], str) and args[0].lower() in _SECRET_HEADERS
                and isinstance(msg, str) and msg.endswith("%s: %s")):
            args = (args[0], "<hidden>")
        super().log(level, msg, *args, **kwargs)


class _Connect(_websockets_connect):
    """websockets' ``connect`` that never follows a redirect: the status is reported, as with trio-websocket."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


class _WebsocketsWire:
    """``Wire`` over a websockets.trio connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._assembler = _assembler_of(ws)

    async def send(self, message: str | bytes) -> None:
        try:
            await self._ws.send(message)
        except ConnectionClosed as exc:
            raise _disconnected(exc) from None

    async def receive(self) -> bytes | str:
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            raise _disconnected(exc) from None

    def receive_ready(self, limit: int) -> list[bytes | str]:
        """Up to ``limit`` whole messages websockets has already received, taken without waiting.

        Text arrives as ``bytes`` when it is ASCII (the codec takes bytes). Stops before a
        fragmented message or a text message that is not UTF-8: ``receive`` takes those
        (websockets fails the connection with 1007 for the latter).
        """
        assembler = self._assembler
        if assembler is None or assembler.get_in_progress:
            return []
        waiting = assembler.recv_frames._state.data  # read the way websockets' flow control reads it
        taken: list[bytes | str] = []
        while waiting and len(taken) < limit:
            frame = waiting[0]
            if not frame.fin:
                break
            message: bytes | str = bytes(frame.data)
            if frame.opcode is Opcode.TEXT and not message.isascii():  # ASCII is UTF-8: no need to decode it
                try:
                    message = message.decode()
                except UnicodeDecodeError:
                    break
            waiting.popleft()
            taken.append(message)
        if taken:
            assembler.maybe_resume()
        return taken

    async def ping(self) -> None:
        try:
            pong = await self._ws.ping(ack_on_close=True)
            await pong.wait()
        except ConnectionClosed as exc:
            raise _disconnected(exc) from None
        if self._ws.state is not State.OPEN:  # woken by the close, not by a pong
            await self._ws.wait_closed()
            raise _disconnected(self._ws.close_exc)


def _assembler_of(ws: ClientConnection) -> Any:
    """websockets' queue of received frames, if this websockets version keeps it where 17.x does."""
    assembler = getattr(ws, "recv_messages", None)
    frames = getattr(assembler, "recv_frames", None)
    state = getattr(frames, "_state", None)
    usable = (isinstance(getattr(state, "data", None), deque) and hasattr(assembler, "maybe_resume")
              and hasattr(assembler, "get_in_progress"))
    return assembler if usable else None


def _disconnected(exc: ConnectionClosed) -> Exception:
    """Our close code is the one that ended the connection: ours if we failed it, else the peer's."""
    if exc.sent is not None and (exc.rcvd is None or not exc.rcvd_then_sent):
        return closed(exc.sent.code, exc.sent.reason or "closed by us")
    if exc.rcvd is not None:
        return closed(exc.rcvd.code, exc.rcvd.reason)
    return closed(1006, "no close frame")


async def _drain(ws: ClientConnection) -> None:
    """Read and drop messages until the connection is closed."""
    try:
        while True:
            await ws.recv()
    except ConnectionClosed:
        return


def websockets_connector(
    *,
    connect_timeout: float = 10.0,
    max_message_size: int = 4 * 1024 * 1024,
    ssl_context: ssl.SSLContext | None = None,
) -> Connector:
    """A ``Connector`` using websockets.trio, TLS verified with ``ssl_context`` (default: system CAs).

    Heartbeats are the session's (``Wire.ping``), so websockets' keepalive is off; so are
    compression, redirects and proxies, as with the trio-websocket connector.
    """
    logger = _RedactingLogger(logging.getLogger("websockets.client"))

    @asynccontextmanager
    async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[Wire]:
        target = Target.parse(url)
        context = ssl_context
        if target.secure and context is None:
            context = ssl.create_default_context()
        async with AsyncExitStack() as stack:
            try:
                client = _Connect(
                    url, ssl=context, additional_headers=list(headers), compression=None, proxy=None,
                    open_timeout=connect_timeout, ping_interval=None, ping_timeout=None,
                    close_timeout=CLOSE_TIMEOUT, max_size=max_message_size, max_queue=64, logger=logger,
                )
                ws = await stack.enter_async_context(client)
            except InvalidStatus as exc:
                raise handshake_refused(exc.response.status_code) from None
            except TimeoutError:
                raise ConnectError(f"no handshake within {connect_timeout:g} s") from None
            except InvalidURI as exc:
                raise ConnectError(f"not a WebSocket URL: {exc}") from None
            except (InvalidHandshake, ConnectionClosed) as exc:
                raise ConnectError(f"handshake failed: {exc}") from None
            except (OSError, trio.BrokenResourceError) as exc:
                raise connect_failure(exc) from exc  # the cause tells a certificate verdict from a reset
            code = 1011  # internal error, unless the block ends normally
            try:
                yield _WebsocketsWire(ws)
                code = 1000
            finally:
                await _close(ws, code)

    return connect


async def _close(ws: ClientConnection, code: int) -> None:
    """The close handshake (websockets bounds it by ``close_timeout``), then let websockets' reader end.

    websockets.trio 17.4 pauses its reader while the incoming queue is full and never resumes it
    once closed, so after a close whose answer sat behind unread frames, leaving ``connect``
    would wait forever for that reader (the bug websockets#1555 fixed for asyncio only).
    When cancelled, websockets closes the socket at once itself and cancels its reader.
    """
    if trio.current_effective_deadline() != -math.inf:
        with trio.CancelScope(shield=True, deadline=trio.current_time() + 2 * CLOSE_TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_drain, ws)  # so that the peer's answer is read, not waited out
                await ws.aclose(code)
                nursery.cancel_scope.cancel()
    paused = ws.recv_flow_control
    if paused is not None:
        paused.set()
