"""The connector seam: what a WebSocket transport gives the session, and the failure mapping all transports share."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

import trio

from .._core.errors import ConnectError, Disconnected, RateLimitedError

__all__ = [
    "CLOSE_TIMEOUT", "Connector", "Disconnected", "Target", "Wire", "check_url", "closed", "connect_failure",
    "handshake_refused",
]

#: Longest wait for the peer to answer our close frame before the socket is closed anyway.
CLOSE_TIMEOUT = 2.0


class Wire(Protocol):
    """An open WebSocket as the session uses it.

    A wire may also have ``receive_ready(limit: int) -> list[bytes | str]``, returning at once
    up to ``limit`` messages it has already received (maybe none). The session then reads in
    batches; wires without it are read one message at a time. Both bundled wires have it.

    ``receive`` raises ``Disconnected`` as soon as the peer's close frame arrives (with its code),
    or the stream ends or breaks (code ``None``); it does not wait for the TCP close.
    """

    async def send(self, message: str | bytes) -> None:
        """Send one message (text for ``str``, binary for ``bytes``); raises ``Disconnected``."""

    async def receive(self) -> bytes | str:
        """Receive the next message; raises ``Disconnected``."""

    async def ping(self) -> None:
        """Send a ping frame and return when its pong arrives; raises ``Disconnected``."""


#: ``connector(url, headers)`` opens a connection as an async context manager yielding a ``Wire``.
#: It raises ``ConnectError`` (``RateLimitedError`` for 429/418) when the attempt fails, at once
#: when the server drops the handshake (not after the connect timeout). Leaving the block normally
#: closes with a close frame (1000), bounded by ``CLOSE_TIMEOUT``; leaving it cancelled (a dead
#: peer, the session aborting) closes the socket at once with no close handshake. ``headers`` may
#: hold credentials: connectors never log them or keep them where a traceback would show them.
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
