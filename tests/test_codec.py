"""The codec against Upbit's documented field tables, in every format, plus garbage and fuzzing."""

from __future__ import annotations

import json
import typing
from decimal import Decimal

import attrs
import pytest
from event_helpers import sample, sample_wire
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import upbit_stream as ub
from upbit_stream._core.encode import (
    encode_event,
    encode_events,
    encode_list_subscriptions,
    encode_request,
)
from upbit_stream._core.events import CANDLE_INTERVALS
from upbit_stream._core.number_policy import decimal_problem

# The documented tables (reference/upbit-protocol.md §8): DEFAULT key, SIMPLE key, kind.
# Written out here on purpose, independently of the event classes, so a wrong key fails.
TABLES = {
    "ticker": """type ty s|code cd s|opening_price op d|high_price hp d|low_price lp d|trade_price tp d|
        prev_closing_price pcp d|change c RISE|change_price cp d|signed_change_price scp d|
        change_rate cr d|signed_change_rate scr d|trade_volume tv d|acc_trade_volume atv d|
        acc_trade_volume_24h atv24h d|acc_trade_price atp d|acc_trade_price_24h atp24h d|
        trade_date tdt s|trade_time ttm s|trade_timestamp ttms i|ask_bid ab ASK|acc_ask_volume aav d|
        acc_bid_volume abv d|highest_52_week_price h52wp d|highest_52_week_date h52wdt s|
        lowest_52_week_price l52wp d|lowest_52_week_date l52wdt s|market_state ms ACTIVE|
        is_trading_suspended its b|delisting_date dd s|market_warning mw NONE|timestamp tms i|
        stream_type st SNAPSHOT""",
    "trade": """type ty s|code cd s|trade_price tp d|trade_volume tv d|ask_bid ab BID|
        prev_closing_price pcp d|change c FALL|change_price cp d|trade_date td s|trade_time ttm s|
        trade_timestamp ttms i|timestamp tms i|sequential_id sid i|best_ask_price bap d|
        best_ask_size bas d|best_bid_price bbp d|best_bid_size bbs d|stream_type st REALTIME""",
    "orderbook": """type ty s|code cd s|total_ask_size tas d|total_bid_size tbs d|timestamp tms i|
        level lv d|stream_type st REALTIME""",
    "candle.1m": """type ty s|code cd s|candle_date_time_utc cdttmu s|candle_date_time_kst cdttmk s|
        opening_price op d|high_price hp d|low_price lp d|trade_price tp d|
        candle_acc_trade_volume catv d|candle_acc_trade_price catp d|timestamp tms i|
        stream_type st SNAPSHOT""",
    "myOrder": """type ty s|code cd s|uuid uid s|ask_bid ab BID|order_type ot limit|state s trade|
        trade_uuid tuid s|price p d|avg_price ap d|volume v d|remaining_volume rv d|
        executed_volume ev d|trades_count tc i|reserved_fee rsf d|remaining_fee rmf d|paid_fee pf d|
        locked l d|executed_funds ef d|time_in_force tif ioc|trade_fee tf d|is_maker im b|
        identifier id s|smp_type smpt cancel_maker|prevented_volume pv d|prevented_locked pl d|
        trade_timestamp ttms i|order_timestamp otms i|timestamp tms i|stream_type st REALTIME""",
    "myAsset": """type ty s|asset_uuid astuid s|asset_timestamp asttms i|timestamp tms i|
        stream_type st REALTIME""",
}
UNITS = "ask_price ap d|bid_price bp d|ask_size as d|bid_size bs d"
ASSETS = "currency cu s|balance b d|locked l d"
HUGE_ID = 2**53 + 12345678901  # beyond float precision
LONG_DECIMAL = "1386929.37231066771348207123"  # 27 significant digits, from the myAsset example


def _rows(table: str) -> list[tuple[str, str, str]]:
    return [tuple(row.split()) for row in table.split("|")]  # type: ignore[misc]


def _sample(name: str, kind: str, index: int) -> tuple[object, object]:
    """(wire value, expected decoded value) for one documented field."""
    if kind == "d":
        text = LONG_DECIMAL if index % 3 == 0 else f"{index}.{index:08d}"
        return Decimal(text), Decimal(text)
    if kind == "i":
        return HUGE_ID + index, HUGE_ID + index
    if kind == "b":
        return True, True
    if kind == "s":
        return f"value-{index}", f"value-{index}"
    return kind, kind  # an enum value


