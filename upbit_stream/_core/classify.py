"""The error-classification table: which connection failures are retried, cooled down, or fatal.

One pure function, ``classify``, decides for every way a connection can fail. Exactly one of
its keyword arguments describes the failure.

============================================  ===================  ==========================================
Failure                                       Recovery             Why
============================================  ===================  ==========================================
HTTP 3xx on the handshake (301, 302, 307…)    fatal                redirects are never followed (credentials
                                                                   must not reach another origin): fix the URL
HTTP 401, 403                                 fatal                keys or IP refused: retrying cannot help
HTTP 400, 404 and every other 4xx             fatal                wrong URL or request
HTTP 408 (request timeout)                    retry                transient
HTTP 429 (too many requests)                  throttled            no attempt for ``throttled_cooldown``
HTTP 418 (banned after repeated 429s)         banned               no attempt for ``banned_cooldown``
HTTP 5xx (500, 502, 503, 504…)                retry                server trouble passes
other HTTP status (no 101 upgrade)            retry                a proxy or load balancer hiccup
TCP refused, reset, unreachable, DNS failure  retry                the network comes back
connect or handshake timeout                  retry                the network comes back
TLS EOF / reset during the TLS handshake      retry                a dropped connection, not a TLS verdict
TLS certificate verification failure          fatal                nobody should retry an untrusted server
close 1000, 1001, 1005, 1006 (or none)       retry                idle close, restart, dropped link
close 1011, 1012, 1013, 1014, 1015, 3xxx      retry                server trouble passes
close 1002, 1003, 1007, 1008, 1009, 1010,     fatal if repeated    retried, but after ``REPEAT_LIMIT`` such
1xxx unassigned, 4xxx                                              closes in a row without data, fatal
no pong within the deadline, a failed         retry                a dead or half-open link is replaced
staleness proof, a refused request of                              (aborted: no close handshake)
accepted streams
in-band ``INVALID_AUTH``                      fatal                the endpoint's subscribers fail with
                                                                   ``AuthenticationError``
in-band ``Too Many Requests``, ``I'm a        retry                the request is re-sent, paced by the
teapot``                                                           request limiter
in-band ``WRONG_FORMAT``, ``INVALID_PARAM``,  fatal                only for the subscribers whose own specs
``NO_CODES``, ``NO_TICKET``, ``NO_TYPE``,                          the server rejects (``admission``); the
any other name                                                     connection and the rest stay
anything else a connector, wire or frame      fatal if repeated    retried; fatal for that endpoint after
raises (a bug, a custom wire's exception)                          ``REPEAT_LIMIT`` in a row without data
============================================  ===================  ==========================================

"retry" waits the jittered exponential backoff first; every attempt also passes the session's
connect limit. "fatal" gives up at once: one attempt, then the affected subscribers' ``async with``
raises and a ``GAVE_UP`` connection event is sent.
"""

from __future__ import annotations

import enum

import attrs

from .errors import (
    AuthenticationError,
    ConnectError,
    Disconnected,
    ServerError,
    UpbitStreamError,
)

__all__ = ["REPEAT_LIMIT", "Failure", "Recovery", "classify", "describe_failure", "fatal_error"]

#: Closes classified "fatal if repeated" that end the endpoint when they come this many times in a
#: row with no data in between.
REPEAT_LIMIT = 5

#: Longest exception chain (``__cause__`` / ``__context__``) searched for the root failure.
_CHAIN_DEPTH = 16

_RETRY_CLOSES = frozenset({1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 1015})
_RATE_ERRORS = frozenset({"Too Many Requests", "TOO_MANY_REQUESTS", "I'm a teapot"})


class Recovery(enum.StrEnum):
    """What the session does after a failure."""

    RETRY = "retry"
    THROTTLED = "throttled"
    BANNED = "banned"
    FATAL = "fatal"
    FATAL_IF_REPEATED = "fatal if repeated"


def classify(
    *,
    status: int | None = None,
    close_code: int | None = None,
    closed: bool = False,
    server_error: str | None = None,
    error: BaseException | None = None,
) -> Recovery:
    """The recovery for one failure, per the table in this module's docstring.

    Give exactly one of: ``status`` (the HTTP status of a refused handshake), ``closed=True`` with
    ``close_code`` (the peer's close code, ``None`` when no close frame came), ``server_error``
    (the ``name`` of an in-band error frame) or ``error`` (an OS, TLS or timeout exception, searched
    through its ``__cause__`` / ``__context__`` chain).
    """
    given = sum((status is not None, closed or close_code is not None, server_error is not None, error is not None))
    if given != 1:
        raise TypeError("classify() takes exactly one of status=, close_code=/closed=, server_error=, error=")
    if status is not None:
        return _by_status(status)
    if server_error is not None:
        return _by_server_error(server_error)
    if error is not None:
        return _by_error(error)
    return _by_close_code(close_code)


