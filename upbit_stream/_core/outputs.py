"""What the endpoint protocol asks its driver to do (commands) and to pass on (notices)."""

from __future__ import annotations

from typing import Any

import attrs

from .classify import Failure
from .codec import SubscriptionList
from .errors import UpbitStreamError
from .stats import ConnectionEvent

__all__ = ["Command", "Deliver", "End", "Fail", "Finish", "Note", "Notice", "Ping", "QueryAnswer", "Send"]


@attrs.frozen
class Send:
    """Send this text message on the connection now."""

    text: str


@attrs.frozen
class Ping:
    """Send a WebSocket ping now and report its pong (``EndpointProtocol.pong_received``)."""


@attrs.frozen
class End:
    """End the connection: ``abort`` it at once (a dead peer) or close it politely.

    ``failure`` is None for a polite close nobody needs to recover from (no subscribers left).
    """

    failure: Failure | None
    abort: bool


Command = Send | Ping | End


@attrs.frozen
class Deliver:
    """Hand ``item`` (a ``StreamGap``) to ``target``."""

    target: Any
    item: Any


@attrs.frozen
class Fail:
    """End ``target``'s subscription with ``error`` (in-band)."""

    target: Any
    error: UpbitStreamError


@attrs.frozen
class Finish:
    """``target``'s subscription is complete (mode ``snapshot``)."""

    target: Any


@attrs.frozen
class QueryAnswer:
    """The answer to the LIST_SUBSCRIPTIONS query ``query``: the server's reply, or why there is none."""

    query: int
    result: SubscriptionList | UpbitStreamError


@attrs.frozen
class Note:
    """A line for the log: ``level`` is a ``logging`` level number."""

    level: int
    message: str


Notice = Deliver | Fail | Finish | QueryAnswer | Note | ConnectionEvent