def _documented_frame(type_name: str, simple: bool) -> tuple[dict, dict]:
    wire: dict = {}
    expected: dict = {}
    for index, (default, short, kind) in enumerate(_rows(TABLES[type_name])):
        value, decoded = _sample(default, kind, index)
        if default == "type":
            value = decoded = type_name
        if default == "code":
            value = decoded = "KRW-BTC"
        wire[short if simple else default] = value
        expected[default] = decoded
    if type_name == "orderbook":
        units = [dict(zip([r[1 if simple else 0] for r in _rows(UNITS)], [Decimal(f"{n}.5")] * 4)) for n in range(30)]
        wire["obu" if simple else "orderbook_units"] = units
        expected["orderbook_units"] = tuple(ub.OrderbookUnit(ask_price=Decimal(f"{n}.5"), bid_price=Decimal(f"{n}.5"), ask_size=Decimal(f"{n}.5"), bid_size=Decimal(f"{n}.5")) for n in range(30))
    if type_name == "myAsset":
        keys = [r[1 if simple else 0] for r in _rows(ASSETS)]
        wire["ast" if simple else "assets"] = [dict(zip(keys, ["KRW", Decimal(LONG_DECIMAL), Decimal("0")]))]
        expected["assets"] = (ub.Asset(currency="KRW", balance=Decimal(LONG_DECIMAL), locked=Decimal(0)),)
    return wire, expected


def _wire_json(obj: object) -> bytes:
    # Decimals as bare JSON numbers, exactly their digits.
    text = json.dumps(obj, default=lambda d: f"@@{d}@@", separators=(",", ":"))
    return text.replace('"@@', "").replace('@@"', "").encode()


TYPE_NAMES = list(TABLES)


@pytest.mark.parametrize("fmt", list(ub.Format))
@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_every_documented_field_in_every_format(type_name: str, fmt: ub.Format) -> None:
    wire, expected = _documented_frame(type_name, fmt.simple_keys)
    frame = _wire_json([wire, wire] if fmt.listed else wire)
    events = ub.decode(frame)
    assert len(events) == (2 if fmt.listed else 1)
    for event in events:
        for name, value in expected.items():
            assert getattr(event, name) == value, name
            if isinstance(value, Decimal):
                assert str(getattr(event, name)) == str(value)  # the digits, not just the value


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_event_classes_cover_exactly_the_documented_fields(type_name: str) -> None:
    cls = ub.decode(_wire_json(_documented_frame(type_name, False)[0]))[0].__class__
    documented = {row[0]: row[1] for row in _rows(TABLES[type_name])}
    if type_name == "orderbook":
        documented["orderbook_units"] = "obu"
    if type_name == "myAsset":
        documented["assets"] = "ast"
    assert {f.name: f.metadata["simple"] for f in attrs.fields(cls)} == documented


def test_nested_simple_keys_match_the_tables() -> None:
    for cls, table in ((ub.OrderbookUnit, UNITS), (ub.Asset, ASSETS)):
        assert {f.name: f.metadata["simple"] for f in attrs.fields(cls)} == {r[0]: r[1] for r in _rows(table)}


def test_documented_trade_example_decodes_exactly() -> None:
    frame = (
        b'{"type":"trade","code":"KRW-BTC","timestamp":1787728554853,"trade_date":"2026-08-26",'
        b'"trade_time":"07:15:54","trade_timestamp":1787728554797,"trade_price":109847000.0,'
        b'"trade_volume":0.00509799,"ask_bid":"ASK","prev_closing_price":109165000.0,"change":"RISE",'
        b'"change_price":682000.0,"sequential_id":17877285547970000,"best_ask_price":109867000,'
        b'"best_ask_size":0.0099545,"best_bid_price":109847000,"best_bid_size":0.1583673,'
        b'"stream_type":"SNAPSHOT"}'
    )
    [trade] = ub.decode(frame)
    assert trade == ub.Trade(
        code="KRW-BTC", timestamp=1787728554853, trade_date="2026-08-26", trade_time="07:15:54",
        trade_timestamp=1787728554797, trade_price=Decimal("109847000.0"),
        trade_volume=Decimal("0.00509799"), ask_bid=ub.AskBid.ASK,
        prev_closing_price=Decimal("109165000.0"), change=ub.Change.RISE,
        change_price=Decimal("682000.0"), sequential_id=17877285547970000,
        best_ask_price=Decimal("109867000"), best_ask_size=Decimal("0.0099545"),
        best_bid_price=Decimal("109847000"), best_bid_size=Decimal("0.1583673"),
        stream_type=ub.StreamType.SNAPSHOT,
    )
    assert isinstance(trade.best_ask_price, Decimal)


