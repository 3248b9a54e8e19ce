"""Admission: which streams the server accepted on a connection, and narrowing a rejected request down.

Upbit's error frames do not say which request or code they concern, and a rejected request
changes nothing on the server. So a connection has at most one *pending* request — sent, verdict
not known yet — and every error frame is judged against it:

* A request is **accepted** when data arrives for one of the keys it added (Upbit refuses a
  request whole, so that is proof), or when its verdict window passes without an error. Its keys are
  then *admitted* on this connection; the server streams exactly the accepted request.
* A **probe** is a request that adds keys not admitted yet. Rejected, its new keys are split in
  halves and retried as ``admitted ∪ half`` (narrowing), until a key rejected on its own is left.
  Before that key's subscribers fail, the admitted keys alone are confirmed (a request of them
  only): if the server refuses that too, the admitted set itself went bad (a market delisted while
  subscribed) and the connection is replaced — on a fresh connection nothing is admitted, so the
  same narrowing isolates the delisted key. A server error never fails an admitted key.
* A **safe** request adds nothing new (unsubscribes, snapshots of admitted keys). If the server
  refuses it, the admitted set went bad: replace the connection.
* A **query** is a LIST_SUBSCRIPTIONS request; the reply or an error answers it.
* An error frame while nothing is pending matches no request: counted and logged, never blamed.

The narrowing queue survives a reconnect (an endpoint that closes after an error must not loop);
everything else is per connection.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Collection, Iterable

import attrs

from .demand import Key, Signature

__all__ = ["Admission", "Pending", "RequestKind"]


class RequestKind(enum.Enum):
    """What a pending request is, which decides what an error frame means for it."""

    PROBE = "probe"  # adds keys not admitted yet
    SAFE = "safe"  # only admitted keys
    CONFIRM = "confirm"  # only admitted keys, sent to decide whether a lone rejected key is to blame
    QUERY = "query"  # LIST_SUBSCRIPTIONS


@attrs.define(eq=False)
class Pending:
    """The one request whose verdict is not known yet."""

    kind: RequestKind
    sent_at: float
    keys: frozenset[Key] = frozenset()  # every key the request carries
    new: frozenset[Key] = frozenset()  # keys it adds (PROBE)
    signature: Signature = ()
    from_queue: bool = False  # ``new`` is the head of the narrowing queue
    evidence_at: float | None = None  # when data for a new key first arrived
    purpose: str = ""  # QUERY: "proof" (liveness) or "user"


@attrs.define
class Plan:
    """The next request the admission rules allow: its keys and which of them are new."""

    kind: RequestKind
    keys: frozenset[Key]
    new: frozenset[Key]
    from_queue: bool


class Admission:
    """Admission state of one endpoint (per connection, but for the narrowing queue)."""

    def __init__(self) -> None:
        self.admitted: set[Key] = set()
        self.queue: deque[frozenset[Key]] = deque()  # bounded: halves of one request's new keys
        self.suspect: Key | None = None  # rejected on its own, waiting for the admitted set's confirmation
        self.pending: Pending | None = None
        self.server_signature: Signature | None = None  # what the server streams (the last accepted request)

    def new_connection(self) -> None:
        """A new connection: nothing is admitted or pending; a suspect goes back to the narrowing queue."""
        self.admitted.clear()
        self.pending = None
        self.server_signature = None
        if self.suspect is not None:
            self.queue.appendleft(frozenset((self.suspect,)))
            self.suspect = None

    def plan(self, desired: Collection[Key]) -> Plan | None:
        """The next request over ``desired`` keys (None: nothing to ask), ignoring timing."""
        if self.suspect is not None and self.suspect not in desired:
            self.suspect = None
        base = frozenset(key for key in self.admitted if key in desired)
        if self.suspect is not None:
            if base:
                return Plan(RequestKind.CONFIRM, base, frozenset(), False)
            self.queue.appendleft(frozenset((self.suspect,)))  # nothing admitted left: try it alone
            self.suspect = None
        while self.queue:
            head = frozenset(key for key in self.queue[0] if key in desired)
            if head:
                if head != self.queue[0]:
                    self.queue[0] = head
                return Plan(RequestKind.PROBE, base | head, head, True)
            self.queue.popleft()
        new = frozenset(key for key in desired if key not in self.admitted)
        if new:
            return Plan(RequestKind.PROBE, base | new, new, False)
        if base:
            return Plan(RequestKind.SAFE, base, frozenset(), False)
        return None

    def sent(self, plan: Plan, signature: Signature, now: float) -> None:
        """``plan``'s request went out at ``now``."""
        self.pending = Pending(plan.kind, now, plan.keys, plan.new, signature, plan.from_queue)

    def query_sent(self, purpose: str, now: float) -> None:
        """A LIST_SUBSCRIPTIONS request went out at ``now``."""
        self.pending = Pending(RequestKind.QUERY, now, purpose=purpose)

    def saw_data(self, key: Key, now: float) -> None:
        """An event for ``key`` arrived: evidence that a probe adding it was accepted."""
        pending = self.pending
        if pending is not None and pending.evidence_at is None and key in pending.new:
            pending.evidence_at = now

    def verdict_due(self, window: float) -> float | None:
        """When the pending request counts as accepted if no error comes first (None: nothing pending).

        Data for a key it adds proves it accepted at once: Upbit refuses a request whole.
        """
        pending = self.pending
        if pending is None or pending.kind is RequestKind.QUERY:
            return None
        if pending.evidence_at is not None:
            return pending.evidence_at
        return pending.sent_at + window

    def accept(self) -> Key | None:
        """The pending request was accepted; returns a suspect now proven to be rejected on its own."""
        pending = self.pending
        assert pending is not None and pending.kind is not RequestKind.QUERY
        self.pending = None
        self.admitted.update(pending.keys)
        self.server_signature = pending.signature
        if pending.from_queue and self.queue and self.queue[0] == pending.new:
            self.queue.popleft()
        if pending.kind is RequestKind.CONFIRM:
            suspect, self.suspect = self.suspect, None
            return suspect
        return None

    def reject(self) -> Key | str | None:
        """The pending request drew an error frame; what follows from it.

        Returns a key rejected on its own (its subscribers fail), a reason to replace the
        connection (the admitted set itself was refused), or None (narrowing goes on).
        """
        pending = self.pending
        assert pending is not None and pending.kind is not RequestKind.QUERY
        self.pending = None
        if pending.kind is not RequestKind.PROBE:
            if pending.kind is RequestKind.CONFIRM and self.suspect is not None:
                self.queue.appendleft(frozenset((self.suspect,)))
                self.suspect = None
            return "the server refused a request for streams it had accepted on this connection"
        if pending.from_queue and self.queue and self.queue[0] == pending.new:
            self.queue.popleft()
        if len(pending.new) > 1:
            ordered = sorted(pending.new, key=_order)
            half = len(ordered) // 2
            self.queue.appendleft(frozenset(ordered[half:]))
            self.queue.appendleft(frozenset(ordered[:half]))
            return None
        (key,) = pending.new
        if pending.keys - pending.new:  # the admitted part came along: confirm it before blaming ``key``
            self.suspect = key
            return None
        return key

    def requeue(self) -> None:
        """The pending request was refused for its rate, not its content: send it again later."""
        self.pending = None

    def forget(self, keys: Iterable[Key]) -> None:
        """``keys`` failed and left the demand: they are not narrowed any further."""
        gone = set(keys)
        self.queue = deque(group - gone for group in self.queue if group - gone)  # bounded: as before, smaller
        if self.suspect in gone:
            self.suspect = None


def _order(key: Key) -> tuple[str, str, str]:
    return (key[0], key[1], "" if key[2] is None else str(key[2]))
