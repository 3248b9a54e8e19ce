"""The websockets connector (the only importer of websockets besides its wire): TCP, TLS, handshake and close.

websockets supplies the sans-I/O protocol (``websockets.client.ClientProtocol``: handshake checks,
framing, UTF-8 and size limits, ping/pong and close state); trio supplies the bytes
(``trio.open_tcp_stream``, ``trio.SSLStream``); ``websockets_wire.ProtocolWire`` drives the one
over the other. No compression, redirects, proxies or keepalive of websockets' own: heartbeats
are the session's (``Wire.ping``).
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import trio
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidURI
from websockets.http11 import Response
from websockets.uri import parse_uri

from .._config.auth import MaskedHeaders
from .._core.errors import ConnectError, Disconnected
from .seam import (
    CLOSE_TIMEOUT,
    MAX_FRAGMENTS,
    Connector,
    OpenStream,
    Target,
    Wire,
    closing,
    described,
    handshake_refused,
    masked,
    open_byte_stream,
    response_status,
)
from .websockets_wire import RECEIVE_SIZE, ProtocolWire

__all__ = ["websockets_connector"]


class _Headerless(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' logger without its header lines: headers may carry credentials or cookies."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg in ("> %s: %s", "< %s: %s"):
            return
        super().log(level, msg, *args, **kwargs)


_LOGGER = _Headerless(logging.getLogger("websockets.client"))
_GONE = (trio.BrokenResourceError, trio.ClosedResourceError)


def websockets_connector(
    *,
    connect_timeout: float = 10.0,
    max_message_size: int = 4 * 1024 * 1024,
    ssl_context: ssl.SSLContext | None = None,
    max_queue: int = 64,
    max_fragments: int = MAX_FRAGMENTS,
    open_stream: OpenStream | None = None,
) -> Connector:
    """A ``Connector`` on websockets' sans-I/O protocol, TLS verified with ``ssl_context`` (default: system CAs)."""
    options = _Options(max_message_size, max_queue, max_fragments, open_stream or trio.open_tcp_stream)

    @asynccontextmanager
    async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[Wire]:
        headers = masked(headers)  # from here on, this frame shows no header value
        target = Target.parse(url)
        opened = None
        with trio.move_on_after(connect_timeout):
            opened = await _open(url, target, headers, ssl_context, options)
        if opened is None:
            raise ConnectError(f"no handshake within {connect_timeout:g} s")
        stream, wire = opened
        async with closing(functools.partial(_close, wire, stream)):
            yield wire

    return connect


class _Options(NamedTuple):
    max_message_size: int
    max_queue: int
    max_fragments: int
    open_stream: OpenStream


async def _open(
    url: str, target: Target, headers: MaskedHeaders, context: ssl.SSLContext | None, options: _Options,
) -> tuple[trio.abc.Stream, ProtocolWire]:
    """TCP, then TLS (completed here, so that its failures surface at once), then the HTTP upgrade."""
    try:
        protocol = ClientProtocol(parse_uri(url), max_size=options.max_message_size, logger=_LOGGER)
    except InvalidURI as exc:
        raise ConnectError(f"not a WebSocket URL: {exc}") from None
    stream = await open_byte_stream(target, context, options.open_stream)
    try:
        await _send_request(stream, protocol, target, headers)
        early = await _receive_response(stream, protocol)
        wire = ProtocolWire(stream, protocol, max_queue=options.max_queue, max_fragments=options.max_fragments,
                            early=early)
        try:
            await wire.flush()  # a pong or close echo for frames that came with the 101
        except Disconnected:
            pass  # the wire says so on first use
        return stream, wire
    except BaseException:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)  # cancelled at once: never blocks
        raise


def _request_bytes(protocol: ClientProtocol, target: Target, headers: MaskedHeaders) -> bytes:
    """The upgrade request, credentials included: only this frame (gone on return) sees it whole."""
    request = protocol.connect()
    for name, value in headers:
        request.headers[name] = value
    _LOGGER.debug("> GET %s HTTP/1.1 (headers not logged)", target.resource)
    return request.serialize()


async def _send_request(stream: trio.abc.Stream, protocol: ClientProtocol, target: Target,
                        headers: MaskedHeaders) -> None:
    """Write the request; a failure is reported without the frames that held its bytes."""
    try:
        await stream.send_all(_request_bytes(protocol, target, headers))
        return
    except _GONE as exc:
        failure = described(exc.__cause__ or exc)
    except BaseException as exc:  # noqa: BLE001 - cancelled, most likely: it goes on, its traceback cut here
        raise exc.with_traceback(None)
    raise ConnectError(f"cannot connect: {failure}")


async def _receive_response(stream: trio.abc.Stream, protocol: ClientProtocol) -> bytes:
    """Read the answer until its head is in; give the protocol that head only; return the bytes after it.

    A non-101 status is refused as soon as the head is in (no waiting for a body). A 101 has no
    body, so the protocol is OPEN after the head and holds no byte of the frames that may have
    come in the same read: those go to the wire, which frames them itself (its fast path).
    """
    head = bytearray()  # bounded: response_status refuses a head over HEAD_LIMIT
    while True:
        try:
            data = await stream.receive_some(RECEIVE_SIZE)
        except _GONE as exc:
            raise ConnectError(f"handshake failed: {described(exc.__cause__ or exc)}") from None
        if not data:
            raise ConnectError("handshake failed: the server closed the connection before answering")
        head += data
        status = response_status(head)
        if status is None:
            continue
        if status != 101:
            raise handshake_refused(status)
        end = head.find(b"\r\n\r\n") + 4
        protocol.receive_data(bytes(head[:end]))
        events = protocol.events_received()
        if protocol.handshake_exc is not None:
            raise _handshake_error(protocol.handshake_exc)
        if not (events and isinstance(events[0], Response)):  # a 101 head is a whole response
            raise ConnectError("handshake failed: the 101 answer was not understood")
        return bytes(head[end:])


def _handshake_error(exc: Exception) -> ConnectError:
    if isinstance(exc, InvalidHandshake) and exc.__cause__ is not None and isinstance(exc.__cause__, EOFError):
        return ConnectError("handshake failed: the server closed the connection before answering")
    return ConnectError(f"handshake failed: {described(exc)}")


async def _close(wire: ProtocolWire, stream: trio.abc.Stream, code: int | None) -> None:
    """The close handshake with ``code`` (at most ``CLOSE_TIMEOUT``), then the socket; ``None``: just the socket.

    ``None`` is for a block left cancelled: a dead peer or an aborting session, whose answer
    is not worth waiting for.
    """
    if code is not None:
        with trio.move_on_after(CLOSE_TIMEOUT):
            await wire.close(code)
    await trio.aclose_forcefully(stream)  # cancelled at once: never blocks
