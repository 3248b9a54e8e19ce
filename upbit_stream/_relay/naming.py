"""Relay naming (pure): subjects, ``Nats-Msg-Id`` keys, stream plans and the catalog of what a relay carries.

Subjects (``<r>`` is the region, ``kr`` by default; ``<a>`` an account alias, ``main`` by default)::

    upbit.<r>.ticker.<code>                       state  (last values per subject)
    upbit.<r>.orderbook.<code>[.d<depth>][.l<level>]   state; level 0.1 is written l0_1
    upbit.<r>.candle.<unit>.<code>                state  (candle.1m keeps its dot)
    upbit.<r>.trade.<code>                        events (history by age and bytes)
    upbit.<r>.announcement.<category>             events
    upbit.<r>.indicator.<code>.<tf>.<params>      events; params like rsi-14, bollinger_bands-20-2
    upbit.<r>.indicator_signal.<code>.<tf>.<params>.<trigger>[-<event params>]   events
    upbit.<r>.account.<a>.myOrder.<code>          account stream of alias <a> (its own permissions)
    upbit.<r>.account.<a>.myAsset                 account stream of alias <a>
    upbit.<r>.gap.events | gap.state | account.<a>.gap   gap markers, inside the stream they concern
    upbit.<r>.relay.heartbeat.<relay id> | relay.carried   control stream
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

import attrs

from .._core.all_events import Event
from .._core.specs import Spec

__all__ = [
    "Names",
    "StreamPlan",
    "describe",
    "inbox_prefix",
    "message_id",
    "params_token",
    "spec_subjects",
    "stream_holding",
    "stream_sequence",
    "subject_for",
    "subject_matches",
    "uncovered",
]

PREFIX: Final = "upbit"
STATE_TYPES: Final = frozenset({"ticker", "orderbook"})  # and every candle.*
ACCOUNT_TYPES: Final = frozenset({"myOrder", "myAsset"})
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
DEFAULT_INBOX: Final = "_INBOX"
_SNAPSHOT, _REALTIME = b'"stream_type":"SNAPSHOT"', b'"stream_type":"REALTIME"'


def check_token(kind: str, value: str) -> str:
    """``value`` if it can be one subject token and part of a stream name, else ``ValueError``."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(f"{kind} must be 1-64 letters, digits, '_' or '-': got {value!r}")
    return value


def inbox_prefix(given: str | None, user: str | None) -> str:
    """Where NATS sends this connection's replies and push deliveries: ``given``, else ``_INBOX.<user>``.

    A server can then let each user subscribe to ``_INBOX.<user>.>`` only, so no account reads
    another's JetStream replies or deliveries through ``_INBOX.>``. Without a user that is one
    subject token (a token login, none), nats-py's ``_INBOX``.
    """
    if given is not None:
        if not isinstance(given, str) or not all(_TOKEN.fullmatch(part) for part in given.split(".")):
            raise ValueError(f"inbox_prefix must be dot-separated tokens of letters, digits, '_' or '-' "
                             f"(no wildcards): got {given!r}")
        return given
    if user is not None and _TOKEN.fullmatch(user):
        return f"{DEFAULT_INBOX}.{user}"
    return DEFAULT_INBOX


def is_state_type(type_: str) -> bool:
    """Types whose stream keeps the last value per subject (ticker, orderbook, candle.*)."""
    return type_ in STATE_TYPES or type_.startswith("candle.")


def _number(value: Any) -> str:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text.replace(".", "_").replace("-", "m")
    return str(value)


def params_token(params: Any) -> str:
    """An indicator's parameters as one subject token: ``rsi-14``, ``moving_average-SMA-20``, ``bollinger_bands-20-2``."""
    values = [_number(getattr(params, f.name)) for f in attrs.fields(type(params))]
    return "-".join([params.indicator, *values])


def trigger_token(trigger: str, event_params: Any) -> str:
    """A signal's trigger and its event parameters as one token: ``overbought-70``, ``golden_cross``."""
    if event_params is None:
        return trigger
    values = [_number(getattr(event_params, f.name)) for f in attrs.fields(type(event_params))]
    return "-".join([trigger, *values])


@attrs.frozen
class StreamPlan:
    """One JetStream stream the relay creates or updates (idempotently) before publishing."""

    name: str
    subjects: tuple[str, ...]
    max_age: float  # seconds
    max_bytes: int
    max_msgs_per_subject: int = -1  # state types: a short history per subject, the last value always there
    duplicate_window: float = 120.0  # seconds of Nats-Msg-Id de-duplication