def _by_status(status: int) -> Recovery:
    if status == 429:
        return Recovery.THROTTLED
    if status == 418:
        return Recovery.BANNED
    if status == 408:
        return Recovery.RETRY
    if 300 <= status < 500:
        return Recovery.FATAL
    return Recovery.RETRY


def _by_close_code(code: int | None) -> Recovery:
    if code is None or code in _RETRY_CLOSES or 3000 <= code < 4000:
        return Recovery.RETRY
    return Recovery.FATAL_IF_REPEATED


def _by_server_error(name: str) -> Recovery:
    return Recovery.RETRY if name in _RATE_ERRORS else Recovery.FATAL


def _by_error(error: BaseException) -> Recovery:
    seen: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(seen) < _CHAIN_DEPTH:
        exc = pending.pop()
        if any(exc is s for s in seen):
            continue
        seen.append(exc)
        if _is_untrusted_certificate(exc):
            return Recovery.FATAL
        pending.extend(e for e in (exc.__context__, exc.__cause__) if e is not None)
    return Recovery.RETRY


def _is_untrusted_certificate(exc: BaseException) -> bool:
    """``ssl.SSLCertVerificationError`` (alias ``ssl.CertificateError``), told by name: the core imports no ``ssl``."""
    return any(cls.__name__ == "SSLCertVerificationError" and cls.__module__ == "ssl" for cls in type(exc).__mro__)


def fatal_error(failure: Exception, *, private: bool) -> UpbitStreamError:
    """The error a fatal ``failure`` raises from the affected subscribers' ``async with``.

    Refused credentials (in-band ``INVALID_AUTH``, HTTP 401/403 on the private endpoint) become
    ``AuthenticationError``; other library errors stay as they are.
    """
    if isinstance(failure, ServerError) and failure.name == "INVALID_AUTH":
        return AuthenticationError(str(failure))
    if private and isinstance(failure, ConnectError) and failure.status in (401, 403):
        return AuthenticationError(f"{failure}: the server refused the API keys")
    if isinstance(failure, UpbitStreamError):
        return failure
    return ConnectError(str(failure))


@attrs.frozen
class Failure:
    """Why a connection or a connection attempt ended, and the recovery the table gives it.

    ``error`` is what the endpoint's subscribers receive if the failure turns out fatal; it holds
    a message only (no traceback, no chained exceptions that could carry credentials).
    """

    reason: str
    recovery: Recovery
    error: UpbitStreamError


def describe_failure(exc: BaseException, *, private: bool) -> Failure:
    """Classify whatever ended a connection (attempt): our own errors by the table, anything else as unknown."""
    reason = str(exc) or exc.__class__.__name__
    if isinstance(exc, Disconnected):
        recovery = classify(closed=True, close_code=exc.code)
    elif isinstance(exc, ConnectError):
        recovery = classify(status=exc.status) if exc.status is not None else classify(error=exc)
    elif isinstance(exc, ServerError):
        recovery = classify(server_error=exc.name)
    elif isinstance(exc, AuthenticationError):  # no keys, or keys that cannot be signed
        recovery = Recovery.FATAL
    else:  # a bug, or a custom wire's own exception: retried, but not forever
        reason = f"unexpected {exc.__class__.__name__}: {exc}".rstrip(": ")
        recovery = Recovery.FATAL_IF_REPEATED
        return Failure(reason, recovery, ConnectError(reason))
    return Failure(reason, recovery, _surfaced(fatal_error(exc, private=private)))


def _surfaced(error: UpbitStreamError) -> UpbitStreamError:
    """A copy of ``error`` carrying its message and fields but no traceback or exception chain."""
    if isinstance(error, ConnectError):
        copy: UpbitStreamError = error.__class__(str(error), status=error.status)
    elif isinstance(error, ServerError):
        copy = ServerError(error.name, error.message)
    elif isinstance(error, Disconnected):
        copy = Disconnected(error.reason, error.code)
    elif type(error) is AuthenticationError or type(error) is UpbitStreamError:
        copy = error.__class__(str(error))
    else:
        return error
    return copy
