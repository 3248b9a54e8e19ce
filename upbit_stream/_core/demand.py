"""Subscription algebra for one connection: merged demand, canonical requests, event routing.

Upbit replaces a connection's whole subscription with every request, so a connection keeps one
``SubscriptionBook``: subscribers are added and removed synchronously, ``request_objects(keys)``
gives the one canonical request covering everybody's interest in ``keys`` (all keys by default),
and ``route()`` says which subscriber gets each decoded event. Rules (SPEC §4):

* Coverage: each (type, code, level) wanted in realtime is requested in realtime, at the largest
  depth any subscriber asked for; each subscriber receives its own depth.
* Snapshots: a subscriber in mode ``both`` or ``snapshot`` waits for exactly one SNAPSHOT per code
  (again after every reconnect for ``both``); REALTIME events for a code reach it only after that
  snapshot. Mode ``realtime`` never sees a SNAPSHOT. Codes nobody waits on are requested with
  ``is_only_realtime`` so a re-sent request stays quiet; codes only wanted as a snapshot are
  requested with ``is_only_snapshot`` so they never disturb live streams.
* Canonical: the same live set gives the same request (sorted codes, fixed object order);
  ``live_signature`` names what the server streams once the snapshots are done.

Which keys go into a request, and when, is the endpoint protocol's business (``protocol``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import attrs

from .enums import StreamType
from .events import CANDLE_INTERVALS, Orderbook
from .indicators import SignalCondition
from .info_requests import NEW_TYPES as _NEW_TYPES
from .info_requests import new_type_objects as _new_type_objects
from .info_events import Announcement, Indicator, IndicatorSignal
from .specs import PUBLIC_TYPES, REALTIME_ONLY_TYPES, Spec

__all__ = ["Key", "Signature", "Subscriber", "SubscriptionBook", "event_key", "spec_keys"]

#: (type, code, variant): the variant is an orderbook's level (0 = Upbit's default grouping), an
#: indicator's (timeframe, params or condition), an announcement's include_body; else None. An
#: announcement's "code" is its category ("" = every category).
Key = tuple[str, str, Any]
#: The realtime part of a request: what the server streams once snapshots are done.
Signature = tuple[tuple[str, str, str], ...]

_ZERO = Decimal(0)
_FULL_DEPTH = 30
_TYPE_ORDER = {
    name: rank
    for rank, name in enumerate(
        ["ticker", "trade", "orderbook", *(f"candle.{u}" for u in CANDLE_INTERVALS), "myOrder", "myAsset",
         "announcement", "indicator", "indicator_signal"]
    )
}
_SNAPSHOT = StreamType.SNAPSHOT
_EVERY_ORDER: Key = ("myOrder", "", None)
#: Types whose REALTIME events ``route`` decides one by one (everyone's orders; announcements' bodies).
_ROUTED_ONE_BY_ONE = frozenset({"myOrder", "announcement"})


def event_key(event: Any) -> Key:
    """The routing key of a decoded event."""
    cls = event.__class__
    if cls is Orderbook:
        return (event.type, event.code, event.level or _ZERO)
    if cls is Indicator:
        return (event.type, event.code, (event.timeframe, event.params))
    if cls is IndicatorSignal:
        return (event.type, event.code,
                (event.timeframe, SignalCondition(event.params, event.trigger, event.event_params)))
    if cls is Announcement:
        return (event.type, event.category, False)
    return (event.type, event.code, None)


def spec_keys(spec: Spec[Any]) -> Iterable[Key]:
    """The keys a spec asks for."""
    if spec.type == "orderbook":
        level = spec.level or _ZERO
        return ((spec.type, code, level) for code in spec.codes)
    if spec.type == "myAsset" or spec.all_codes:
        return ((spec.type, "", None),)
    if spec.type == "announcement":
        return ((spec.type, category, spec.include_body) for category in spec.categories or ("",))
    if spec.timeframe is not None:
        return ((spec.type, code, (spec.timeframe, item)) for code in spec.codes for item in spec.indicators)
    return ((spec.type, code, None) for code in spec.codes)


@attrs.define(eq=False, slots=True)
class _Interest:
    """What one subscriber wants of one key."""

    subscriber: Subscriber
    realtime: bool = False
    wants_snapshot: bool = False  # mode both: wait again after every reconnect
    waiting: bool = False  # a SNAPSHOT is still owed to this subscriber
    requested_at: float | None = None  # when the owed SNAPSHOT was asked for on this connection
    depth: int = _FULL_DEPTH


@attrs.define(eq=False, slots=True)
class Subscriber:
    """One subscription in a book; ``target`` is whatever the caller delivers events to."""

    id: int
    specs: tuple[Spec[Any], ...]
    target: Any
    interests: dict[Key, _Interest] = attrs.field(factory=dict)
    waiting: int = 0  # number of interests still owed a SNAPSHOT
    realtime: bool = False  # any realtime interest: the subscription never ends by itself

    @property
    def done(self) -> bool:
        """True when a snapshot-only subscription has received every snapshot it asked for."""
        return not self.realtime and self.waiting == 0


@attrs.define(eq=False, slots=True)
class _KeyState:
    """All interests in one key, with aggregates kept current for O(keys) requests."""

    interests: dict[int, _Interest] = attrs.field(factory=dict)
    realtime: int = 0
    waiting: int = 0
    unrequested: int = 0  # waiting interests whose SNAPSHOT was not asked for on this connection
    depths: Counter[int] = attrs.field(factory=Counter)


class SubscriptionBook:
    """The merged subscriptions of one connection."""

    def __init__(self) -> None:
        self._keys: dict[Key, _KeyState] = {}
        self._subscribers: dict[int, Subscriber] = {}
        self._next_id = 0
        self.changes = 0  # grows with every add and every effective remove
        #: Per key, who gets its REALTIME events and at what depth (None: whole); emptied whenever that can change.
        self.live: dict[Key, tuple[tuple[Any, int | None], ...]] = {}

    # -- subscribers ---------------------------------------------------------------------------

    def add(self, specs: Sequence[Spec[Any]], target: Any = None) -> Subscriber:
        """Register a subscriber for ``specs`` and return its handle."""
        sub = Subscriber(self._next_id, tuple(specs), target)
        self._next_id += 1
        self.changes += 1
        self.live.clear()
        for spec in specs:
            realtime = spec.mode != "snapshot"
            snapshot = spec.mode != "realtime" and spec.type not in REALTIME_ONLY_TYPES
            depth = spec.depth or _FULL_DEPTH
            for key in spec_keys(spec):
                interest = sub.interests.get(key)
                if interest is None:
                    interest = sub.interests[key] = _Interest(sub, depth=depth)
                else:
                    interest.depth = max(interest.depth, depth)
                interest.realtime |= realtime
                interest.wants_snapshot |= snapshot and realtime
                interest.waiting |= snapshot
        self._subscribers[sub.id] = sub
        for key, interest in sub.interests.items():
            state = self._keys.get(key)
            if state is None:
                state = self._keys[key] = _KeyState()
            state.interests[sub.id] = interest
            state.realtime += interest.realtime
            state.depths[interest.depth] += 1
            if interest.waiting:
                state.waiting += 1
                state.unrequested += 1
                sub.waiting += 1
            sub.realtime |= interest.realtime
        return sub

    def remove(self, sub: Subscriber) -> None:
        """Forget ``sub``; removing it twice is harmless."""
        if self._subscribers.pop(sub.id, None) is None:
            return
        self.changes += 1
        self.live.clear()
        for key, interest in sub.interests.items():
            state = self._keys[key]
            del state.interests[sub.id]
            state.realtime -= interest.realtime
            state.depths[interest.depth] -= 1
            if not state.depths[interest.depth]:
                del state.depths[interest.depth]
            if interest.waiting:
                state.waiting -= 1
                state.unrequested -= interest.requested_at is None
            if not state.interests:
                del self._keys[key]

    def __len__(self) -> int:
        return len(self._subscribers)

    def __contains__(self, sub: Subscriber) -> bool:
        return self._subscribers.get(sub.id) is sub

    @property
    def subscribers(self) -> tuple[Subscriber, ...]:
        """Every live subscriber."""
        return tuple(self._subscribers.values())

    def wanted_keys(self) -> list[Key]:
        """Every key some subscriber still wants: in realtime, or a SNAPSHOT not received yet."""
        return [key for key, state in self._keys.items() if state.realtime or state.waiting]

    def subscribers_of(self, key: Key) -> list[Subscriber]:
        """The subscribers interested in ``key``."""
        state = self._keys.get(key)
        return [] if state is None else [interest.subscriber for interest in state.interests.values()]

    # -- requests ------------------------------------------------------------------------------

    def _groups(self, keys: Iterable[Key]) -> dict[tuple[int, str, Decimal, str], list[Any]]:
        """Wire codes per (type, level, snapshot flag) group; the 2026 types' groups hold their keys."""
        groups: dict[tuple[int, str, Decimal, str], list[Any]] = {}
        for key in keys:
            state = self._keys.get(key)
            if state is None:
                continue
            type_, code, level = key
            if type_ in _NEW_TYPES:  # realtime only; grouped whole: their objects are built from the keys
                if state.realtime:
                    groups.setdefault((_TYPE_ORDER[type_], type_, _ZERO, "realtime"), []).append(key)
                continue
            if state.realtime and state.waiting:
                flag = "both"
            elif state.realtime:
                flag = "realtime"
            elif state.waiting:
                flag = "snapshot"
            else:
                continue
            depth = max(state.depths)
            wire_code = code if depth >= _FULL_DEPTH else f"{code}.{depth}"
            group = (_TYPE_ORDER[type_], type_, level or _ZERO, flag)
            groups.setdefault(group, []).append(wire_code)
        return groups

    def request_objects(self, keys: Iterable[Key] | None = None) -> list[dict[str, Any]]:
        """The type objects of the canonical request for ``keys`` (every key by default; may be empty)."""
        objects: list[dict[str, Any]] = []
        for (_, type_, level, flag), codes in sorted(self._groups(self._keys if keys is None else keys).items()):
            if type_ in _NEW_TYPES:
                objects += _new_type_objects(type_, codes)  # the group holds their keys
                continue
            obj: dict[str, Any] = {"type": type_}
            if type_ != "myAsset" and "" not in codes:  # "" = myOrder for every market
                obj["codes"] = sorted(codes)
            if level:
                obj["level"] = level
            if flag == "realtime" and type_ in PUBLIC_TYPES:
                obj["is_only_realtime"] = True
            elif flag == "snapshot":
                obj["is_only_snapshot"] = True
            objects.append(obj)
        return objects

    def live_signature(self, keys: Iterable[Key] | None = None) -> Signature:
        """The realtime part of ``request_objects(keys)``: what the server streams once snapshots are done."""
        return tuple(sorted(
            (g[1], repr(code[2]), code[1]) if g[1] in _NEW_TYPES else (g[1], str(g[2]), code)
            for g, codes in self._groups(self._keys if keys is None else keys).items() if g[3] != "snapshot"
            for code in codes
        ))  # per code: a snapshot arriving for one code of a group changes how it is grouped, not what streams

    def owes_snapshots(self, keys: Iterable[Key]) -> bool:
        """True when some subscriber waits for a SNAPSHOT of ``keys`` not yet asked for on this connection."""
        table = self._keys
        return any((state := table.get(key)) is not None and state.unrequested for key in keys)

    def mark_requested(self, keys: Iterable[Key], now: float) -> None:
        """Record that a request for ``keys`` asked for every SNAPSHOT owed on them (at ``now``)."""
        for key in keys:
            state = self._keys.get(key)
            if state is None or not state.unrequested:
                continue
            for interest in state.interests.values():
                if interest.waiting and interest.requested_at is None:
                    interest.requested_at = now
            state.unrequested = 0

    def forget_requests(self, keys: Iterable[Key] | None = None) -> None:
        """The server did not apply a request for ``keys`` (all by default): owed SNAPSHOTs are unasked again."""
        for key in self._keys if keys is None else keys:
            state = self._keys.get(key)
            if state is None or state.unrequested == state.waiting:
                continue
            for interest in state.interests.values():
                if interest.waiting and interest.requested_at is not None:
                    interest.requested_at = None
                    state.unrequested += 1

    def streaming(self) -> bool:
        """True when some subscriber wants realtime data of a public type."""
        return any(state.realtime and key[0] in PUBLIC_TYPES for key, state in self._keys.items())

    def reset_connection(self) -> None:
        """A new connection starts: ``both`` subscribers owe a fresh snapshot; nothing was asked yet."""
        self.live.clear()
        for state in self._keys.values():
            for interest in state.interests.values():
                if interest.wants_snapshot and not interest.waiting:
                    interest.waiting = True
                    state.waiting += 1
                    interest.subscriber.waiting += 1
                interest.requested_at = None
            state.unrequested = state.waiting

    def starving(self, now: float, patience: float) -> list[tuple[Subscriber, Key]]:
        """Subscribers still waiting for a SNAPSHOT asked for more than ``patience`` seconds ago."""
        late = []
        for key, state in self._keys.items():
            if state.waiting:
                for interest in state.interests.values():
                    asked = interest.requested_at
                    if interest.waiting and asked is not None and now - asked > patience:
                        late.append((interest.subscriber, key))
        return late

    # -- routing -------------------------------------------------------------------------------

    def route(self, event: Any, key: Key | None = None) -> tuple[list[tuple[Any, Any]], list[Subscriber]]:
        """Who receives ``event``: ``(target, event)`` pairs, and snapshot subscribers now done."""
        if key is None:
            key = event_key(event)
        if event.__class__ is Announcement:
            return self._route_announcement(event), []
        state = self._keys.get(key)
        if event.type == "myOrder":
            everyone = self._keys.get(_EVERY_ORDER)
            if everyone is not None and everyone is not state:
                state = everyone if state is None else _merged(state, everyone)
        if state is None:
            return [], []
        deliveries: list[tuple[Any, Any]] = []
        finished: list[Subscriber] = []
        if event.stream_type is _SNAPSHOT and event.type not in REALTIME_ONLY_TYPES:
            if not state.waiting:
                return deliveries, finished
            self.live.clear()
            for interest in state.interests.values():
                if interest.waiting:
                    interest.waiting = False
                    state.waiting -= 1
                    sub = interest.subscriber
                    sub.waiting -= 1
                    if interest.requested_at is None:
                        state.unrequested -= 1
                    interest.requested_at = None
                    deliveries.append((sub.target, truncated(event, interest.depth)))
                    if sub.done:
                        finished.append(sub)
            return deliveries, finished
        deliveries += ((target, event if depth is None else truncated(event, depth))
                       for target, depth in _realtime_targets(state, key))
        return deliveries, finished

    def live_targets(self, key: Key) -> tuple[tuple[Any, int | None], ...] | None:
        """Who gets a REALTIME event of ``key`` (remembered in ``live``); None where ``route`` must decide."""
        if key[0] in _ROUTED_ONE_BY_ONE:
            return None
        state = self._keys.get(key)
        targets = () if state is None else _realtime_targets(state, key)
        self.live[key] = targets
        return targets

    def _route_announcement(self, event: Announcement) -> list[tuple[Any, Any]]:
        """An announcement reaches every subscriber of its category or of all; the body only those who asked."""
        deliveries: list[tuple[Any, Any]] = []
        seen: set[int] = set()
        bodiless: Announcement | None = None
        for key in ((event.type, event.category, True), (event.type, "", True),
                    (event.type, event.category, False), (event.type, "", False)):
            state = self._keys.get(key)
            if state is None:
                continue
            for sub_id, interest in state.interests.items():
                if sub_id in seen or not interest.realtime:
                    continue
                seen.add(sub_id)
                if key[2] or event.body is None:
                    deliveries.append((interest.subscriber.target, event))
                else:
                    bodiless = bodiless or attrs.evolve(event, body=None)
                    deliveries.append((interest.subscriber.target, bodiless))
        return deliveries


def _realtime_targets(state: _KeyState, key: Key) -> tuple[tuple[Any, int | None], ...]:
    """The targets of ``state``'s REALTIME events with the depth each is cut to (None: whole)."""
    return tuple(
        (interest.subscriber.target, interest.depth if key[0] == "orderbook" and interest.depth < _FULL_DEPTH else None)
        for interest in state.interests.values() if interest.realtime and not interest.waiting)


def _merged(first: _KeyState, second: _KeyState) -> _KeyState:
    return _KeyState(interests={**first.interests, **second.interests})


def truncated(event: Any, depth: int) -> Any:
    if depth >= _FULL_DEPTH or event.__class__ is not Orderbook or len(event.orderbook_units) <= depth:
        return event
    return attrs.evolve(event, orderbook_units=event.orderbook_units[:depth])