def test_unknown_enum_value_is_kept_as_text() -> None:
    [trade] = ub.decode(json.dumps({**sample_wire(ub.Trade), "change": "SIDEWAYS"}))
    assert trade.change == "SIDEWAYS"


def test_integers_are_exact_up_to_64_bits_and_refused_beyond() -> None:
    head = json.dumps(sample_wire(ub.Trade, code="KRW-BTC"))[:-1].encode()
    for value in (2**63 - 1, -(2**63)):
        [trade] = ub.decode(head + b',"sequential_id":%d}' % value)
        assert trade.sequential_id == value
    for value in (2**63, -(2**63) - 1, 123456789012345678901234567890):
        with pytest.raises(ub.ProtocolError, match="Trade.sequential_id"):
            ub.decode(head + b',"sequential_id":%d}' % value)


def test_candle_interval_comes_from_type() -> None:
    for unit in CANDLE_INTERVALS:
        [candle] = ub.decode(json.dumps(sample_wire(ub.Candle, type=f"candle.{unit}", code="KRW-BTC")))
        assert isinstance(candle, ub.Candle) and candle.interval == unit


def test_control_frames() -> None:
    assert ub.decode(b'{"status":"UP"}') == [ub.Status("UP")]
    assert ub.decode('{"error":{"name":"NO_CODES","message":"codes 필드가 존재하지 않습니다."}}') == [
        ub.ErrorFrame("NO_CODES", "codes 필드가 존재하지 않습니다.")
    ]
    public = (
        b'{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"ticker","codes":["KRW-BTC","KRW-ETH"]},'
        b'{"type":"orderbook","codes":["KRW-BTC","KRW-ETH"],"level":0}],"ticket":"unique uuid"}'
    )
    assert ub.decode(public) == [
        ub.SubscriptionList(
            "unique uuid",
            (
                ub.SubscribedStream("ticker", ("KRW-BTC", "KRW-ETH")),
                ub.SubscribedStream("orderbook", ("KRW-BTC", "KRW-ETH"), Decimal(0)),
            ),
        )
    ]
    private = b'{"mthd":"LIST_SUBSCRIPTIONS","rslt":[{"ty":"myAsset"},{"ty":"myOrder","cds":["KRW-BTC"]}],"tckt":"t"}'
    assert ub.decode(private)[0].streams == (
        ub.SubscribedStream("myAsset"),
        ub.SubscribedStream("myOrder", ("KRW-BTC",)),
    )


def test_unknown_type_is_reported_not_raised() -> None:
    [message] = ub.decode(b'{"type":"warning_notice","title":"hello"}')
    assert isinstance(message, ub.UnknownMessage) and message.type == "warning_notice"


@pytest.mark.parametrize(
    "frame",
    [b"", b"\xff\xfe", b"not json", b"[1,2]", b'"text"', b"42", b'{"type":"ticker",', b"[{}, 3]",
     b'{"type":"ticker","trade_price":"abc"}', b'{"type":"trade","trade_price":NaN}',
     b'{"type":"orderbook","orderbook_units":5}', b'{"error":"x"}'],
)
def test_garbage_raises_one_typed_error_with_an_excerpt(frame: bytes) -> None:
    with pytest.raises(ub.ProtocolError) as info:
        ub.decode(frame)
    assert info.value.excerpt == frame.decode("utf-8", "replace")[:80]


def test_excerpt_is_short() -> None:
    with pytest.raises(ub.ProtocolError) as info:
        ub.decode(b"x" * 10_000)
    assert len(info.value.excerpt) <= 81


