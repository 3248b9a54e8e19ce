"""How an endpoint protocol takes frames in: decoding, counting, and routing each event to its subscribers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .admission import RequestKind
from .all_events import EVENT_CLASSES
from .codec import ErrorFrame, SubscriptionList, decode
from .demand import Key, event_key, truncated
from .enums import StreamType
from .errors import ProtocolError
from .events import MyAsset, Orderbook
from .info_events import Announcement, Indicator, IndicatorSignal
from .outputs import Finish, Note

if TYPE_CHECKING:
    from .admission import Admission
    from .demand import Subscriber, SubscriptionBook
    from .liveness import Liveness
    from .outputs import Notice
    from .reconnect import Reconnection
    from .silence import IndicatorSilence
    from .stats import LatencyWindow, RateWindow

__all__ = ["Traffic"]

_EVENT_TYPES = frozenset(EVENT_CLASSES.values())
#: Events keyed by (type, code) alone.
_FLAT = frozenset(cls for cls in _EVENT_TYPES if cls not in (Orderbook, Indicator, IndicatorSignal, Announcement, MyAsset))
_SNAPSHOT = StreamType.SNAPSHOT
_Frame = bytes | str  # spelled here: inside the class, ``bytes`` is the byte counts


class Traffic:
    """Mixed into ``EndpointProtocol``: ``frames_received``.

    REALTIME events of a key go where ``SubscriptionBook.live`` says, looked up once per key and
    call; SNAPSHOTs, orders, announcements, ``/info`` and events during a probe go through
    ``SubscriptionBook.route`` one by one.
    """

    # provided by EndpointProtocol
    endpoint: str
    book: SubscriptionBook
    admission: Admission
    reconnection: Reconnection
    messages: dict[str, int]
    bytes: dict[str, int]
    protocol_errors: int
    attention: bool
    _notices: list[Notice]
    _liveness: Liveness
    _rate: RateWindow
    _latency: LatencyWindow
    _silence: IndicatorSilence

    def unsubscribe(self, sub: Subscriber, now: float) -> None: ...
    def _on_error(self, frame: ErrorFrame, now: float) -> None: ...
    def _on_list(self, reply: SubscriptionList, now: float) -> None: ...

    def frames_received(self, frames: Sequence[_Frame], now: float, wall: float) -> dict[Any, list[Any]]:
        """Decode frames received together, route their events, judge control messages.

        Returns each target's events in wire order (a target appears once).
        """
        out: dict[Any, list[Any]] = {}
        messages, sizes = self.messages, self.bytes
        # A probe's verdict and /info's silence watch look at every event: those take the one-by-one path.
        careful = (self.admission.pending is not None and self.admission.pending.kind is RequestKind.PROBE
                   or self.endpoint == "info")
        events = 0
        last = None
        event_types, flat, snapshot = _EVENT_TYPES, _FLAT, _SNAPSHOT
        senders: dict[Key, Callable[[Any], None]] = {}  # per key: where its REALTIME events go in this call
        send: Callable[[Any], None] | None = None  # the sender of the last flat REALTIME key, for a run of it
        send_type, send_code = "", ""
        run_type, run_events, run_bytes = "", 0, 0  # counted per run of one type, added to the totals after it
        for frame in frames:
            try:
                decoded = decode(frame)
            except ProtocolError as exc:
                self.protocol_errors += 1
                self._notices.append(Note(logging.DEBUG, f"{self.endpoint}: skipped a frame: {exc}"))
                continue
            size = len(frame)  # counted with the frame's first event
            for message in decoded:
                cls = message.__class__
                if cls not in event_types:
                    if isinstance(message, ErrorFrame):
                        self._on_error(message, now)
                    elif isinstance(message, SubscriptionList):
                        self._on_list(message, now)
                    continue
                type_: str = message.type  # type: ignore[union-attr, assignment]  # an event: type is set
                if type_ != run_type:
                    if run_events:
                        messages[run_type] = messages.get(run_type, 0) + run_events
                        sizes[run_type] = sizes.get(run_type, 0) + run_bytes
                        events += run_events
                    run_type, run_events, run_bytes = type_, 0, 0
                run_events += 1
                run_bytes += size
                size = 0
                last = message
                if careful or message.stream_type is snapshot:  # type: ignore[union-attr]
                    self._route_one(message, event_key(message), now, out)
                    senders.clear()  # a SNAPSHOT may have let its subscribers in (or finished them)
                    send = None
                    continue
                if cls in flat:
                    code: str = message.code  # type: ignore[union-attr]
                    if send is None or code != send_code or type_ != send_type:  # a run of one key: looked up once
                        send, send_type, send_code = self._send_for((type_, code, None), senders, now, out), type_, code
                    send(message)
                else:
                    self._send_for(event_key(message), senders, now, out)(message)
        if run_events:
            messages[run_type] = messages.get(run_type, 0) + run_events
            sizes[run_type] = sizes.get(run_type, 0) + run_bytes
            events += run_events
            self._liveness.data(now)
            self._rate.add(now, events)
            self.reconnection.data(now)
            self._latency.add(wall * 1000.0 - last.timestamp)  # type: ignore[union-attr]  # an event: required
        return out

    def _send_for(self, key: Key, senders: dict[Key, Callable[[Any], None]], now: float,
                  out: dict[Any, list[Any]]) -> Callable[[Any], None]:
        """``key``'s sender in this call, made on first use."""
        send = senders.get(key)
        if send is None:
            send = senders[key] = self._sender(key, now, out)
        return send

    def _sender(self, key: Key, now: float, out: dict[Any, list[Any]]) -> Callable[[Any], None]:
        """What to do with ``key``'s REALTIME events in one ``frames_received`` call."""
        targets = self.book.live.get(key)
        if targets is None:
            targets = self.book.live_targets(key)
        if targets is None:
            return lambda message: self._route_one(message, key, now, out)
        sinks = [(out.setdefault(target, []), depth) for target, depth in targets]
        if len(sinks) == 1 and sinks[0][1] is None:
            return sinks[0][0].append
        def send(message: Any) -> None:
            for sink, depth in sinks:
                sink.append(message if depth is None else truncated(message, depth))
        return send

    def _route_one(self, message: Any, key: Key, now: float, out: dict[Any, list[Any]]) -> None:
        """Route one event the careful way: probes' evidence, /info's silence, snapshots, orders."""
        if self.endpoint == "info":
            self._silence.spoke(key)
        admission = self.admission
        if admission.pending is not None and admission.pending.kind is RequestKind.PROBE:
            admission.saw_data(key, now)
            self.attention = True
        routed, finished = self.book.route(message, key)
        for target, event in routed:
            out.setdefault(target, []).append(event)
        for sub in finished:
            self.unsubscribe(sub, now)
            self._notices.append(Finish(sub.target))