@attrs.frozen
class Names:
    """Every subject and stream name of one region and account alias."""

    region: str = "kr"
    account: str = "main"

    def __attrs_post_init__(self) -> None:
        check_token("region", self.region)
        check_token("account alias", self.account)

    @property
    def root(self) -> str:
        return f"{PREFIX}.{self.region}"

    def stream(self, kind: str) -> str:
        """``UPBIT_KR_EVENTS``, ``UPBIT_KR_STATE``, ``UPBIT_KR_CONTROL`` or ``UPBIT_KR_ACCOUNT_MAIN``."""
        suffix = f"ACCOUNT_{self.account}" if kind == "account" else kind
        return f"UPBIT_{self.region}_{suffix}".upper().replace("-", "_")

    def stream_of(self, type_: str) -> str:
        """The stream that holds events of ``type_``."""
        if type_ in ACCOUNT_TYPES:
            return self.stream("account")
        return self.stream("state" if is_state_type(type_) else "events")

    def gap_subject(self, stream: str) -> str:
        """Where gap markers of ``stream`` go (inside that stream, so they keep their place)."""
        if stream == self.stream("account"):
            return f"{self.root}.account.{self.account}.gap"
        return f"{self.root}.gap.{'state' if stream == self.stream('state') else 'events'}"

    @property
    def heartbeat_prefix(self) -> str:
        return f"{self.root}.relay.heartbeat"

    @property
    def carried_subject(self) -> str:
        return f"{self.root}.relay.carried"

    def plans(self, *, max_age: float, max_bytes: int, state_max_bytes: int | None = None,
              state_history: int = 128, with_account: bool = False) -> tuple[StreamPlan, ...]:
        """The streams of this region (and of the account alias when ``with_account``).

        State streams keep ``state_history`` messages per subject: the last value is what
        ``snapshot()`` and ``mode="both"`` read, and a live consumer less than that many behind on
        one subject misses none (JetStream consumers read from the store, so a history of one would
        conflate every burst at the broker).
        """
        root = self.root
        window = min(120.0, max_age)  # JetStream refuses a de-duplication window longer than max_age
        state = state_max_bytes if state_max_bytes is not None else max_bytes
        plans = [
            StreamPlan(self.stream("events"), (f"{root}.trade.>", f"{root}.announcement.>", f"{root}.indicator.>",
                                               f"{root}.indicator_signal.>", f"{root}.gap.events"), max_age, max_bytes,
                       duplicate_window=window),
            StreamPlan(self.stream("state"), (f"{root}.ticker.>", f"{root}.orderbook.>", f"{root}.candle.>",
                                              f"{root}.gap.state"), max_age, state, max_msgs_per_subject=state_history,
                       duplicate_window=window),
            StreamPlan(self.stream("control"), (f"{root}.relay.>",), max_age, min(max_bytes, 64 << 20),
                       max_msgs_per_subject=16, duplicate_window=window),
        ]
        if with_account:
            plans.append(StreamPlan(self.stream("account"), (f"{root}.account.{self.account}.>",), max_age, max_bytes,
                                    duplicate_window=window))
        return tuple(plans)


def subject_for(names: Names, spec: Spec[Any], event: Event) -> str:
    """The subject one ``event`` of the relay's ``spec`` is published to."""
    e: Any = event
    root, type_ = names.root, e.type
    if type_ == "orderbook":
        return _orderbook(root, e.code, spec)
    if type_ == "myOrder":
        return f"{root}.account.{names.account}.myOrder.{e.code}"
    if type_ == "myAsset":
        return f"{root}.account.{names.account}.myAsset"
    if type_ == "announcement":
        return f"{root}.announcement.{e.category}"
    if type_ == "indicator":
        return f"{root}.indicator.{e.code}.{e.timeframe}.{params_token(e.params)}"
    if type_ == "indicator_signal":
        return (f"{root}.indicator_signal.{e.code}.{e.timeframe}.{params_token(e.params)}"
                f".{trigger_token(e.trigger, e.event_params)}")
    return f"{root}.{type_}.{e.code}"


def _orderbook(root: str, code: str, spec: Spec[Any]) -> str:
    subject = f"{root}.orderbook.{code}"
    if spec.depth is not None:
        subject += f".d{spec.depth}"
    if spec.level is not None:
        subject += f".l{_number(spec.level)}"
    return subject


