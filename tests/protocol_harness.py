"""A model Upbit server and a virtual-time driver for the pure ``EndpointProtocol`` (no trio, no sockets).

``ModelUpbit`` does what Upbit documents: a request replaces the connection's subscription, or is
rejected whole with an error frame (here: an unknown code) and changes nothing; snapshots for
objects without ``is_only_realtime``; LIST_SUBSCRIPTIONS; pongs. It can also misbehave the way a
hostile review did: repeat error frames, send unsolicited ones, delist a market while it is
subscribed, go quiet (no data, pings still answered) or stall (nothing at all).

``Harness`` plays the trio driver's part with a float clock: it polls the protocol, carries out its
commands against the model, delivers the model's frames after half a round trip, and records
everything a test asserts on.
"""

from __future__ import annotations

import json
import math
import random
from decimal import Decimal
from typing import Any

import upbit_stream as ub
from upbit_stream._core.classify import Failure, Recovery
from upbit_stream._core.encode import encode_event
from upbit_stream._core.outputs import Deliver, End, Fail, Finish, Ping, QueryAnswer, Send
from upbit_stream._core.policies import ConnectGate
from upbit_stream._core.protocol import EndpointProtocol, ProtocolConfig

from event_helpers import sample

ZERO = Decimal(0)
Key = tuple[str, str, Any]


class Target:
    """A subscriber's channel as the protocol sees it: records what it is given."""

    def __init__(self, name: str, specs: tuple[ub.Spec, ...]) -> None:
        self.name = name
        self.specs = specs
        self.events: list[Any] = []
        self.epochs: list[int] = []  # the connection each event came on
        self.gaps: list[ub.StreamGap] = []
        self.failure: ub.UpbitStreamError | None = None
        self.finished = False
        self.buffer = 256

    def __repr__(self) -> str:
        return f"<Target {self.name}>"

    def wants(self, key: Key) -> list[ub.Spec]:
        type_, code, level = key
        found = []
        for spec in self.specs:
            if spec.type != type_:
                continue
            if type_ == "orderbook" and (spec.level or ZERO) != level:
                continue
            if code in spec.codes:
                found.append(spec)
        return found

    def keys(self) -> set[Key]:
        out = set()
        for spec in self.specs:
            for code in spec.codes:
                out.add((spec.type, code, (spec.level or ZERO) if spec.type == "orderbook" else None))
        return out


class ModelUpbit:
    """Upbit, as documented, with switches for the misbehaviours under test."""

    def __init__(self, codes: set[str], *, rtt: float = 0.01, seed: int = 0) -> None:
        self.codes = set(codes)
        self.rtt = rtt
        self.rng = random.Random(seed)
        self.streams: dict[Key, int] = {}  # key -> depth
        self.outbox: list[tuple[float, bytes]] = []
        self.requests: list[tuple[float, Any]] = []  # every message received (time, parsed JSON)
        self.repeat_errors = False
        self.stalled = False
        self.quiet = False
        self.forget_subscription = False  # answer LIST_SUBSCRIPTIONS with nothing (lost the subscription)
        self.unread: list[str] = []

    def resume(self, now: float) -> None:
        """End a stall: what the client sent meanwhile is read now, what was held back goes out."""
        self.stalled = False
        unread, self.unread = self.unread, []
        for text in unread:
            self.receive(text, now)

    # -- what the client sends -----------------------------------------------------------------

    def receive(self, text: str, now: float) -> None:
        if self.stalled:  # a stalled peer reads nothing: the message waits in TCP buffers
            self.unread.append(text)
            return
        body = json.loads(text)
        self.requests.append((now, body))
        at = now + self.rtt / 2
        if any("method" in part for part in body):
            self._send(at, json.dumps({"method": "LIST_SUBSCRIPTIONS", "result": self._listing(), "ticket": "t"}))
            return
        objects = [part for part in body if "type" in part]
        bad = [code.partition(".")[0] for obj in objects for code in obj.get("codes", [])
               if code.partition(".")[0] not in self.codes]
        if bad:
            frame = json.dumps({"error": {"name": "INVALID_PARAM", "message": f"unknown code {bad[0]}"}})
            self._send(at, frame)
            if self.repeat_errors:
                self._send(at, frame)
            return
        self.streams = {}
        snapshots = []
        for obj in objects:
            for wire in obj["codes"]:
                code, _, depth = wire.partition(".")
                level = Decimal(str(obj.get("level", 0))) if obj["type"] == "orderbook" else None
                key = (obj["type"], code, level)
                if not obj.get("is_only_snapshot"):
                    self.streams[key] = int(depth or 30)
                if not obj.get("is_only_realtime"):
                    snapshots.append((key, int(depth or 30)))
        for key, depth in snapshots:
            self._send(at, self.event(key, depth, ub.StreamType.SNAPSHOT))

    def _listing(self) -> list[dict[str, Any]]:
        if self.forget_subscription:
            return []
        listing: dict[tuple[str, Any], list[str]] = {}
        for (type_, code, level), _depth in sorted(self.streams.items(), key=str):
            listing.setdefault((type_, level), []).append(code)
        return [{"type": t, "codes": c, **({"level": float(lv)} if lv is not None else {})}
                for (t, lv), c in listing.items()]

    # -- what it sends -------------------------------------------------------------------------

    def _send(self, at: float, frame: str | bytes) -> None:
        self.outbox.append((at, frame.encode() if isinstance(frame, str) else frame))

    def event(self, key: Key, depth: int, stream: ub.StreamType) -> bytes:
        type_, code, level = key
        if type_ == "orderbook":
            units = tuple(sample(ub.OrderbookUnit, ask_price=Decimal(n + 1)) for n in range(depth))
            event: Any = sample(ub.Orderbook, code=code, level=level, orderbook_units=units, stream_type=stream)
        elif type_ == "trade":
            event = sample(ub.Trade, code=code, stream_type=stream)
        else:
            event = sample(ub.Ticker, code=code, stream_type=stream)
        return encode_event(event)

    def tick(self, code: str, now: float) -> None:
        """A trade on ``code``: every stream of it sends a REALTIME event."""
        if self.stalled or self.quiet:
            return
        for key, depth in list(self.streams.items()):
            if key[1] == code:
                self._send(now + self.rtt / 2, self.event(key, depth, ub.StreamType.REALTIME))

    def unsolicited_error(self, now: float) -> None:
        self._send(now, json.dumps({"error": {"name": "WRONG_FORMAT", "message": "out of the blue"}}))

    def due(self, now: float) -> list[bytes]:
        if self.stalled:
            return []
        ready = [frame for at, frame in self.outbox if at <= now]
        self.outbox = [(at, frame) for at, frame in self.outbox if at > now]
        return ready

    def next_at(self) -> float:
        return math.inf if self.stalled else min((at for at, _ in self.outbox), default=math.inf)

    def new_connection(self) -> None:
        self.streams = {}
        self.outbox = []
        self.unread = []
        self.stalled = False
        self.quiet = False
        self.forget_subscription = False


