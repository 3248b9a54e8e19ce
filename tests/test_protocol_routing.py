"""Routing inside one batch of frames: who gets which event when SNAPSHOTs, new subscribers and reconnects interleave."""

from __future__ import annotations

from decimal import Decimal

import upbit_stream as ub
from event_helpers import sample
from upbit_stream._core.classify import Failure, Recovery
from upbit_stream._core.encode import encode_event
from upbit_stream._core.policies import ConnectGate
from upbit_stream._core.protocol import EndpointProtocol, ProtocolConfig

SNAP, LIVE = ub.StreamType.SNAPSHOT, ub.StreamType.REALTIME


def _trade(n: int, stream_type: ub.StreamType = LIVE, code: str = "KRW-BTC") -> bytes:
    return encode_event(sample(ub.Trade, code=code, sequential_id=n, stream_type=stream_type), "DEFAULT")


def _book(n: int, units: int) -> bytes:
    unit = sample(ub.OrderbookUnit)
    return encode_event(sample(ub.Orderbook, code="KRW-BTC", timestamp=n, level=Decimal(0), stream_type=LIVE,
                               orderbook_units=(unit,) * units), "DEFAULT")


def _connected() -> EndpointProtocol:
    protocol = EndpointProtocol("public", ProtocolConfig(), ConnectGate(5))
    protocol.attempt_started(0.0)
    protocol.connection_made(0.0, 0.0)
    return protocol


def _ids(delivered: dict, target: str) -> list[int]:
    return [event.sequential_id for event in delivered.get(target, [])]


def test_realtime_events_after_a_snapshot_in_the_same_batch_reach_the_subscriber_it_let_in() -> None:
    protocol = _connected()
    protocol.subscribe([ub.trade("KRW-BTC", mode="realtime")], "live", 0.0)
    protocol.subscribe([ub.trade("KRW-BTC", mode="both")], "both", 0.0)
    delivered = protocol.frames_received([_trade(1), _trade(2, SNAP), _trade(3), _trade(4)], 1.0, 1.0)
    assert _ids(delivered, "live") == [1, 3, 4]
    assert _ids(delivered, "both") == [2, 3, 4]


def test_a_snapshot_only_subscriber_finished_mid_batch_gets_nothing_after_its_snapshot() -> None:
    protocol = _connected()
    protocol.subscribe([ub.trade("KRW-BTC", mode="realtime")], "live", 0.0)
    protocol.subscribe([ub.trade("KRW-BTC", mode="snapshot")], "once", 0.0)
    delivered = protocol.frames_received([_trade(1), _trade(2, SNAP), _trade(3)], 1.0, 1.0)
    assert _ids(delivered, "once") == [2]
    assert _ids(delivered, "live") == [1, 3]


def test_routing_follows_subscribers_coming_and_going_between_batches() -> None:
    protocol = _connected()
    first = protocol.subscribe([ub.trade(["KRW-BTC", "KRW-ETH"], mode="realtime")], "first", 0.0)
    assert _ids(protocol.frames_received([_trade(1), _trade(2, code="KRW-ETH")], 1.0, 1.0), "first") == [1, 2]
    protocol.subscribe([ub.trade("KRW-BTC", mode="realtime")], "second", 1.0)
    delivered = protocol.frames_received([_trade(3), _trade(4, code="KRW-ETH")], 2.0, 2.0)
    assert (_ids(delivered, "first"), _ids(delivered, "second")) == ([3, 4], [3])
    protocol.unsubscribe(first, 2.0)
    delivered = protocol.frames_received([_trade(5), _trade(6, code="KRW-ETH")], 3.0, 3.0)
    assert (_ids(delivered, "first"), _ids(delivered, "second")) == ([], [5])


def test_after_a_reconnect_a_both_subscriber_waits_for_its_snapshot_again() -> None:
    protocol = _connected()
    protocol.subscribe([ub.trade("KRW-BTC", mode="both")], "both", 0.0)
    assert _ids(protocol.frames_received([_trade(1, SNAP), _trade(2)], 1.0, 1.0), "both") == [1, 2]
    protocol.connection_lost(Failure("test", Recovery.RETRY, ub.ConnectError("test")), 2.0, 2.0)
    protocol.attempt_started(3.0)
    protocol.connection_made(3.0, 3.0)
    assert _ids(protocol.frames_received([_trade(3), _trade(4, SNAP), _trade(5)], 4.0, 4.0), "both") == [4, 5]


def test_each_subscriber_gets_its_own_orderbook_depth_from_the_same_batch() -> None:
    protocol = _connected()
    protocol.subscribe([ub.orderbook("KRW-BTC", depth=5, mode="realtime")], "five", 0.0)
    protocol.subscribe([ub.orderbook("KRW-BTC", mode="realtime")], "all", 0.0)
    delivered = protocol.frames_received([_book(1, 15), _book(2, 3)], 1.0, 1.0)
    assert [len(book.orderbook_units) for book in delivered["five"]] == [5, 3]
    assert [len(book.orderbook_units) for book in delivered["all"]] == [15, 3]


def test_messages_and_bytes_are_counted_per_type_when_types_interleave_in_a_batch() -> None:
    from upbit_stream._core.encode import encode_events

    protocol = _connected()
    trade, ticker = _trade(1), encode_event(sample(ub.Ticker, code="KRW-BTC", stream_type=LIVE), "DEFAULT")
    listed = encode_events([sample(ub.Trade, code="KRW-ETH", stream_type=LIVE)] * 2, "JSON_LIST")
    protocol.frames_received([trade, ticker, listed, ticker, b"not json", trade], 1.0, 1.0)
    protocol.frames_received([ticker], 2.0, 2.0)
    assert protocol.messages == {"trade": 4, "ticker": 3}
    assert protocol.bytes == {"trade": 2 * len(trade) + len(listed), "ticker": 3 * len(ticker)}
    assert protocol.protocol_errors == 1
