"""The endpoint protocol against a model Upbit, in virtual time: admission, narrowing, dead versus quiet.

Each test is a regression test for a behaviour a hostile-server review found broken when this
logic lived in the trio shell (see ``protocol_harness`` for the model server).
"""

from __future__ import annotations

import json

import upbit_stream as ub
from protocol_harness import Harness, ModelUpbit
from upbit_stream._core.protocol import ProtocolConfig

CODES = {"KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-ADA", "KRW-DOGE", "KRW-TRX", "KRW-DOT"}


def _requests(server: ModelUpbit) -> list[list[dict]]:
    return [body for _, body in server.requests]


def test_a_rejected_code_fails_only_its_own_subscriber_in_the_same_debounce_window() -> None:
    server = ModelUpbit(CODES)
    h = Harness(server)
    h.connect()
    good, _ = h.subscribe("good", ub.ticker("KRW-BTC"))
    bad, _ = h.subscribe("bad", ub.ticker("KRW-NOPE"))
    h.run(10)
    assert good.failure is None and good.events[0].stream_type is ub.StreamType.SNAPSHOT
    assert isinstance(bad.failure, ub.ServerError) and bad.failure.name == "INVALID_PARAM"
    assert server.streams.keys() == {("ticker", "KRW-BTC", None)}


def test_a_third_subscriber_during_a_slow_round_trip_is_not_blamed() -> None:
    server = ModelUpbit(CODES, rtt=0.2)
    h = Harness(server)
    h.connect()
    first, _ = h.subscribe("first", ub.ticker("KRW-BTC"))
    bad, _ = h.subscribe("bad", ub.ticker("KRW-NOPE"))
    h.run(0.05)  # the request is on the wire; its error is 100 ms away
    third, _ = h.subscribe("third", ub.trade("KRW-ETH"))
    h.run(10)
    assert first.failure is None and third.failure is None
    assert isinstance(bad.failure, ub.ServerError)
    assert {("ticker", "KRW-BTC", None), ("trade", "KRW-ETH", None)} <= server.streams.keys()
    assert third.events and third.events[0].stream_type is ub.StreamType.SNAPSHOT


def test_narrowing_many_new_codes_fails_only_the_bad_ones() -> None:
    server = ModelUpbit(CODES)
    h = Harness(server)
    h.connect()
    targets = [h.subscribe(code, ub.ticker(code))[0] for code in sorted(CODES)]
    bad = [h.subscribe(code, ub.ticker(code))[0] for code in ("KRW-AAA", "KRW-ZZZ")]
    h.run(60)
    assert all(t.failure is None and t.events for t in targets)
    assert all(isinstance(b.failure, ub.ServerError) for b in bad)
    assert {key[1] for key in server.streams} == CODES


def test_a_market_delisted_while_subscribed_fails_only_its_subscriber_after_the_reconnect() -> None:
    server = ModelUpbit(CODES)
    h = Harness(server)
    h.connect()
    btc, _ = h.subscribe("btc", ub.ticker("KRW-BTC"))
    eth, _ = h.subscribe("eth", ub.trade("KRW-ETH"))
    doomed, _ = h.subscribe("doomed", ub.ticker("KRW-XRP"))
    h.run(5)
    assert not (btc.failure or eth.failure or doomed.failure)
    server.codes.discard("KRW-XRP")  # delisted
    h.drop()
    h.run(60)
    assert btc.failure is None and eth.failure is None
    assert isinstance(doomed.failure, ub.ServerError)
    assert server.streams.keys() == {("ticker", "KRW-BTC", None), ("trade", "KRW-ETH", None)}


def test_a_delisting_noticed_by_a_new_subscriber_blames_neither_it_nor_the_admitted_ones() -> None:
    server = ModelUpbit(CODES)
    h = Harness(server)
    h.connect()
    old, _ = h.subscribe("old", ub.ticker(["KRW-BTC", "KRW-XRP"]))
    h.run(5)
    server.codes.discard("KRW-XRP")  # delisted while subscribed: every request carrying it is refused now
    new, _ = h.subscribe("new", ub.ticker("KRW-ETH"))
    h.run(60)
    assert new.failure is None, "the new subscriber's valid code is never blamed"
    assert isinstance(old.failure, ub.ServerError), "after a fresh connection the delisted code fails alone"
    assert h.connections == 2
    assert server.streams.keys() == {("ticker", "KRW-ETH", None)}


def test_duplicated_and_unsolicited_error_frames_blame_nobody() -> None:
    server = ModelUpbit(CODES)
    server.repeat_errors = True
    h = Harness(server)
    h.connect()
    good, _ = h.subscribe("good", ub.ticker("KRW-BTC"))
    bad, _ = h.subscribe("bad", ub.ticker("KRW-NOPE"))
    h.run(10)
    late, _ = h.subscribe("late", ub.ticker("KRW-ETH"))
    h.run(10)
    server.unsolicited_error(h.now)
    h.run(10)
    assert good.failure is None and late.failure is None
    assert isinstance(bad.failure, ub.ServerError)
    assert h.protocol.stats(h.now).unmatched_errors >= 2
    assert h.connections == 1


def test_an_error_answer_to_a_user_query_fails_only_that_query() -> None:
    server = ModelUpbit(CODES)
    h = Harness(server)
    h.connect()
    good, _ = h.subscribe("good", ub.ticker("KRW-BTC"))
    h.run(5)
    original = server.receive

    def refuse_list(text: str, now: float) -> None:
        if "LIST_SUBSCRIPTIONS" in text:
            server._send(now, json.dumps({"error": {"name": "WRONG_FORMAT", "message": "no"}}))
        else:
            original(text, now)

    server.receive = refuse_list  # type: ignore[method-assign]
    query = h.protocol.ask_subscriptions()
    h.run(5)
    assert isinstance(h.answers[query], ub.ServerError)
    assert good.failure is None and h.connections == 1


