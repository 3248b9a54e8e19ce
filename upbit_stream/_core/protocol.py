"""``EndpointProtocol``: everything one endpoint's connection decides, as a pure state machine.

No trio and no I/O (think h11's ``Connection``): a driver feeds it what happens — subscriptions,
connection made or lost, frames received, pongs, time passing — and carries out what it asks:

* ``poll(now)`` returns commands (send this request, ping, end the connection) and
  ``next_wakeup()`` says when to poll again;
* ``frames_received(...)`` returns each target's events (``protocol_traffic``);
* ``take_notices()`` drains failures, finishes, gap markers, query answers, connection events and
  log lines for the driver to pass on.

Rules live in their own modules (``demand``, ``admission``, ``liveness``, ``classify``, ``policies``,
``schedule``, ``reconnect``); this one joins them: one pending request at a time, and statistics.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from typing import Any

import attrs

from .admission import Admission, RequestKind
from .classify import Failure, Recovery, fatal_error
from .codec import ErrorFrame, SubscriptionList
from .demand import Key, Subscriber, SubscriptionBook
from .errors import ConnectError, ServerError, UpbitStreamError
from .all_events import EVENT_CLASSES
from .liveness import Liveness
from .outputs import Command, Deliver, End, Fail, Note, Notice, Ping, Send
from .policies import WINDOW_MARGIN, ConnectGate
from .protocol_config import ProtocolConfig
from .queries import Queries, missing_streams
from .reconnect import ConnectionState, new_reconnection
from .schedule import RequestSchedule
from .protocol_observation import Observation
from .protocol_traffic import Traffic
from .silence import IndicatorSilence
from .specs import Spec
from .stats import LatencyWindow, RateWindow

__all__ = ["ConnectionState", "EndpointProtocol", "ProtocolConfig"]

_EVENT_TYPES = frozenset(EVENT_CLASSES.values())
_THROTTLE_ERRORS = frozenset({"Too Many Requests", "TOO_MANY_REQUESTS", "TOO_MANY_REQUEST"})  # the last: /info
#: How soon after an error frame a close counts as /info's documented close-after-refusal.
_REFUSAL_CLOSE = 2.0
_BAN_ERROR = "I'm a teapot"
#: After an error frame, no request for this long: a duplicated error frame then matches nothing.
SETTLE = 0.25
#: A verdict window is at least this long, and at least ``RTT_FACTOR`` round trips.
ADMISSION_FLOOR = 0.5
RTT_FACTOR = 4.0
#: Pause after an in-band ``Too Many Requests`` before the request is sent again.
THROTTLE_PAUSE = 1.0 + WINDOW_MARGIN


class EndpointProtocol(Traffic, Observation):
    """The connection logic of one endpoint (``public`` or ``private``)."""

    def __init__(self, endpoint: str, config: ProtocolConfig, gate: ConnectGate,
                 rng: random.Random | None = None) -> None:
        self.endpoint = endpoint
        self.config = config
        self.book = SubscriptionBook()
        self.admission = Admission()
        self._gate = gate
        self._rng = rng if rng is not None else random.Random()
        self._schedule = RequestSchedule(per_second=config.requests_per_second, per_minute=config.requests_per_minute,
                                         debounce=config.debounce, format=config.format, rng=self._rng)
        self.reconnection = new_reconnection(
            endpoint, gate, self._rng, initial_delay=config.initial_delay, max_delay=config.max_delay,
            min_attempt_gap=config.min_attempt_gap, healthy_after=config.healthy_after,
            throttled_cooldown=config.throttled_cooldown, banned_cooldown=config.banned_cooldown)
        self._liveness = Liveness(config.ping_interval, config.pong_timeout, config.stale_after)
        self._notices: list[Notice] = []
        self._gap_targets: dict[int, Any] = {}
        self.attention = False  # something arrived that the next ``poll`` must look at
        self._ending: End | None = None
        self._empty_since: float | None = None
        self._suspect_error: ServerError | None = None
        self._refused_at: float | None = None  # when the last error frame arrived (/info closes after one)
        self._silence = IndicatorSilence()
        self._queries = Queries()
        # statistics
        self.messages: dict[str, int] = {}
        self.bytes: dict[str, int] = {}
        self.protocol_errors = 0
        self.unmatched_errors = 0
        self._rate = RateWindow()
        self._latency = LatencyWindow()

    # -- subscriptions ------------------------------------------------------------------------

    def subscribe(self, specs: Sequence[Spec[Any]], target: Any, now: float, *, gaps: bool = False) -> Subscriber:
        """Add a subscriber for ``specs``; its events go to ``target``."""
        sub = self.book.add(specs, target)
        self._silence.wanted(sub.interests, now)
        if gaps:
            self._gap_targets[sub.id] = target
        self.reconnection.retry_now()
        self._changed(now)
        return sub

    def unsubscribe(self, sub: Subscriber, now: float) -> None:
        """Remove a subscriber; removing it twice is harmless."""
        if sub in self.book:
            self.book.remove(sub)
            self._changed(now)
        self._gap_targets.pop(sub.id, None)

    def _changed(self, now: float) -> None:
        self._schedule.changed(now)
        self._empty_since = now if not self.book else None
        self.attention = True

    # -- connection lifecycle -----------------------------------------------------------------

    def next_attempt_at(self, now: float) -> float | None:
        """When the next connection attempt may start (None: no connection wanted, or one is open)."""
        return self.reconnection.next_attempt_at(now, bool(self.book))

    def attempt_started(self, now: float) -> None:
        """A connection attempt starts at ``now`` (it passed the session's connect gate)."""
        self.reconnection.attempt_started(now)

    def connection_made(self, now: float, wall: float) -> None:
        """The attempt succeeded: the connection is open at ``now`` (``wall``: ``time.time()``)."""
        made = self.reconnection.made(now, wall)
        self._ending = None
        self._schedule.new_connection()
        self._schedule.changed(now)  # the first request gathers what arrives within the debounce window
        self._empty_since = now if not self.book else None
        self.book.reset_connection()
        self.admission.new_connection()
        self._liveness.connected(now)
        self._rate.reset(now)
        self._notices.append(made.event)
        if made.gap is not None:
            for sub in self.book.subscribers:
                target = self._gap_targets.get(sub.id)
                if target is not None:
                    self._notices.append(Deliver(target, made.gap))
        self._notices.append(Note(logging.INFO, f"{self.endpoint} connected"))
        self.attention = True

    def connection_lost(self, failure: Failure, now: float, wall: float) -> None:
        """The connection (or the attempt) ended with ``failure``; plan the recovery."""
        if (self.endpoint == "info" and self._refused_at is not None and now - self._refused_at <= _REFUSAL_CLOSE
                and failure.recovery is not Recovery.FATAL):
            # /info closes every connection whose request it refused: expected, never a step towards giving up
            failure = attrs.evolve(failure, reason=f"closed after refusing a request ({failure.reason})",
                                   recovery=Recovery.RETRY)
        self._refused_at = None
        self._notices += self._queries.close(
            f"the {self.endpoint} connection ended before the server answered ({failure.reason})")
        lost = self.reconnection.lost(failure, now, wall)
        self._notices.extend(lost.events)
        if lost.fatal is not None:
            self._notices.append(Note(logging.WARNING, f"{self.endpoint} connection gave up: {lost.fatal}"))
            for sub in self.book.subscribers:
                self.unsubscribe(sub, now)
                self._notices.append(Fail(sub.target, lost.fatal))
        else:
            self._notices.append(Note(logging.INFO, f"{self.endpoint} connection lost ({failure.reason}); "
                                                    f"retrying in {lost.delay:.2f} s"))

    def connection_closed(self, now: float, wall: float) -> None:
        """The connection was closed politely because nobody subscribes any more."""
        self._notices += self._queries.close(f"the {self.endpoint} connection closed: no subscribers")
        self._notices.append(self.reconnection.closed(wall))
        self._notices.append(Note(logging.INFO, f"{self.endpoint} connection closed: no subscribers"))

    # -- traffic ------------------------------------------------------------------------------

    def pong_received(self, now: float) -> None:
        """The pong of the last ``Ping`` arrived."""
        self._liveness.pong(now)

    def _accept_pending(self, now: float) -> None:
        suspect = self.admission.accept()
        if suspect is not None:
            error = self._suspect_error or ServerError("INVALID_PARAM", "rejected")
            self._suspect_error = None
            self._reject_key(suspect, error, now)

    def _on_error(self, frame: ErrorFrame, now: float) -> None:
        self.attention = True
        self._refused_at = now  # /info closes after any error frame it sends: that close is expected
        pending = self.admission.pending
        described = f"{frame.name}: {frame.message}"
        if pending is not None and pending.evidence_at is not None:  # proven accepted: not its error
            self._accept_pending(now)
            pending = None
        if pending is None:
            self.unmatched_errors += 1
            self._notices.append(Note(logging.WARNING, f"{self.endpoint}: server error matching no request "
                                                       f"(ignored): {described}"))
            return
        if frame.name in _THROTTLE_ERRORS or frame.name == _BAN_ERROR:
            pause = THROTTLE_PAUSE if frame.name in _THROTTLE_ERRORS else self.config.throttled_cooldown
            self._notices.append(Note(logging.WARNING, f"{self.endpoint}: request refused ({described}); "
                                                       f"sending it again in {pause:g} s"))
            if pending.kind is RequestKind.QUERY:
                self._queries.again(pending.purpose)
            else:
                self.book.forget_requests(pending.keys)
            self.admission.requeue()
            self._schedule.pause(now + pause)
            return
        self._schedule.pause(now + SETTLE)
        if frame.name == "INVALID_AUTH" and self.endpoint != "public":
            error = fatal_error(ServerError(frame.name, frame.message), private=True)
            self._end(Failure(described, Recovery.FATAL, error), abort=False)
            return
        if pending.kind is RequestKind.QUERY:
            self.admission.pending = None
            self._notices += self._queries.answer(ServerError(frame.name, frame.message))
            if pending.purpose == "proof":
                self._end(Failure(f"LIST_SUBSCRIPTIONS refused: {described}", Recovery.RETRY,
                                  ConnectError(f"LIST_SUBSCRIPTIONS refused: {described}")), abort=True)
            return
        self.book.forget_requests(pending.keys)
        outcome = self.admission.reject()
        if isinstance(outcome, str):
            reason = f"{outcome} ({described})"
            self._end(Failure(reason, Recovery.RETRY, ConnectError(reason)), abort=True)
        elif outcome is not None:
            self._reject_key(outcome, ServerError(frame.name, frame.message), now)
        elif self.admission.suspect is not None:
            self._suspect_error = ServerError(frame.name, frame.message)
        else:
            self._notices.append(Note(logging.INFO, f"{self.endpoint}: request refused ({described}); "
                                                    "narrowing down which streams the server rejects"))

    def _reject_key(self, key: Key, error: ServerError, now: float) -> None:
        what = " ".join(str(part) for part in key if part not in ("", None))
        # INFO: the subscribers receive the error in-band; a warning too would report it twice
        self._notices.append(Note(logging.INFO, f"{self.endpoint}: the server rejects {what}: {error}"))
        for sub in self.book.subscribers_of(key):
            self.unsubscribe(sub, now)
            self._notices.append(Fail(sub.target, error))
        self.admission.forget((key,))

    def _on_list(self, reply: SubscriptionList, now: float) -> None:
        pending = self.admission.pending
        if pending is None or pending.kind is not RequestKind.QUERY:
            self._notices.append(Note(logging.DEBUG, f"{self.endpoint}: a LIST_SUBSCRIPTIONS reply nobody asked for"))
            return
        self.attention = True
        self.admission.pending = None
        self._notices += self._queries.answer(reply)
        if pending.purpose == "proof":
            missing = missing_streams(self.admission.server_signature or (), reply)
            if missing:
                reason = f"quiet for {self._liveness.quiet_for(now):.0f} s and no longer streaming {missing}"
                self._end(Failure(reason, Recovery.RETRY, ConnectError(reason)), abort=True)
            else:
                self._liveness.proved(now)
                self._notices.append(Note(logging.DEBUG, f"{self.endpoint}: quiet but alive and subscribed"))

    def ask_subscriptions(self) -> int:
        """Queue a LIST_SUBSCRIPTIONS query for a user; its ``QueryAnswer`` notice carries this number."""
        self.attention = True
        return self._queries.ask()

    def forget_query(self, query: int) -> None:
        """The user who asked ``query`` stopped waiting for its answer."""
        self._queries.forget(query)

    # -- time ---------------------------------------------------------------------------------

    def _window(self) -> float:
        return max(ADMISSION_FLOOR, RTT_FACTOR * (self._liveness.rtt or self.reconnection.connect_time or 0.0))

    def _end(self, failure: Failure | None, *, abort: bool) -> None:
        if self._ending is None:
            self._ending = End(failure, abort)

    def poll(self, now: float) -> list[Command]:
        """What to do at ``now``: requests to send, a ping, or ending the connection."""
        self.attention = False
        if self.state is not ConnectionState.CONNECTED:
            return []
        self._settle(now)
        if self._ending is not None:
            return [self._ending]
        commands: list[Command] = []
        if now >= self._liveness.ping_due():
            self._liveness.ping_sent(now)
            commands.append(Ping())
        pending = self.admission.pending
        if (now >= self._liveness.proof_due(self.book.streaming() and self.endpoint == "public")
                and not self._queries.proof_wanted and (pending is None or pending.purpose != "proof")):
            self._queries.proof_wanted = True
            self._notices.append(Note(logging.INFO, f"{self.endpoint}: no data for "
                                      f"{self._liveness.quiet_for(now):.0f} s; asking the server what it streams"))
        if self._ending is None:
            text = self._schedule.take(now, self.book, self.admission, self._queries)
            if text is not None:
                commands.append(Send(text))
        return commands

    def _settle(self, now: float) -> None:
        """Judge the pending request and the connection's liveness at ``now``."""
        reason = self._liveness.dead(now)
        if reason is not None:
            self._end(Failure(reason, Recovery.RETRY, ConnectError(reason)), abort=True)
            return
        pending = self.admission.pending
        if pending is not None and pending.kind is RequestKind.QUERY:
            if now >= pending.sent_at + self.config.pong_timeout:
                self.admission.pending = None
                why = f"no answer to LIST_SUBSCRIPTIONS within {self.config.pong_timeout:g} s"
                self._notices += self._queries.answer(UpbitStreamError(why))
                if pending.purpose == "proof":
                    self._end(Failure(why, Recovery.RETRY, ConnectError(why)), abort=True)
        else:
            due = self.admission.verdict_due(self._window())
            if due is not None and now >= due:
                self._accept_pending(now)
        if not self.book and self._empty_since is not None and now >= self._empty_since + self.config.linger:
            self._end(None, abort=False)

    def next_wakeup(self, now: float) -> float:
        """The next time ``poll`` has something to do (infinity: only new input can change that)."""
        if self.state is not ConnectionState.CONNECTED:
            return math.inf
        if self._ending is not None:
            return now
        times = [self._liveness.ping_due(), self._liveness.pong_deadline()]
        pending = self.admission.pending
        if not self._queries.proof_wanted and (pending is None or pending.purpose != "proof"):
            times.append(self._liveness.proof_due(self.book.streaming() and self.endpoint == "public"))
        if pending is not None and pending.kind is RequestKind.QUERY:
            times.append(pending.sent_at + self.config.pong_timeout)
        else:
            due = self.admission.verdict_due(self._window())
            if due is not None:
                times.append(due)
        request = self._schedule.due(now, self.book, self.admission, self._queries)
        if request is not None:
            times.append(request)
        if not self.book and self._empty_since is not None:
            times.append(self._empty_since + self.config.linger)
        return min(times)

    # -- outputs ------------------------------------------------------------------------------

    @property
    def has_notices(self) -> bool:
        """True when ``take_notices`` has something."""
        return bool(self._notices)

    def take_notices(self) -> list[Notice]:
        """Failures, finishes, gap markers, query answers, connection events and log lines since the last call."""
        notices, self._notices = self._notices, []
        return notices
