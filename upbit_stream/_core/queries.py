"""LIST_SUBSCRIPTIONS queries: users waiting for an answer, liveness proofs, and reading the reply."""

from __future__ import annotations

from .codec import SubscriptionList
from .demand import Signature
from .errors import UpbitStreamError
from .outputs import QueryAnswer

__all__ = ["Queries", "missing_streams"]


class Queries:
    """Who waits for the next LIST_SUBSCRIPTIONS answer of one connection.

    Users who ask while a query is on the wire wait for the next one, so every answer is at least
    as new as the question. A liveness proof (the connection was quiet) rides the same query.
    """

    def __init__(self) -> None:
        self.proof_wanted = False
        self._waiting: list[int] = []  # bounded by the tasks awaiting an answer
        self._asked: list[int] = []  # users whose query is on the wire
        self._next = 0

    @property
    def wanted(self) -> bool:
        """True when a query should be sent."""
        return self.proof_wanted or bool(self._waiting)

    def ask(self) -> int:
        """A user asks; the ``QueryAnswer`` for them will carry the returned number."""
        self._next += 1
        self._waiting.append(self._next)
        return self._next

    def sent(self) -> str:
        """A query goes out now; returns its purpose, ``"proof"`` or ``"user"``."""
        purpose = "proof" if self.proof_wanted else "user"
        self.proof_wanted = False
        self._asked, self._waiting = self._waiting, []
        return purpose

    def answer(self, result: SubscriptionList | UpbitStreamError) -> list[QueryAnswer]:
        """The query on the wire was answered (or failed) with ``result``."""
        answers = [QueryAnswer(query, result) for query in self._asked]
        self._asked = []
        return answers

    def again(self, purpose: str) -> None:
        """The query on the wire was refused for its rate: ask again later."""
        self.proof_wanted |= purpose == "proof"
        self._waiting[:0] = self._asked
        self._asked = []

    def forget(self, query: int) -> None:
        """The user stopped waiting for ``query``."""
        if query in self._waiting:
            self._waiting.remove(query)
        if query in self._asked:
            self._asked.remove(query)

    def close(self, why: str) -> list[QueryAnswer]:
        """The connection ended: everyone waiting gets ``why`` as an error."""
        error = UpbitStreamError(why)
        answers = [QueryAnswer(query, error) for query in (*self._asked, *self._waiting)]
        self._asked, self._waiting = [], []
        self.proof_wanted = False
        return answers


def missing_streams(signature: Signature, reply: SubscriptionList) -> str:
    """What the server should stream (``signature``) that its LIST_SUBSCRIPTIONS ``reply`` lacks ("" if none)."""
    listed: dict[str, set[str]] = {}
    for stream in reply.streams:
        codes = listed.setdefault(stream.type, set())
        codes.update(code.partition(".")[0] for code in stream.codes)
        if not stream.codes:
            codes.add("")
    missing = []
    for type_, _level, code in signature:
        have = listed.get(type_)
        bare = code.partition(".")[0]
        if have is None or (bare and bare not in have and "" not in have):
            missing.append(f"{type_} {bare}".strip())
    return ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