def test_requests_stay_within_both_windows_under_churn() -> None:
    server = ModelUpbit(CODES)
    h = Harness(server)
    h.connect()
    handles = []
    codes = sorted(CODES)
    for i in range(300):  # a new code every 30 ms, the oldest dropped: the demand changes each time
        handles.append(h.subscribe(str(i), ub.trade(codes[i % len(codes)], mode="realtime"))[1])
        if len(handles) > 3:
            h.unsubscribe(handles.pop(0))
        h.run(0.03)
    h.run(120)
    times = [t for t, _ in server.requests]
    assert len(times) > 10
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u < t + 1.0) <= 5
        assert sum(1 for u in times[i:] if u < t + 60.0) <= 100


def test_a_dead_link_is_aborted_within_interval_plus_timeout() -> None:
    config = ProtocolConfig(ping_interval=1.0, pong_timeout=1.0, stale_after=90.0)
    server = ModelUpbit(CODES)
    h = Harness(server, config)
    h.connect()
    h.subscribe("t", ub.ticker("KRW-BTC"))
    h.run(3)
    stalled_at = h.now
    server.stalled = True
    h.run(3, reconnect=False)
    assert h.ended and h.ended[-1].abort and "no pong" in h.ended[-1].failure.reason
    assert h.ended_at[-1] - stalled_at <= config.ping_interval + config.pong_timeout


def test_a_quiet_market_that_answers_is_not_replaced() -> None:
    config = ProtocolConfig(ping_interval=30.0, pong_timeout=10.0, stale_after=90.0)
    server = ModelUpbit(CODES)
    h = Harness(server, config)
    h.connect()
    h.subscribe("t", ub.trade("KRW-BTC", mode="realtime"))
    h.run(5)
    server.quiet = True  # no trades at all; pings answered
    h.run(24 * 3600)
    assert h.connections == 1 and not h.ended
    lists = [body for body in _requests(server) if any("method" in part for part in body)]
    assert 900 <= len(lists) <= 1000  # one proof per 90 s of silence, within the request limits


def test_a_quiet_connection_that_lost_its_subscription_is_replaced() -> None:
    server = ModelUpbit(CODES)
    h = Harness(server)
    h.connect()
    target, _ = h.subscribe("t", ub.trade("KRW-BTC", mode="realtime"))
    h.run(5)
    server.quiet = True
    server.forget_subscription = True
    h.run(95, reconnect=False)
    assert h.ended and h.ended[-1].abort and "no longer streaming trade KRW-BTC" in h.ended[-1].failure.reason
    assert target.failure is None


def test_a_subscriber_starved_of_its_snapshot_makes_health_degraded() -> None:
    server = ModelUpbit(CODES)
    h = Harness(server)
    h.connect()
    original = server.event
    server.event = lambda key, depth, stream: (  # type: ignore[method-assign]
        original(("orderbook", key[1], 0), depth, stream) if key[0] == "orderbook" else original(key, depth, stream))
    h.subscribe("grouped", ub.orderbook("KRW-BTC", level=1000))  # the server answers with level 0
    h.run(5)
    assert h.protocol.health_reasons(h.now) == []
    h.run(15)
    (reason,) = h.protocol.health_reasons(h.now)
    assert "no snapshot" in reason and "KRW-BTC" in reason


def test_one_snapshot_per_code_per_connection_and_a_gap_after_a_reconnect() -> None:
    server = ModelUpbit(CODES)
    h = Harness(server)
    h.connect()
    target, _ = h.subscribe("t", ub.ticker(["KRW-BTC", "KRW-ETH"]), gaps=True)
    h.run(2)
    for _ in range(3):
        server.tick("KRW-BTC", h.now)
        h.run(1)
    h.drop()
    h.run(10)
    snapshots = [e.code for e in target.events if e.stream_type is ub.StreamType.SNAPSHOT]
    assert sorted(snapshots) == ["KRW-BTC", "KRW-BTC", "KRW-ETH", "KRW-ETH"]
    assert len(target.gaps) == 1 and target.gaps[0].reason


def test_an_unchanged_demand_after_churn_sends_nothing_more() -> None:
    server = ModelUpbit(CODES)
    h = Harness(server)
    h.connect()
    _, first = h.subscribe("a", ub.ticker("KRW-BTC", mode="realtime"))
    h.run(2)
    sent = len(server.requests)
    _, second = h.subscribe("b", ub.ticker("KRW-BTC", mode="realtime"))
    h.unsubscribe(second)
    h.run(10)
    assert len(server.requests) == sent


def test_bytes_are_counted_per_frame_and_messages_per_event() -> None:
    from upbit_stream._core.encode import encode_events
    from upbit_stream._core.policies import ConnectGate
    from upbit_stream._core.protocol import EndpointProtocol
    from upbit_stream.testing._market import MarketSim

    market = MarketSim(seed=1)
    trades = [market.step_trade(1_700_000_000_000 + n, "KRW-BTC") for n in range(3)]
    protocol = EndpointProtocol("public", ProtocolConfig(), ConnectGate(5))
    listed = encode_events(trades, "JSON_LIST")
    single = encode_events(trades[:1], "DEFAULT")
    protocol.frames_received([listed, single], 0.0, 0.0)
    assert protocol.messages == {"trade": 4}
    assert protocol.bytes == {"trade": len(listed) + len(single)}
