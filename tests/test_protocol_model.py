"""A Hypothesis state machine over the endpoint protocol and a model Upbit that misbehaves.

The model server rejects unknown codes, delists markets while they are subscribed, drops links,
goes quiet, stalls, repeats error frames and sends unsolicited ones. Invariants:

* nobody receives a type, code, level or stream type they did not ask for, or a SNAPSHOT twice
  for one code on one connection;
* a subscriber admitted on the current connection is never failed by a server error;
* without unsolicited error frames, a subscriber fails only if one of its own codes is invalid;
* requests stay within 5 in every 1 s window and 100 in every 60 s window;
* quiet at rest: a request asks for snapshots only of keys someone waits for;
* progress: once the server behaves for a while, every subscriber whose codes are all valid has
  its snapshots, and every other one has failed.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import upbit_stream as ub
from protocol_harness import Harness, ModelUpbit, Target
from upbit_stream._core.protocol import ProtocolConfig

VALID = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"]
INVALID = ["KRW-NOPE", "KRW-GONE"]
ZERO = Decimal(0)

codes = st.lists(st.sampled_from(VALID + INVALID), min_size=1, max_size=3)
specs = st.one_of(
    st.builds(ub.ticker, codes, mode=st.sampled_from(["both", "realtime", "snapshot"])),
    st.builds(ub.trade, codes, mode=st.sampled_from(["both", "realtime"])),
    st.builds(ub.orderbook, codes, mode=st.sampled_from(["both", "realtime"]), depth=st.sampled_from([None, 5]),
              level=st.sampled_from([None, 1000])),
)


class CheckedHarness(Harness):
    """The harness, checking each request against the book as it is sent."""

    def step(self) -> None:
        if not self.connected:
            return
        original = self.server.receive

        def receive(text: str, now: float) -> None:
            self._check_quiet_at_rest(text)
            original(text, now)

        self.server.receive = receive  # type: ignore[method-assign]
        try:
            super().step()
        finally:
            self.server.receive = original  # type: ignore[method-assign]

    def _check_quiet_at_rest(self, text: str) -> None:
        body = json.loads(text)
        waiting = {key for sub in self.protocol.book.subscribers for key, i in sub.interests.items() if i.waiting}
        for obj in body:
            if "type" not in obj or obj.get("is_only_realtime"):
                continue
            for wire in obj["codes"]:
                level = Decimal(str(obj.get("level", 0))) if obj["type"] == "orderbook" else None
                key = (obj["type"], wire.partition(".")[0], level)
                assert key in waiting, f"a request asks for a snapshot nobody waits for: {key}"


class ProtocolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.server = ModelUpbit(set(VALID), rtt=0.05)
        config = ProtocolConfig(ping_interval=5.0, pong_timeout=2.0, stale_after=20.0, snapshot_patience=10.0)
        self.h = CheckedHarness(self.server, config)
        self.h.connect()
        self.live: dict[int, tuple[Target, object]] = {}
        self.failed: list[Target] = []
        self.next_id = 0
        self.spurious = False
        self.seen: dict[int, int] = {}  # target id -> events checked so far
        self.snapshots: dict[tuple[int, int], Counter] = {}  # (target id, connection) -> key counts

    # -- the subscribers ----------------------------------------------------------------------

    @rule(chosen=st.lists(specs, min_size=1, max_size=2), gaps=st.booleans())
    def subscribe(self, chosen: list[ub.Spec], gaps: bool) -> None:
        self._act(lambda: self._subscribe(chosen, gaps))

    def _subscribe(self, chosen: list[ub.Spec], gaps: bool) -> None:
        target, handle = self.h.subscribe(str(self.next_id), *chosen, gaps=gaps)
        self.live[self.next_id] = (target, handle)
        self.next_id += 1

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def unsubscribe(self, data: st.DataObject) -> None:
        which = data.draw(st.sampled_from(sorted(self.live)))
        target, handle = self.live.pop(which)
        self._act(lambda: self.h.unsubscribe(handle))

    # -- time and the market -------------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.01, 0.05, 0.2, 1.0, 5.0, 30.0]))
    def advance(self, seconds: float) -> None:
        self._act(lambda: self.h.run(seconds))

    @rule(code=st.sampled_from(VALID))
    def trade_happens(self, code: str) -> None:
        self._act(lambda: (self.server.tick(code, self.h.now), self.h.run(0.1)))

    # -- misbehaviour --------------------------------------------------------------------------

    @rule()
    def drop_link(self) -> None:
        if self.h.connected:
            self._act(self.h.drop)

    @rule(code=st.sampled_from(VALID[2:]))
    def delist(self, code: str) -> None:
        self.server.codes.discard(code)

    @rule(on=st.booleans())
    def repeat_errors(self, on: bool) -> None:
        self.server.repeat_errors = on

    @rule()
    def unsolicited_error(self) -> None:
        self.spurious = True
        self.server.unsolicited_error(self.h.now)

    @rule(on=st.booleans())
    def go_quiet(self, on: bool) -> None:
        self.server.quiet = on

    @rule()
    def stall(self) -> None:
        self.server.stalled = True

    @rule()
    def behave_and_settle(self) -> None:
        """The server behaves for two minutes: everyone valid gets served, everyone else has failed."""
        self.server.quiet = self.server.repeat_errors = False
        if self.server.stalled:
            self.server.resume(self.h.now)
        spurious = self.spurious
        self._act(lambda: self.h.run(120.0))
        for target, _ in self.live.values():
            valid = all(key[1] in self.server.codes for key in target.keys())
            if target.failure is None:
                waiting = [i for sub in self.h.protocol.book.subscribers if sub.target is target
                           for i in sub.interests.values() if i.waiting]
                assert not waiting or not valid or not self.h.connected, f"{target} still waits for snapshots"
            elif not spurious:
                assert not valid, f"{target} failed though all its codes are valid: {target.failure}"

    # -- checks -------------------------------------------------------------------------------

    def _act(self, action) -> None:  # type: ignore[no-untyped-def]
        epoch = self.h.connections
        admitted = self.h.protocol.admission.admitted
        before = {id(t) for t, _ in self.live.values() if t.failure is None and t.keys() <= admitted}
        action()
        for target, _ in list(self.live.values()):
            if target.failure is not None and target not in self.failed:
                self.failed.append(target)
                if isinstance(target.failure, ub.ServerError):
                    if self.h.connections == epoch:
                        assert id(target) not in before, f"admitted {target} failed by a server error"
                    if not self.spurious:
                        assert any(key[1] not in self.server.codes for key in target.keys()), target.failure

    @invariant()
    def deliveries_were_asked_for(self) -> None:
        for target, _ in self.live.values():
            start = self.seen.get(id(target), 0)
            for event, epoch in zip(target.events[start:], target.epochs[start:]):
                level = (event.level or ZERO) if isinstance(event, ub.Orderbook) else None
                key = (event.type, event.code, level)
                wanted = target.wants(key)
                assert wanted, f"{key} delivered to {target}, which did not ask for it"
                if event.stream_type is ub.StreamType.SNAPSHOT:
                    assert any(s.mode != "realtime" for s in wanted), "realtime mode never sees snapshots"
                    counts = self.snapshots.setdefault((id(target), epoch), Counter())
                    counts[key] += 1
                    assert counts[key] == 1, f"two snapshots of {key} on one connection"
                else:
                    assert any(s.mode != "snapshot" for s in wanted)
                if isinstance(event, ub.Orderbook):
                    assert len(event.orderbook_units) <= max(s.depth or 30 for s in wanted)
            self.seen[id(target)] = len(target.events)

    @invariant()
    def requests_within_limits(self) -> None:
        times = [t for t, _ in self.server.requests]
        recent = [t for t in times if t > self.h.now - 61]
        for i, t in enumerate(recent):
            assert sum(1 for u in recent[i:] if u < t + 1.0) <= 5, "more than 5 requests in 1 s"
        for i, t in enumerate(recent):
            assert sum(1 for u in recent[i:] if u < t + 60.0) <= 100, "more than 100 requests in 60 s"


ProtocolMachine.TestCase.settings = settings(max_examples=400, stateful_step_count=60, deadline=None)
TestProtocolModel = ProtocolMachine.TestCase


def test_the_checked_harness_rejects_a_snapshot_nobody_waits_for() -> None:
    """The quiet-at-rest check itself can fail."""
    h = CheckedHarness(ModelUpbit(set(VALID)))
    h.connect()
    try:
        h._check_quiet_at_rest('[{"ticket":"t"},{"type":"ticker","codes":["KRW-BTC"]}]')
    except AssertionError:
        return
    raise AssertionError("an unwanted snapshot request went unnoticed")