class Harness:
    """The driver's part, in virtual time."""

    def __init__(self, server: ModelUpbit, config: ProtocolConfig | None = None, seed: int = 0) -> None:
        self.server = server
        self.config = config or ProtocolConfig(ping_interval=30.0, pong_timeout=10.0, stale_after=90.0)
        self.gate = ConnectGate(5)
        self.protocol = EndpointProtocol("public", self.config, self.gate, rng=random.Random(seed))
        self.now = 0.0
        self.pong_at = math.inf
        self.ended: list[End] = []
        self.ended_at: list[float] = []
        self.answers: dict[int, Any] = {}
        self.connections = 0
        self.connected = False

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(self, name: str, *specs: ub.Spec, gaps: bool = False) -> tuple[Target, Any]:
        target = Target(name, specs)
        handle = self.protocol.subscribe(specs, target, self.now, gaps=gaps)
        self._notices()
        return target, handle

    def unsubscribe(self, handle: Any) -> None:
        self.protocol.unsubscribe(handle, self.now)
        self._notices()

    # -- connection ----------------------------------------------------------------------------

    def connect(self) -> None:
        at = self.protocol.next_attempt_at(self.now)
        self.now = max(self.now, self.now if at is None else at)
        assert self.gate.try_attempt(self.now)
        self._open_connection()

    def _open_connection(self) -> None:
        """An attempt that passed the gate at ``now`` succeeds one round trip later."""
        self.protocol.attempt_started(self.now)
        self.now += self.server.rtt
        self.server.new_connection()
        self.protocol.connection_made(self.now, self.now)
        self.connections += 1
        self.connected = True
        self.pong_at = math.inf
        self._notices()

    def drop(self, reason: str = "connection closed: 1006", code: int | None = 1006) -> None:
        self.connected = False
        failure = Failure(reason, Recovery.RETRY, ub.Disconnected(reason, code))
        self.protocol.connection_lost(failure, self.now, self.now)
        self._notices()

    # -- time ----------------------------------------------------------------------------------

    def step(self) -> None:
        """Poll the protocol once at ``now`` and carry out its commands."""
        if not self.connected:
            return
        for command in self.protocol.poll(self.now):
            if isinstance(command, Send):
                self.server.receive(command.text, self.now)
            elif isinstance(command, Ping):
                self.pong_at = math.inf if self.server.stalled else self.now + self.server.rtt
            elif isinstance(command, End):
                self.ended.append(command)
                self.ended_at.append(self.now)
                self.connected = False
                if command.failure is None:
                    self.protocol.connection_closed(self.now, self.now)
                else:
                    self.protocol.connection_lost(command.failure, self.now, self.now)
                break
        self._notices()

    def _deliver(self) -> None:
        if not self.connected:
            return
        if self.now >= self.pong_at:
            self.pong_at = math.inf
            if not self.server.stalled:
                self.protocol.pong_received(self.now)
        frames = self.server.due(self.now)
        if frames:
            for target, events in self.protocol.frames_received(frames, self.now, self.now).items():
                target.events += events
                target.epochs += [self.connections] * len(events)
        self._notices()

    def _notices(self) -> None:
        for notice in self.protocol.take_notices():
            if isinstance(notice, Deliver):
                notice.target.gaps.append(notice.item)
            elif isinstance(notice, Fail):
                assert notice.target.failure is None, "a subscriber fails once"
                notice.target.failure = notice.error
            elif isinstance(notice, Finish):
                notice.target.finished = True
            elif isinstance(notice, QueryAnswer):
                self.answers[notice.query] = notice.result

    def run(self, seconds: float, *, reconnect: bool = True) -> None:
        """Advance ``seconds`` of virtual time, going through every deadline on the way."""
        end = self.now + seconds
        spins, last = 0, -1.0
        while True:
            spins = spins + 1 if self.now == last else 0
            last = self.now
            assert spins < 200, f"the protocol asks to be polled again and again at t={self.now}"
            self._deliver()
            self.step()
            if not self.connected and reconnect:
                at = self.protocol.next_attempt_at(self.now)
                if at is not None and at <= end:
                    self.now = max(self.now, at)
                    if self.gate.try_attempt(self.now):
                        self._open_connection()
                    continue
            times = [end]
            if self.connected:
                times += [self.server.next_at(), self.pong_at, self.protocol.next_wakeup(self.now)]
            upcoming = min(times)
            if upcoming >= end:
                if self.now >= end:
                    return
                self.now = end
                continue
            self.now = max(self.now, upcoming)