def test_text_and_binary_frames_decode_alike() -> None:
    frame = encode_event(sample(ub.Trade, code="KRW-BTC", trade_price=Decimal("1.10"))).decode()
    assert ub.decode(frame) == ub.decode(frame.encode()) == ub.decode(bytearray(frame.encode()))


# -- requests ------------------------------------------------------------------------------------


def test_request_shape() -> None:
    text = encode_request("t-1", [{"type": "orderbook", "codes": ["KRW-BTC.15"], "level": Decimal(10000)}], "SIMPLE")
    assert json.loads(text) == [
        {"ticket": "t-1"},
        {"type": "orderbook", "codes": ["KRW-BTC.15"], "level": 10000},
        {"format": "SIMPLE"},
    ]
    assert json.loads(encode_list_subscriptions("t-2", "DEFAULT")) == [
        {"ticket": "t-2"},
        {"method": "LIST_SUBSCRIPTIONS"},
        {"format": "DEFAULT"},
    ]
    with pytest.raises(ValueError):
        encode_request("t", [], "DEFAULT")


def test_list_frames_must_be_single_in_object_formats() -> None:
    event = sample(ub.Trade, code="KRW-BTC")
    with pytest.raises(ValueError):
        encode_events([event, event], "DEFAULT")
    assert ub.decode(encode_events([event, event], "JSON_LIST")) == [event, event]


# -- round trips ---------------------------------------------------------------------------------

# Values the number policy accepts: finite, <= 60 significant digits, adjusted exponent in [-40, 40].
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(lambda d: decimal_problem(d) is None)
longs = st.integers(min_value=-(2**63), max_value=2**63 - 1)
texts = st.text(max_size=12)


def _strategy_for(cls: type) -> st.SearchStrategy:
    """Events of ``cls``: every required field a value, every optional one None or a value."""
    hints = typing.get_type_hints(cls)
    fields = {}
    for field in attrs.fields(cls):
        hint = hints[field.name]
        if field.name == "type" or field.name == "code":
            continue
        if typing.get_origin(hint) is tuple:
            item = typing.get_args(hint)[0]
            fields[field.name] = st.lists(_strategy_for(item), max_size=3).map(tuple)
            continue
        base = [a for a in typing.get_args(hint) if a is not type(None)][0] if field.default is None else hint
        if base is Decimal:
            strategy = decimals
        elif base is int:
            strategy = longs
        elif base is bool:
            strategy = st.booleans()
        elif base is str:
            strategy = texts
        else:
            strategy = st.sampled_from(list(base))
        fields[field.name] = strategy if field.default is attrs.NOTHING else st.none() | strategy
    return st.builds(cls, **fields)


