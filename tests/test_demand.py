"""The subscription book against a model Upbit server, driven by a Hypothesis state machine."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from event_helpers import sample
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import upbit_stream as ub
from upbit_stream._core.demand import SubscriptionBook, event_key

CODES = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "BTC-ETH"]
ZERO = Decimal(0)


class ModelServer:
    """What Upbit does with requests: replace the subscription, send snapshots, then stream."""

    def __init__(self) -> None:
        self.streams: dict[tuple, int] = {}  # (type, code, level) -> depth
        self.queued: list[tuple[tuple, int]] = []
        self.requests = 0

    def apply(self, objects: list[dict]) -> None:
        self.requests += 1
        self.streams = {}
        self.queued = []
        for obj in objects:
            level = obj.get("level", ZERO) if obj["type"] == "orderbook" else None
            codes = obj.get("codes", [""])
            for wire in codes:
                code, _, depth = wire.partition(".")
                key = (obj["type"], code, level)
                depth_n = int(depth) if depth else 30
                if not obj.get("is_only_snapshot"):
                    self.streams[key] = depth_n
                if not obj.get("is_only_realtime") and obj["type"] not in ("myOrder", "myAsset"):
                    self.queued.append((key, depth_n))

    def event(self, key: tuple, depth: int, stream: ub.StreamType, code: str | None = None):
        type_, code_, level = key
        code = code_ if code is None else code
        if type_ == "orderbook":
            units = tuple(sample(ub.OrderbookUnit, ask_price=Decimal(n)) for n in range(depth))
            return sample(ub.Orderbook, code=code, level=level, orderbook_units=units, stream_type=stream)
        if type_ == "ticker":
            return sample(ub.Ticker, code=code, stream_type=stream)
        if type_ == "trade":
            return sample(ub.Trade, code=code, stream_type=stream)
        if type_ == "myOrder":
            return sample(ub.MyOrder, code=code or "KRW-BTC", stream_type=stream)
        return sample(ub.MyAsset, stream_type=stream)


specs = st.one_of(
    st.builds(ub.ticker, st.lists(st.sampled_from(CODES), min_size=1, max_size=3), mode=st.sampled_from(["both", "realtime", "snapshot"])),
    st.builds(ub.trade, st.lists(st.sampled_from(CODES), min_size=1, max_size=2), mode=st.sampled_from(["both", "realtime"])),
    st.builds(
        ub.orderbook,
        st.lists(st.sampled_from(CODES[:3]), min_size=1, max_size=2),
        mode=st.sampled_from(["both", "realtime", "snapshot"]),
        depth=st.sampled_from([None, 1, 5, 15]),
        level=st.sampled_from([None, 10, 1000]),
    ),
    st.builds(ub.my_order, st.none() | st.lists(st.sampled_from(CODES), max_size=2)),
    st.just(ub.my_asset()),
)


class Subscriber:
    def __init__(self, specs: list[ub.Spec]) -> None:
        self.specs = specs
        self.received: list = []
        self.snapshots: Counter = Counter()  # key -> snapshots this connection epoch
        self.ended = False

    def wants(self, key: tuple) -> list[ub.Spec]:
        type_, code, level = key
        matches = []
        for spec in self.specs:
            if spec.type != type_:
                continue
            if type_ == "orderbook" and (spec.level or ZERO) != level:
                continue
            if type_ == "myAsset" or spec.all_codes or code in spec.codes:
                matches.append(spec)
        return matches


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = SubscriptionBook()
        self.server = ModelServer()
        self.live: dict[int, tuple[object, Subscriber]] = {}
        self.sent: object = None  # live signature of the last request sent

    @rule(chosen=st.lists(specs, min_size=1, max_size=3))
    def subscribe(self, chosen: list[ub.Spec]) -> None:
        sub = Subscriber(chosen)
        handle = self.book.add(chosen, sub)
        self.live[handle.id] = (handle, sub)

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def unsubscribe(self, data: st.DataObject) -> None:
        sub_id = data.draw(st.sampled_from(sorted(self.live)))
        handle, _ = self.live.pop(sub_id)
        self.book.remove(handle)
        self.book.remove(handle)  # twice is harmless

    def _needs_send(self) -> bool:
        keys = self.book.wanted_keys()
        return bool(keys) and (self.book.owes_snapshots(keys) or self.book.live_signature(keys) != self.sent)

    @rule()
    def send(self) -> None:
        objects = self.book.request_objects()
        assert objects == self.book.request_objects()  # deterministic
        assert objects == self.book.request_objects(self.book.wanted_keys())
        if not self._needs_send():
            return
        assert objects, "a send never carries an empty request"
        for obj in objects:
            if "codes" in obj:
                assert obj["codes"] == sorted(obj["codes"])
        self.server.apply(objects)
        self.book.mark_requested(self.book.wanted_keys(), 0.0)
        self.sent = self.book.live_signature()
        assert not self._needs_send()
        self._check_coverage()

    def _check_coverage(self) -> None:
        for handle, sub in self.live.values():
            for spec in sub.specs:
                if spec.mode == "snapshot":
                    continue
                for key in _keys(spec):
                    if key[0] == "myOrder" and ("myOrder", "", None) in self.server.streams:
                        continue  # every market covers any code
                    assert key in self.server.streams, (key, self.server.streams)
                    assert self.server.streams[key] >= (spec.depth or 30)

    @rule()
    def deliver_snapshots(self) -> None:
        queued, self.server.queued = self.server.queued, []
        for key, depth in queued:
            self._route(self.server.event(key, depth, ub.StreamType.SNAPSHOT))

    @rule(code=st.sampled_from(CODES))
    def realtime_tick(self, code: str) -> None:
        for key, depth in list(self.server.streams.items()):
            if key[1] in (code, ""):
                self._route(self.server.event(key, depth, ub.StreamType.REALTIME, code if key[1] == "" else None))

    @rule()
    def reconnect(self) -> None:
        self.server = ModelServer()
        self.book.reset_connection()
        self.sent = None
        for _, sub in self.live.values():
            sub.snapshots.clear()
        assert not self.book.wanted_keys() or self._needs_send()

    def _route(self, event: object) -> None:
        deliveries, finished = self.book.route(event)
        targets = [target for target, _ in deliveries]
        assert len(targets) == len(set(map(id, targets))), "nobody gets an event twice"
        key = event_key(event)
        for target, delivered in deliveries:
            wanted = target.wants(key)
            assert wanted, f"{key} delivered to a subscriber that did not ask for it"
            assert not target.ended
            if delivered.stream_type is ub.StreamType.SNAPSHOT:
                assert any(s.mode != "realtime" for s in wanted), "realtime mode never sees snapshots"
                target.snapshots[key] += 1
                assert target.snapshots[key] == 1, "one snapshot per code per connection"
            elif key[0] not in ("myOrder", "myAsset"):
                assert any(s.mode != "snapshot" for s in wanted)
                if any(s.mode == "both" for s in wanted) and not any(s.mode == "realtime" for s in wanted):
                    assert target.snapshots[key] == 1, "mode both: the snapshot comes first"
            if isinstance(delivered, ub.Orderbook):
                depth = max(s.depth or 30 for s in wanted)
                assert len(delivered.orderbook_units) <= depth
            target.received.append(delivered)
        for handle in finished:
            sub = handle.target
            assert all(s.mode == "snapshot" for s in sub.specs)
            sub.ended = True
            self.live.pop(handle.id, None)
            self.book.remove(handle)

    @invariant()
    def quiet_at_rest(self) -> None:
        waiting = any(h.waiting for h, _ in self.live.values())
        if not waiting:
            for obj in self.book.request_objects():
                if obj["type"] not in ("myOrder", "myAsset"):
                    assert obj.get("is_only_realtime"), obj

    @invariant()
    def one_send_settles_everything(self) -> None:
        # With no further changes, one send then the snapshots leave nobody waiting.
        if self._needs_send() or self.server.queued:
            return
        for handle, sub in self.live.values():
            if handle.waiting == 0:
                continue
            # everybody still waiting has had its snapshot requested on this connection
            assert all(i.requested_at is not None for i in handle.interests.values() if i.waiting)


def _keys(spec: ub.Spec) -> list[tuple]:
    if spec.type == "orderbook":
        return [(spec.type, c, spec.level or ZERO) for c in spec.codes]
    if spec.type == "myAsset" or spec.all_codes:
        return [(spec.type, "", None)]
    return [(spec.type, c, None) for c in spec.codes]


BookMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestSubscriptionBook = BookMachine.TestCase


def test_three_subscribers_make_one_request_carrying_all_three() -> None:
    book = SubscriptionBook()
    book.add([ub.ticker("KRW-BTC")])
    book.add([ub.trade(["KRW-ETH", "KRW-BTC"], mode="realtime")])
    book.add([ub.orderbook("KRW-BTC", depth=5)])
    assert book.request_objects() == [
        {"type": "ticker", "codes": ["KRW-BTC"]},
        {"type": "trade", "codes": ["KRW-BTC", "KRW-ETH"], "is_only_realtime": True},
        {"type": "orderbook", "codes": ["KRW-BTC.5"]},
    ]


def test_snapshot_only_work_leaves_live_streams_realtime() -> None:
    book = SubscriptionBook()
    live = book.add([ub.ticker("KRW-BTC", mode="realtime")])
    book.mark_requested(book.wanted_keys(), 0.0)
    book.add([ub.ticker(["KRW-BTC", "KRW-ETH"], mode="snapshot")])
    assert book.owes_snapshots(book.wanted_keys())
    assert book.request_objects() == [
        {"type": "ticker", "codes": ["KRW-BTC"]},
        {"type": "ticker", "codes": ["KRW-ETH"], "is_only_snapshot": True},
    ]
    # The live realtime subscriber never sees the snapshot the other one asked for.
    deliveries, finished = book.route(sample(ub.Ticker, code="KRW-BTC", stream_type=ub.StreamType.SNAPSHOT))
    assert [t for t, _ in deliveries] == [None] and live.target is None and not finished


def test_unchanged_demand_keeps_its_signature_and_owes_nothing() -> None:
    book = SubscriptionBook()
    first = book.add([ub.ticker("KRW-BTC", mode="realtime")])
    sent = book.live_signature()
    second = book.add([ub.ticker("KRW-BTC", mode="realtime")])
    assert book.live_signature() == sent and not book.owes_snapshots(book.wanted_keys())
    book.remove(second)
    assert book.live_signature() == sent
    book.remove(first)
    assert book.wanted_keys() == [] and book.request_objects() == []


def test_requests_over_a_subset_of_keys_and_forgotten_requests() -> None:
    book = SubscriptionBook()
    book.add([ub.ticker(["KRW-BTC", "KRW-ETH"])])
    btc = ("ticker", "KRW-BTC", None)
    assert book.request_objects([btc]) == [{"type": "ticker", "codes": ["KRW-BTC"]}]
    book.mark_requested([btc], 1.0)
    assert not book.owes_snapshots([btc]) and book.owes_snapshots(book.wanted_keys())
    assert book.starving(10.0, 5.0) and not book.starving(5.0, 5.0)
    book.forget_requests([btc])  # the server refused that request
    assert book.owes_snapshots([btc]) and not book.starving(10.0, 5.0)
