"""The relay's pure core: subjects, Nats-Msg-Id keys, stream plans, gap decisions (no NATS, no trio)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from event_helpers import sample
from hypothesis import given
from hypothesis import strategies as st

import upbit_stream as ub
from upbit_stream._core.encode import encode_event
from upbit_stream._relay.markers import (
    Ack,
    Catalog,
    Heartbeat,
    ack_outcome,
    decode_gap,
    encode_gap,
    lag_gap,
    restart_gap,
)
from upbit_stream._relay.naming import (
    Names,
    inbox_prefix,
    message_id,
    params_token,
    spec_subjects,
    stream_sequence,
    subject_for,
    subject_matches,
    uncovered,
)

NAMES = Names()
token = st.text("abcXYZ019_-", min_size=1, max_size=6)
subjects = st.lists(token, min_size=1, max_size=5).map(".".join)


def test_subjects_follow_the_documented_shapes():
    assert spec_subjects(NAMES, ub.ticker(["KRW-ETH", "KRW-BTC"])) == ("upbit.kr.ticker.KRW-BTC", "upbit.kr.ticker.KRW-ETH")
    assert spec_subjects(NAMES, ub.candle("KRW-BTC", "1m")) == ("upbit.kr.candle.1m.KRW-BTC",)
    assert spec_subjects(NAMES, ub.orderbook("KRW-BTC", depth=15, level="0.1")) == ("upbit.kr.orderbook.KRW-BTC.d15.l0_1",)
    assert spec_subjects(NAMES, ub.my_order()) == ("upbit.kr.account.main.myOrder.*",)
    assert spec_subjects(Names("kr", "alice"), ub.my_asset()) == ("upbit.kr.account.alice.myAsset",)
    assert spec_subjects(NAMES, ub.announcement("trade")) == ("upbit.kr.announcement.trade",)
    assert spec_subjects(NAMES, ub.indicator("KRW-BTC", "5m", [ub.rsi(14), ub.bollinger_bands(20, "2.5")])) == (
        "upbit.kr.indicator.KRW-BTC.5m.rsi-14", "upbit.kr.indicator.KRW-BTC.5m.bollinger_bands-20-2_5")
    signal = ub.signal(ub.rsi(14), "overbought", threshold=70)
    assert spec_subjects(NAMES, ub.indicator_signal("KRW-BTC", "15m", signal)) == (
        "upbit.kr.indicator_signal.KRW-BTC.15m.rsi-14.overbought-70",)


def test_decimal_params_give_one_token_however_they_are_written():
    assert params_token(ub.bollinger_bands(20, "2.0")) == params_token(ub.bollinger_bands(20, Decimal("2"))) \
        == "bollinger_bands-20-2"


def test_streams_split_history_state_and_accounts():
    assert NAMES.stream_of("trade") == "UPBIT_KR_EVENTS"
    assert NAMES.stream_of("candle.5m") == "UPBIT_KR_STATE"
    assert NAMES.stream_of("myOrder") == "UPBIT_KR_ACCOUNT_MAIN"
    plans = {plan.name: plan for plan in NAMES.plans(max_age=60, max_bytes=1 << 20, with_account=True)}
    assert plans["UPBIT_KR_STATE"].max_msgs_per_subject > 1 and plans["UPBIT_KR_EVENTS"].max_msgs_per_subject == -1
    assert all(plan.duplicate_window <= plan.max_age for plan in plans.values())
    with pytest.raises(ValueError, match="account alias"):
        Names("kr", "a.b")


def test_every_published_subject_is_inside_its_streams_subjects():
    plans = {plan.name: plan for plan in NAMES.plans(max_age=60, max_bytes=1 << 20, with_account=True)}
    for spec in (ub.ticker("KRW-BTC"), ub.trade("KRW-BTC"), ub.orderbook("KRW-BTC", depth=5), ub.candle("KRW-BTC", "3m"),
                 ub.my_order("KRW-BTC"), ub.my_asset(), ub.announcement()):
        stream = plans[NAMES.stream_of(spec.type)]
        for subject in spec_subjects(NAMES, spec):
            assert any(subject_matches(pattern, subject) for pattern in stream.subjects), subject
    for stream in plans.values():
        gap = NAMES.gap_subject(stream.name)
        if stream.name != "UPBIT_KR_CONTROL":
            assert any(subject_matches(pattern, gap) for pattern in stream.subjects)


@given(subjects)
def test_a_subject_matches_itself_and_the_wildcards_over_it(subject):
    tokens = subject.split(".")
    assert subject_matches(subject, subject)
    assert subject_matches(".".join([*tokens[:-1], "*"]), subject)
    assert subject_matches(">", subject)
    assert not subject_matches(subject + ".x", subject)
    assert uncovered([subject], [subject]) == []


def test_message_ids_key_trades_and_orders_and_ignore_snapshot_stamps_otherwise():
    trade = sample(ub.Trade, code="KRW-BTC", sequential_id=17, stream_type=ub.StreamType.REALTIME)
    assert message_id("s", trade, encode_event(trade)) == "trade:KRW-BTC:17"
    order = sample(ub.MyOrder, code="KRW-BTC", uuid="u", state=ub.OrderState.TRADE, trade_uuid="t")
    assert message_id("s", order, encode_event(order)) == "myOrder:u:trade:t"
    live = sample(ub.Ticker, code="KRW-BTC", trade_price=Decimal("1.0"), stream_type=ub.StreamType.REALTIME)
    snap = sample(ub.Ticker, code="KRW-BTC", trade_price=Decimal("1.0"), stream_type=ub.StreamType.SNAPSHOT)
    other = sample(ub.Ticker, code="KRW-BTC", trade_price=Decimal("1.00"), stream_type=ub.StreamType.REALTIME)
    ids = {message_id("s", e, encode_event(e)) for e in (live, snap)}
    assert len(ids) == 1 and message_id("s", other, encode_event(other)) not in ids  # exact digits matter
    assert message_id("a", live, encode_event(live)) != message_id("b", live, encode_event(live))


@given(st.text(min_size=1, max_size=20), st.floats(0, 2e9), st.floats(0, 2e9))
def test_gap_markers_round_trip(reason, since, until):
    gap = ub.StreamGap(reason, since, until)
    assert decode_gap(encode_gap(gap, "r1")) == gap
    assert decode_gap(encode_gap(gap, "r1"), not_before=until + 1) is None
    assert decode_gap(b"not json") is None


def test_a_restart_is_a_gap_only_when_no_other_relay_is_alive():
    beats = [Heartbeat("old", 100.0), Heartbeat("standby", 109.5)]
    assert restart_gap(beats, me="new", now=110.0, interval=1.0) is None  # the standby covered it
    gap = restart_gap(beats, me="new", now=200.0, interval=1.0)
    assert gap is not None and (gap.since, gap.until) == (109.5, 200.0)
    assert restart_gap([], me="new", now=1.0, interval=1.0) is None  # nothing was ever promised
    unhealthy = [Heartbeat("standby", 109.5, healthy=False)]
    assert restart_gap(unhealthy, me="new", now=110.0, interval=1.0) is not None


@given(st.integers(0, 10**6), st.integers(1, 10**6))
def test_behind_retention_means_deleted_messages_after_the_acknowledged_one(acked, first):
    gap = lag_gap(acked_stream_seq=acked, first_seq=first, since=0.0, now=1.0)
    assert (gap is not None) == (acked > 0 and first > acked + 1)


def test_catalog_round_trips_and_rejects_garbage():
    catalog = Catalog(("upbit.kr.trade.KRW-BTC",), ("trade:KRW-BTC",), "r1", True)
    assert Catalog.decode(catalog.encode()) == catalog
    assert Catalog.decode(b"[]") is None and Heartbeat.decode(b"{}") is None


def test_each_user_gets_its_own_inbox_prefix_unless_one_is_given():
    assert inbox_prefix(None, "alice") == "_INBOX.alice"
    assert inbox_prefix(None, None) == "_INBOX"  # a token login: nats-py's default
    assert inbox_prefix(None, "bob@example.com") == "_INBOX"  # not one subject token
    assert inbox_prefix("_INBOX_desk.one", "alice") == "_INBOX_desk.one"
    for bad in ("_INBOX.*", "_INBOX.>", "a..b", "", "with space", ".x"):
        with pytest.raises(ValueError, match="inbox_prefix"):
            inbox_prefix(bad, "alice")


@given(st.integers(1, 2**63), st.integers(1, 2**40), st.booleans(), st.sampled_from(["_", "hub"]))
def test_the_stream_sequence_is_read_from_either_reply_layout_as_nats_py_reads_it(seq, other, v2, domain):
    from nats.aio.msg import Msg

    if v2:
        reply = f"$JS.ACK.{domain}.ACCHASH.UPBIT_KR_EVENTS.reader.1.{seq}.{other}.1700000000000000000.0.rnd"
    else:
        reply = f"$JS.ACK.UPBIT_KR_EVENTS.reader.1.{seq}.{other}.1700000000000000000.0"
    assert stream_sequence(reply) == seq == Msg(None, subject="upbit.kr.trade.KRW-BTC", reply=reply).metadata.sequence.stream  # type: ignore[arg-type]


@pytest.mark.parametrize("reply", [None, "", "_INBOX.x.y", "$JS.ACK.S.c.1.2", "$JS.ACK.S.c.1.x.3.4.5",
                                   "$JS.API.CONSUMER.INFO.S.c.1.2.3"])
def test_a_reply_that_is_no_jetstream_delivery_has_no_stream_sequence(reply):
    assert stream_sequence(reply) is None


@pytest.mark.parametrize(("headers", "data", "outcome"), [
    (None, b'{"stream":"S","seq":7}', Ack.STORED),
    (None, b'{"stream":"S","seq":7,"duplicate":true}', Ack.DUPLICATE),
    ({"Status": "503"}, b"", Ack.NO_STREAM),
    (None, b'{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}',
     Ack.REJECTED),
    (None, b'{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}',
     Ack.RETRY),
    (None, b'{"error":{"code":500,"description":"store failure"}}', Ack.RETRY),
    (None, b"not json", Ack.RETRY),
    (None, b'{"seq":7}', Ack.RETRY),
])
def test_an_acknowledgement_is_read_as_stored_duplicate_retry_or_refused_for_good(headers, data, outcome):
    verdict, why = ack_outcome(headers, data)
    assert verdict is outcome
    if outcome is Ack.REJECTED:
        assert why == "message size exceeds maximum allowed (err_code 10054)"


@given(st.binary(max_size=200))
def test_any_acknowledgement_body_gets_a_verdict_and_never_raises(data):
    verdict, why = ack_outcome(None, data)
    assert isinstance(verdict, Ack) and isinstance(why, str)


@given(st.integers(min_value=100, max_value=599), st.text(max_size=40))
def test_only_a_4xx_error_is_refused_for_good(code, description):
    import json

    body = json.dumps({"error": {"code": code, "err_code": 10000, "description": description}}).encode()
    verdict, _ = ack_outcome(None, body)
    assert verdict is (Ack.REJECTED if 400 <= code < 500 else Ack.RETRY)
