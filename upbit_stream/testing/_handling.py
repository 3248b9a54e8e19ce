"""Request handling of the fake exchange: the request log, limits, auth, parsing, refusals, subscriptions, snapshots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._core.encode import encode_event
from .._core.enums import StreamType
from ._requests import ParsedRequest, RequestError, list_subscriptions_frame, parse_request

if TYPE_CHECKING:
    from ._connection import Connection

__all__ = ["REFUSAL_CLOSE", "STATUS_UP", "RequestHandling", "RequestRecord"]

STATUS_UP = b'{"status":"UP"}'
#: How ``/info`` closes a connection after refusing a request (Upbit's code is not documented).
REFUSAL_CLOSE = (1008, "Request refused")


@attrs.frozen
class RequestRecord:
    """One entry of the request log: a handshake, a PING, a request message or a close, and what it caused.

    ``endpoint`` is ``"public"``, ``"private"`` or ``"info"``;
    ``kind`` is ``"handshake"``, ``"ping"``, ``"message"`` or ``"close"``; ``status`` is the HTTP status
    of a handshake (101 accepted), or the close code of a connection the client ended (1006: it went
    without a close frame); ``request`` the parsed request; ``error`` the error answered; ``detail``
    why a handshake was refused or why the server closed (``"idle"``, ``"refusal"``: ``/info`` after an error);
    ``header_names`` the lower-case names of a handshake's HTTP headers (never their values);
    ``deflate`` the permessage-deflate parameters an accepted handshake agreed (None: uncompressed).
    """

    time: float
    connection: int
    endpoint: str
    kind: str
    raw: str | bytes | None = None
    request: ParsedRequest | None = None
    error: RequestError | None = None
    status: int | None = None
    detail: str | None = None
    header_names: tuple[str, ...] = ()
    deflate: str | None = None


class RequestHandling:
    """Mixed into ``FakeUpbit``: what the exchange does with each client message."""

    # provided by FakeUpbit
    counters: Any
    server_errors: list[BaseException]
    categories: tuple[str, ...]
    market: Any
    _refused_streams: dict[tuple[str, str], RequestError]
    _replay_frames: list[Any]
    replayed_snapshot: Any
    _first_request: trio.Event
    _record: Any
    now_ms: Any
    codes: Any
    unknown_codes: str

    def _refusal_of(self, request: ParsedRequest) -> RequestError | None:
        """The error ``refuse_stream()`` set for a stream ``request`` asks for, if any."""
        if self._refused_streams:
            for part in request.types:
                for code in part.codes or ("",):
                    refusal = self._refused_streams.get((part.type, code))
                    if refusal is not None:
                        return refusal
        return None

    def _on_message(self, conn: Connection, message: str | bytes) -> None:
        now = trio.current_time()
        if message in ("PING", b"PING"):
            conn.queue.put(STATUS_UP, data=False, force=True)
            self._record(RequestRecord(now, conn.id, conn.endpoint, "ping", message))
            return
        if conn.close_after_send is not None:  # closing after a refusal: nothing more is read
            return
        conn.requests += 1
        parsed: ParsedRequest | RequestError
        limited = conn.limiter.check(now)
        if limited == 418:
            self.counters.teapot_messages += 1
            parsed = RequestError("I'm a teapot")
        elif limited is not None:
            self.counters.rate_limited_messages += 1
            parsed = RequestError("TOO_MANY_REQUEST" if conn.endpoint == "info" else "Too Many Requests")
        elif conn.auth_error is not None:
            parsed = RequestError("INVALID_AUTH")
        else:
            try:
                parsed = parse_request(message, conn.endpoint, self.codes(), self.categories, self.unknown_codes)
                if isinstance(parsed, ParsedRequest):
                    parsed = self._refusal_of(parsed) or parsed
                if isinstance(parsed, ParsedRequest):
                    self._apply(conn, parsed)
            except Exception as exc:  # never let a request crash the server
                self.server_errors.append(exc)
                parsed = RequestError("WRONG_FORMAT")
        if isinstance(parsed, RequestError):
            if conn.endpoint == "info":
                conn.refuse_and_close(parsed.frame(), *REFUSAL_CLOSE)
            else:
                conn.queue.put(parsed.frame(), data=False, force=True)
            self._record(RequestRecord(now, conn.id, conn.endpoint, "message", message, error=parsed))
        else:
            self._record(RequestRecord(now, conn.id, conn.endpoint, "message", message, request=parsed))
        self._first_request.set()

    def _apply(self, conn: Connection, request: ParsedRequest) -> None:
        if request.format is not None:
            conn.format = request.format
        if request.method == "LIST_SUBSCRIPTIONS":
            conn.queue.put(list_subscriptions_frame(request.ticket, conn.types, conn.format), data=False,
                           force=True)
            return
        conn.subscribe(request.types)
        now_ms = self.now_ms()
        for t in request.types:
            if not t.snapshot or t.type in ("myOrder", "myAsset"):
                continue
            for code, depth in zip(t.codes, t.depths):
                if self._replay_frames:  # the market is the recording: snapshot its latest event, if any yet
                    event = self.replayed_snapshot(t.type, code, depth, t.level)
                    if event is None:
                        continue
                elif t.type == "orderbook":
                    if not self.market.level_supported(code, t.level):
                        continue
                    event = self.market.orderbook(code, now_ms, depth, t.level, StreamType.SNAPSHOT)
                elif code in self.market:
                    event = self.market.snapshot_events(t.type, [code], now_ms)[0]
                else:
                    continue
                conn.queue.put(encode_event(event, conn.format), force=True)