def spec_subjects(names: Names, spec: Spec[Any]) -> tuple[str, ...]:
    """The subjects (wildcards allowed) a consumer's ``spec`` reads: its consumer's filter."""
    root, type_ = names.root, spec.type
    if type_ == "orderbook":
        return tuple(_orderbook(root, code, spec) for code in spec.codes)
    if type_ == "myOrder":
        return tuple(f"{root}.account.{names.account}.myOrder.{code}" for code in spec.codes or ("*",))
    if type_ == "myAsset":
        return (f"{root}.account.{names.account}.myAsset",)
    if type_ == "announcement":
        return tuple(f"{root}.announcement.{category}" for category in spec.categories or ("*",))
    if type_ == "indicator":
        return tuple(f"{root}.indicator.{code}.{spec.timeframe}.{params_token(item)}"
                     for code in spec.codes for item in spec.indicators)
    if type_ == "indicator_signal":
        signals: tuple[Any, ...] = spec.indicators
        return tuple(f"{root}.indicator_signal.{code}.{spec.timeframe}.{params_token(item.params)}."
                     f"{trigger_token(item.trigger, item.event_params)}"
                     for code in spec.codes for item in signals)
    return tuple(f"{root}.{type_}.{code}" for code in spec.codes)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` is one token, a final ``>`` one or more."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return index == len(want) - 1 and len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(have) == len(want)


def stream_holding(plans: Iterable[StreamPlan], subject: str) -> str | None:
    """The name of the planned stream whose subjects take ``subject``, if any."""
    return next((plan.name for plan in plans if any(subject_matches(p, subject) for p in plan.subjects)), None)


def uncovered(carried: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The ``wanted`` subjects no carried subject covers (a wanted wildcard needs the same or a wider one)."""
    patterns = tuple(carried)
    return [subject for subject in wanted if not any(subject_matches(p, subject) for p in patterns)]


def message_id(subject: str, event: Event, payload: bytes) -> str:
    """The ``Nats-Msg-Id`` of one event: what makes a re-send (or a standby relay's copy) the same message.

    Trades by ``(code, sequential_id)``; myOrder by ``(uuid, state, trade_uuid)``; indicators by
    their candle; everything else by content (ignoring SNAPSHOT/REALTIME) on its subject.
    """
    e: Any = event
    type_ = e.type
    if type_ == "trade" and e.sequential_id is not None:
        return f"trade:{e.code}:{e.sequential_id}"
    if type_ == "myOrder" and e.uuid is not None:
        return f"myOrder:{e.uuid}:{e.state}:{e.trade_uuid or '-'}"
    if type_ in ("indicator", "indicator_signal"):
        return f"{subject}:{e.candle_date_time_utc}"
    digest = hashlib.blake2b(payload.replace(_SNAPSHOT, _REALTIME), digest_size=12).hexdigest()
    return f"{subject}#{digest}"


def stream_sequence(reply: str | None) -> int | None:
    """The stream sequence in the reply subject of a JetStream delivery, else None.

    JetStream's ADR-15 layouts: ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.…`` (9 tokens)
    and, with a domain and account hash after ``ACK`` (11 tokens or more), the stream sequence
    eighth. Read here rather than through nats-py's ``Msg.metadata``, which builds a dataclass and a
    datetime per message: a ``resume=`` reader needs only this number.
    """
    if not reply or not reply.startswith("$JS.ACK."):
        return None
    tokens = reply.split(".")
    if len(tokens) == 9:
        token = tokens[5]
    elif len(tokens) >= 11:
        token = tokens[7]
    else:
        return None
    return int(token) if token.isdigit() else None


def describe(spec: Spec[Any]) -> str:
    """A spec as ``TYPE:CODES`` text (``orderbook:KRW-BTC depth=15``) for the catalog and error messages."""
    text = f"{spec.type}:{','.join(spec.codes)}" if spec.codes else spec.type
    if spec.categories:
        text += ":" + ",".join(spec.categories)
    extras = [f"depth={spec.depth}"] if spec.depth is not None else []
    extras += [f"level={spec.level}"] if spec.level is not None else []
    extras += [f"timeframe={spec.timeframe}"] if spec.timeframe else []
    extras += [f"{len(spec.indicators)} indicator(s)"] if spec.indicators else []
    extras += ["with bodies"] if spec.include_body else []
    return " ".join([text, *extras])