events = st.one_of(
    _strategy_for(ub.Ticker).map(lambda e: attrs.evolve(e, code="KRW-BTC")),
    _strategy_for(ub.Trade).map(lambda e: attrs.evolve(e, code="BTC-ETH")),
    _strategy_for(ub.Orderbook),
    st.tuples(_strategy_for(ub.Candle), st.sampled_from(CANDLE_INTERVALS)).map(
        lambda p: attrs.evolve(p[0], type=f"candle.{p[1]}", code="USDT-BTC")
    ),
    _strategy_for(ub.MyOrder),
    _strategy_for(ub.MyAsset),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(event=events, fmt=st.sampled_from(list(ub.Format)))
def test_encode_then_decode_gives_an_equal_event(event: object, fmt: ub.Format) -> None:
    frame = encode_event(event, fmt)  # type: ignore[arg-type]
    assert ub.decode(frame) == [event]
    assert ub.decode(frame.decode()) == [event]


@settings(max_examples=500)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_input_only_ever_raises_protocol_error(frame: bytes | str) -> None:
    try:
        ub.decode(frame)
    except ub.ProtocolError:
        pass


@settings(max_examples=300)
@given(event=events, cut=st.integers(min_value=0, max_value=400), junk=st.binary(max_size=8))
def test_mutated_frames_only_ever_raise_protocol_error(event: object, cut: int, junk: bytes) -> None:
    frame = encode_event(event, "DEFAULT")  # type: ignore[arg-type]
    mutated = frame[:cut] + junk + frame[cut + len(junk):]
    try:
        ub.decode(mutated)
    except ub.ProtocolError:
        pass


def test_events_export_exact_plain_dicts():
    from decimal import Decimal as D

    from upbit_stream.testing._market import MarketSim

    market = MarketSim(seed=1)
    book = market.orderbook("KRW-BTC", 1_700_000_000_000, 2)
    exported = book.to_dict()
    assert exported["orderbook_units"][0]["ask_price"] == book.orderbook_units[0].ask_price
    assert isinstance(exported["orderbook_units"][0]["ask_price"], D)
    assert exported["stream_type"] == "REALTIME" and type(exported["stream_type"]) is str
    assert set(exported) == {f.name for f in attrs.fields(ub.Orderbook)}
    ticker = market.ticker("KRW-BTC", 1_700_000_000_000)
    assert ub.decode(encode_event(ticker))[0].to_dict() == ticker.to_dict()


def test_event_classes_are_final():
    for cls in (ub.Ticker, ub.Trade, ub.Orderbook, ub.OrderbookUnit, ub.Candle, ub.MyOrder, ub.MyAsset, ub.Asset):
        assert getattr(cls, "__final__", False), cls


def test_server_errors_gloss_upbits_documented_names_after_the_korean_message() -> None:
    error = ub.ServerError("INVALID_PARAM", "KRW-NOPE은 지원하지 않는 페어 코드입니다.")
    assert str(error) == ("INVALID_PARAM: KRW-NOPE은 지원하지 않는 페어 코드입니다. (a value in the request is not "
                          "supported, such as an unknown market code or category)")
    assert (error.name, error.message) == ("INVALID_PARAM", "KRW-NOPE은 지원하지 않는 페어 코드입니다.")
    assert str(ub.ServerError("NEW_NAME", "x")) == "NEW_NAME: x"


def test_encoded_numbers_are_plain_digits_as_upbit_writes_them() -> None:
    from event_helpers import sample

    from upbit_stream._core.encode import encode_event

    trade = sample(ub.Trade, trade_volume=Decimal("1E-8"), trade_price=Decimal("1E+3"), change_price=Decimal("0.5"))
    wire = encode_event(trade)
    assert b'"trade_volume":0.00000001' in wire and b'"trade_price":1000' in wire and b'"change_price":0.5' in wire
    import re

    assert not re.search(rb"\d[eE][-+]?\d", wire)
    assert ub.decode(wire) == [trade]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(event=events, fmt=st.sampled_from(list(ub.Format)),
       numbers=st.sampled_from([{}, {"trade_volume": Decimal("1E-9")}, {"trade_price": Decimal("1.2E+4")},
                                {"trade_volume": Decimal("1E-9"), "trade_price": Decimal("1.2E+4")}]))
def test_the_encoder_writes_the_bytes_of_the_value_by_value_path(event: object, fmt: ub.Format,
                                                                 numbers: dict[str, Decimal]) -> None:
    """The encoder leaves Decimals to msgspec and looks at the bytes for exponents; wire_object looks at each."""
    from upbit_stream._core.encode import _encoder, wire_object

    if isinstance(event, ub.Trade):  # str() of these is in exponent notation: 1E-9, 1.2E+4
        event = attrs.evolve(event, code="KRW-BTC", **numbers)
    exact = wire_object(event, fmt.simple_keys)
    assert encode_event(event, fmt) == _encoder.encode([exact] if fmt.listed else exact)  # type: ignore[arg-type]


def test_a_string_that_looks_like_an_exponent_changes_nothing() -> None:
    trade = sample(ub.Trade, code="KRW-E-1E+3", trade_volume=Decimal("1E-8"))
    wire = encode_event(trade)
    assert b'"code":"KRW-E-1E+3"' in wire and b'"trade_volume":0.00000001' in wire
    assert ub.decode(wire) == [trade]


@pytest.mark.parametrize(("number", "written"), [(Decimal("1.2E+4"), b"12000"), (Decimal("1E-9"), b"0.000000001")])
def test_one_number_in_exponent_notation_alone_is_written_in_plain_digits(number: Decimal, written: bytes) -> None:
    wire = encode_event(sample(ub.Trade, code="KRW-BTC", trade_price=number))
    assert b'"trade_price":' + written + b"," in wire
