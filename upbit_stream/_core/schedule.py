"""When a connection's next request may go, and what it says: debounce, limiter, pauses, one pending at a time."""

from __future__ import annotations

import math
import random
import uuid

from .admission import Admission, RequestKind
from .demand import SubscriptionBook
from .encode import encode_list_subscriptions, encode_request
from .policies import WINDOW_MARGIN, SlidingWindowLimiter
from .queries import Queries

__all__ = ["RequestSchedule"]


class RequestSchedule:
    """Pacing of one endpoint's request messages (subscriptions and LIST_SUBSCRIPTIONS alike).

    A request waits for: the pending one's verdict (``admission``), the end of a pause (after an
    error frame), the debounce window after the first unsent subscription change, and Upbit's
    per-connection limits (``per_second`` in every sliding 1 s window and ``per_minute`` in every
    60 s window, each widened by ``WINDOW_MARGIN``). The limiter is kept across reconnects.
    """

    def __init__(self, *, per_second: int, per_minute: int, debounce: float, format: str,
                 rng: random.Random) -> None:
        self._limiter = SlidingWindowLimiter([(per_second, 1.0 + WINDOW_MARGIN), (per_minute, 60.0 + WINDOW_MARGIN)])
        self._debounce = debounce
        self._format = format
        self._rng = rng
        self._dirty_since: float | None = None
        self._paused_until = -math.inf
        self._limited = False
        self.requests_sent = 0
        self.rate_limit_waits = 0

    def changed(self, now: float) -> None:
        """The demand changed at ``now``: the next request waits the debounce window from the first change."""
        if self._dirty_since is None:
            self._dirty_since = now

    def pause(self, until: float) -> None:
        """Send nothing before ``until``."""
        self._paused_until = max(self._paused_until, until)

    def new_connection(self) -> None:
        """A new connection sends the current demand at once."""
        self._dirty_since = None
        self._paused_until = -math.inf

    def due(self, now: float, book: SubscriptionBook, admission: Admission, queries: Queries) -> float | None:
        """When the next request may go (None: nothing to send, or a request is pending)."""
        if admission.pending is not None:
            return None
        if not queries.wanted and not self._worth_sending(book, admission):
            return None
        due = max(self._paused_until, now + self._limiter.delay(now))
        if self._dirty_since is not None and not queries.wanted:
            due = max(due, self._dirty_since + self._debounce)
        if due > now and not self._limited and self._limiter.delay(now) > 0:
            self._limited = True
            self.rate_limit_waits += 1
        return due

    def _worth_sending(self, book: SubscriptionBook, admission: Admission) -> bool:
        plan = admission.plan(book.wanted_keys())
        if plan is None:
            return False
        if plan.kind is RequestKind.SAFE and not book.owes_snapshots(plan.keys) \
                and book.live_signature(plan.keys) == admission.server_signature:
            return False  # the server already streams exactly this
        return True

    def take(self, now: float, book: SubscriptionBook, admission: Admission, queries: Queries) -> str | None:
        """The request to send at ``now``, if one is due (it is then counted and pending)."""
        due = self.due(now, book, admission, queries)
        if due is None or now < due:
            return None
        self._limiter.record(now)
        self._limited = False
        self.requests_sent += 1
        if queries.wanted:
            admission.query_sent(queries.sent(), now)
            return encode_list_subscriptions(self._ticket(), self._format)
        plan = admission.plan(book.wanted_keys())
        assert plan is not None
        admission.sent(plan, book.live_signature(plan.keys), now)
        book.mark_requested(plan.keys, now)
        self._dirty_since = None
        return encode_request(self._ticket(), book.request_objects(plan.keys), self._format)

    def _ticket(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
