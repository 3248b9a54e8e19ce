"""The connector seam: what a WebSocket transport gives the session, and the failure mapping all transports share."""

from __future__ import annotations

import ipaddress
import math
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

import trio

from .._config.auth import MaskedHeaders
from .._core.errors import ConfigError, ConnectError, Disconnected, RateLimitedError

__all__ = [
    "CLOSE_TIMEOUT", "HEAD_LIMIT", "MAX_FRAGMENTS", "Connector", "Disconnected", "OpenStream", "Target", "Wire",
    "check_url",
    "closed", "closing", "connect_failure", "open_byte_stream", "described", "handshake_refused", "masked", "peer_close_code_valid",
    "response_status", "trust_context",
]

#: Longest wait for the peer to answer our close frame before the socket is closed anyway.
CLOSE_TIMEOUT = 2.0

#: Most frames one message may arrive in. Beyond it the connection is closed with 1009 (message too
#: big) and the wire raises ``Disconnected``: thousands of tiny fragments cost far more memory and
#: time than their bytes (a message of 4 MiB in 1-byte fragments is 4 million list entries).
MAX_FRAGMENTS = 4096

#: Longest HTTP response head (status line and headers) a connector reads before giving up.
HEAD_LIMIT = 16 * 1024


class Wire(Protocol):
    """An open WebSocket as the session uses it.

    A wire may also have ``receive_ready(limit: int) -> list[bytes | str]``, returning at once
    up to ``limit`` messages it has already received (maybe none). The session then reads in
    batches; wires without it are read one message at a time. Both bundled wires have it.

    ``receive`` returns the messages received before the end, then raises ``Disconnected`` as soon
    as the peer's close frame arrives (with its code), or the stream ends or breaks (code ``None``:
    lost without a close frame); it does not wait for the TCP close. When we closed first (1009 for
    a message over ``max_message_size`` or in more than ``MAX_FRAGMENTS`` frames, 1007 for text
    that is not UTF-8, 1002 for a protocol error), the code is ours. Hostile input never raises
    anything but ``Disconnected`` from a wire.
    """

    async def send(self, message: str | bytes) -> None:
        """Send one message (text for ``str``, binary for ``bytes``); raises ``Disconnected``."""

    async def receive(self) -> bytes | str:
        """Receive the next message; raises ``Disconnected``."""
        ...

    async def ping(self) -> None:
        """Send a ping frame and return when its pong arrives; raises ``Disconnected``.

        If the connection ends while waiting, ``Disconnected`` is raised then: ``ping`` never hangs
        on a closed connection (it does wait, like anyone would, on a silent one).
        """


#: ``connector(url, headers)`` opens a connection as an async context manager yielding a ``Wire``.
#: It raises ``ConnectError`` (``RateLimitedError`` for 429/418) when the attempt fails, at once
#: when the server drops the handshake (not after the connect timeout). Leaving the block normally
#: closes with a close frame (1000), bounded by ``CLOSE_TIMEOUT``; leaving it cancelled (a dead
#: peer, the session aborting) closes the socket at once with no close handshake. ``headers`` may
#: hold credentials: connectors never log them or keep them where a traceback would show them
#: (they mask them on entry with ``masked``; the request bytes live only in frames that are gone
#: before any error can be raised). Unexpected exceptions never leave a connector: an attempt
#: fails with ``ConnectError``, an open connection with ``Disconnected``.
Connector = Callable[[str, Sequence[tuple[str, str]]], AbstractAsyncContextManager[Wire]]


#: ``open_stream(host, port)``: the byte stream a connector speaks over (TLS is added on top for
#: ``wss://``). The default is ``trio.open_tcp_stream``; tests pass in-memory streams (virtual time).
OpenStream = Callable[[str, int], Awaitable[trio.abc.Stream]]


def trust_context(ca_file: str) -> ssl.SSLContext | None:
    """The TLS context trusting ``ca_file``'s authorities (``connection.ca_file``); None (the system's) when empty."""
    if not ca_file:
        return None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError("connection.ca_file", ca_file,
                          f"a readable PEM file of certificate authorities ({reason})") from None


async def open_byte_stream(target: Target, context: ssl.SSLContext | None, open_stream: OpenStream) -> trio.abc.Stream:
    """TCP, then TLS for ``wss://`` (completed here, so that its failures surface at once).

    Failures are ``ConnectError`` (``connect_failure``); a stream that fails is closed at once.
    """
    try:
        stream = await open_stream(target.host, target.port)
    except OSError as exc:
        raise connect_failure(exc) from exc
    if not target.secure:
        return stream
    tls = trio.SSLStream(stream, context or ssl.create_default_context(), server_hostname=target.host,
                         https_compatible=True)
    try:
        await tls.do_handshake()
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(tls)
        raise connect_failure(exc) from exc  # the cause tells a certificate verdict from a reset
    except BaseException:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(tls)
        raise
    return tls


@asynccontextmanager
async def closing(close: Callable[[int | None], Awaitable[None]]) -> AsyncIterator[None]:
    """Run the block, then ``close(code)`` shielded: 1000 after a normal exit, 1011 after an error,
    ``None`` (abort, no close handshake) when the block was left cancelled."""
    code = 1011  # internal error, unless the block ends normally
    try:
        yield
        code = 1000
    finally:
        graceful = trio.current_effective_deadline() != -math.inf  # not cancelled
        with trio.CancelScope(shield=True):
            await close(code if graceful else None)


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
    """The ``Disconnected`` for a connection that ended with close ``code``.

    ``code`` is ``None`` when the connection was lost without a close frame (EOF, reset, broken
    TLS): what RFC 6455 calls 1006, a code no close frame may carry.
    """
    if code is None:
        return Disconnected(f"connection lost without a close frame{f': {reason}' if reason else ''}", None)
    return Disconnected(f"connection closed: {code} {reason or ''}".strip(), code)


def masked(headers: Sequence[tuple[str, str]]) -> MaskedHeaders:
    """``headers`` as ``MaskedHeaders`` (values hidden from reprs, so from traceback locals)."""
    return headers if isinstance(headers, MaskedHeaders) else MaskedHeaders(headers)


def described(exc: BaseException) -> str:
    """``"ClassName: message"`` of an exception, for an error raised without chaining it.

    Failures after the request was written are reported this way: the chained traceback would
    show the frames that held the request bytes, ``Authorization`` header included.
    """
    text = str(exc)
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def peer_close_code_valid(code: int) -> bool:
    """Whether a peer may send close ``code`` (RFC 6455 7.4 and the IANA registry: 1012-1014 too)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def response_status(head: bytes | bytearray) -> int | None:
    """The status of an HTTP response whose head (up to the blank line) is in ``head``, else ``None``.

    Connectors use it to refuse a non-101 answer as soon as its head is in, without waiting for a
    body the server may never finish. Raises ``ConnectError`` if the head is not HTTP or too long.
    """
    end = head.find(b"\r\n\r\n")
    if end < 0:
        if len(head) > HEAD_LIMIT:
            raise ConnectError(f"handshake failed: HTTP response head over {HEAD_LIMIT} bytes")
        if len(head) >= 5 and not head.startswith(b"HTTP/"):
            raise ConnectError("handshake failed: the answer is not HTTP")
        return None
    parts = bytes(head[: head.find(b"\r\n")]).split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise ConnectError("handshake failed: the answer is not HTTP")
    return int(parts[1])
