"""The exception hierarchy of upbit_stream: every error the library raises on purpose.

::

    UpbitStreamError
    ├── ConfigError              a setting, file or argument is invalid (also a ValueError)
    ├── AuthenticationError      no keys for a private stream, or the server said INVALID_AUTH
    ├── ProtocolError            a frame that is not Upbit JSON (carries a short excerpt)
    ├── ServerError              the server answered a request with {"error": {name, message}}
    ├── ConnectError             a connection attempt failed (refused, timeout, TLS, HTTP status)
    │   └── RateLimitedError     HTTP 429 / 418 on the handshake: the session cools down
    ├── Disconnected             an open connection ended (close frame, reset, EOF); raised by wires
    ├── SlowConsumerError        a "strict" subscriber fell behind its buffer
    └── SnapshotTimeout          session.snapshot() did not get every code in time

Control results of the codec (``Status``, ``ErrorFrame``, ``SubscriptionList``) are values, not
exceptions; ``ServerError`` is what a subscriber sees when an ``ErrorFrame`` concerns its request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConnectError",
    "Disconnected",
    "ProtocolError",
    "RateLimitedError",
    "ServerError",
    "SlowConsumerError",
    "SnapshotTimeout",
    "UpbitStreamError",
]


class UpbitStreamError(Exception):
    """Base class of every error raised by upbit_stream."""


class ConfigError(UpbitStreamError, ValueError):
    """A configuration value is invalid; the message names the key, the value and the expected form."""

    def __init__(self, key: str, value: object, expected: str, source: str | None = None) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        self.source = source  # the file (and/or "environment") the value came from, when known
        where = f" (in {source})" if source else ""
        super().__init__(f"{key} = {value!r} is invalid: expected {expected}{where}")


class AuthenticationError(UpbitStreamError):
    """Private streams cannot be used: keys are missing, or the server rejected them."""


class ProtocolError(UpbitStreamError):
    """A server frame could not be understood; ``excerpt`` holds its first bytes."""

    def __init__(self, message: str, frame: bytes | str = b"") -> None:
        self.excerpt = _excerpt(frame)
        super().__init__(f"{message}: {self.excerpt!r}" if self.excerpt else message)


#: What Upbit's documented error names mean (its messages are Korean); shown after the message.
SERVER_ERROR_MEANINGS: dict[str, str] = {
    "INVALID_AUTH": "the API keys are missing, wrong, or the token was refused",
    "WRONG_FORMAT": "the request is not in the form Upbit expects",
    "NO_TICKET": "the request has no ticket",
    "NO_TYPE": "a type object has no type",
    "NO_CODES": "a type that needs market codes got none",
    "INVALID_PARAM": "a value in the request is not supported, such as an unknown market code or category",
    "Too Many Requests": "too many requests on this connection: sent again after a pause",
    "TOO_MANY_REQUESTS": "too many requests on this connection: sent again after a pause",
    "TOO_MANY_REQUEST": "too many requests, or more than 100 indicator combinations",
    "I'm a teapot": "requests are blocked for a while after repeated excess",
}


class ServerError(UpbitStreamError):
    """The server answered a request with an error frame (``WRONG_FORMAT``, ``NO_CODES``, …).

    ``str()`` adds what a documented ``name`` means after Upbit's (Korean) ``message``.
    """

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        meaning = SERVER_ERROR_MEANINGS.get(name)
        super().__init__(f"{name}: {message}" + (f" ({meaning})" if meaning else ""))


class ConnectError(UpbitStreamError):
    """A connection attempt failed; ``status`` is the HTTP status of a rejected handshake, if any."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class RateLimitedError(ConnectError):
    """The server refused the handshake with 429 (too many requests) or 418 (temporarily banned)."""


class Disconnected(UpbitStreamError):
    """An open connection ended; ``code`` is the WebSocket close code (``None``: no close frame).

    Wires (the connector seam) raise it from ``send``, ``receive`` and ``ping``; the session
    classifies it by ``code`` and reconnects. Subscribers never see it.
    """

    def __init__(self, reason: str, code: int | None = None) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class SlowConsumerError(UpbitStreamError):
    """A ``"strict"`` subscription's buffer was full; ``missed`` events could not be delivered."""

    def __init__(self, missed: int, buffer: int) -> None:
        self.missed = missed
        self.buffer = buffer
        super().__init__(
            f"subscriber fell behind: {missed} event(s) did not fit its buffer of {buffer}; "
            "read faster, raise buffer=, or use overflow='latest'"
        )


class SnapshotTimeout(UpbitStreamError):
    """``session.snapshot()`` timed out; ``missing`` names the codes that never arrived.

    ``found`` maps each code that did arrive to its event, so a caller can retry only ``missing``.
    """

    def __init__(self, missing: tuple[str, ...], timeout: float, found: Mapping[str, Any] | None = None) -> None:
        self.missing = missing
        self.timeout = timeout
        self.found = dict(found or {})
        super().__init__(f"no snapshot within {timeout} s for: {', '.join(missing)}")


def _excerpt(frame: bytes | str, limit: int = 80) -> str:
    """Return the first ``limit`` characters of ``frame`` as text, marking a cut with an ellipsis."""
    if isinstance(frame, (bytes, bytearray, memoryview)):
        text = bytes(frame[: limit * 4]).decode("utf-8", "replace")
    else:
        text = str(frame)
    return text if len(text) <= limit else text[:limit] + "…"
