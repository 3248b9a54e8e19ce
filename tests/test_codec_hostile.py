"""Hostile numbers: decode only ever returns policy-abiding events or raises ProtocolError.

The number policy (``_core/number_policy.py``): integer fields fit signed 64 bits; every Decimal is
finite, has at most 60 significant digits and an adjusted exponent in [-40, 40]. Both decode paths
apply it: the fast one (msgspec, frames shaped as Upbit sends them) and the careful one (stdlib
json, anything else; reached here by putting a key before ``type``).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_codec import TYPE_NAMES, _documented_frame, events
from test_security_decode_fuzz import Raw, wire

import upbit_stream as ub
from upbit_stream._core.encode import encode_event
from upbit_stream._core.fast_path import decimal_fields
from upbit_stream._core.number_policy import (
    INT64_MAX,
    INT64_MIN,
    decimal_problem,
    excerpt,
    int_problem,
    passes_screen,
)

FUZZ = settings(max_examples=300, deadline=timedelta(seconds=2), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- helpers ---------------------------------------------------------------------------------------


def frame_with(type_name: str, fmt: ub.Format, key: str, value: Any, careful: bool = False) -> bytes:
    """A documented ``type_name`` frame in ``fmt`` whose field ``key`` (DEFAULT name) is ``value``.

    ``value`` may be a ``Raw`` (bytes written verbatim). ``careful`` puts a key before ``type``,
    which sends the frame down the careful path.
    """
    obj, _ = _documented_frame(type_name, fmt.simple_keys)
    cls = ub.decode(_default_frame(type_name))[0].__class__
    name = attrs.fields_dict(cls)[key].metadata["simple"] if fmt.simple_keys else key
    obj[name] = value
    if careful:
        obj = {"~": 0, **obj}
    return wire([obj, obj] if fmt.listed else obj)


def _default_frame(type_name: str) -> bytes:
    return wire(_documented_frame(type_name, False)[0])


def nested_frame(fmt: ub.Format, unit_value: Any, careful: bool = False) -> bytes:
    """An orderbook frame in ``fmt`` whose fourth unit has ``ask_price`` = ``unit_value``."""
    obj, _ = _documented_frame("orderbook", fmt.simple_keys)
    units = obj["obu" if fmt.simple_keys else "orderbook_units"]
    units[3] = {**units[3], ("ap" if fmt.simple_keys else "ask_price"): unit_value}
    if careful:
        obj = {"~": 0, **obj}
    return wire([obj] if fmt.listed else obj)


def assert_policy(messages: list[Any]) -> None:
    """Every integer and Decimal field of every returned event abides by the number policy."""
    for message in messages:
        if isinstance(message, ub.SubscriptionList):
            for stream in message.streams:
                assert stream.level is None or decimal_problem(stream.level) is None
        if not attrs.has(type(message)) or isinstance(message, (ub.UnknownMessage, ub.SubscriptionList)):
            continue
        _assert_object_policy(message)


def _assert_object_policy(obj: Any) -> None:
    flat, nested = decimal_fields(type(obj))
    for name in flat:
        value = getattr(obj, name)
        assert value is None or (isinstance(value, Decimal) and decimal_problem(value) is None), (name, value)
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        if isinstance(value, int) and not isinstance(value, bool):
            assert INT64_MIN <= value <= INT64_MAX, field.name
    for name, _ in nested:
        for item in getattr(obj, name):
            _assert_object_policy(item)


def decode_or_error(frame: bytes | str) -> list[Any] | str:
    """The messages, or the ProtocolError's text; any other exception fails the test."""
    try:
        messages = ub.decode(frame)
    except ub.ProtocolError as exc:
        return f"ProtocolError: {exc}"
    assert_policy(messages)
    return messages


FORMATS = list(ub.Format)
HUGE_INT = b"9" * 400

# -- the measured bugs -----------------------------------------------------------------------------


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", ["timestamp", "trade_timestamp", "sequential_id"])
def test_a_400_digit_integer_is_a_protocol_error_not_an_overflow(key: str, fmt: ub.Format, careful: bool) -> None:
    frame = frame_with("trade", fmt, key, Raw(HUGE_INT), careful)
    with pytest.raises(ub.ProtocolError, match=f"Trade.{key}: integer .* outside the signed 64-bit range") as info:
        ub.decode(frame)
    assert "9" * 100 not in str(info.value)  # the value is summarised, not echoed
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_orderbook_level_snan_is_a_protocol_error(fmt: ub.Format, careful: bool) -> None:
    with pytest.raises(ub.ProtocolError, match=r"Orderbook.level: sNaN is not a finite number"):
        ub.decode(frame_with("orderbook", fmt, "level", "sNaN", careful))


SPECIALS = ["NaN", "nan", "-inf", "sNaN", "Inf", "Infinity", "+Infinity", "-NaN", " nan ", "NaN123",
            "sNaN5", "INF", "-Infinity", "iNfInItY"]


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text", SPECIALS)
def test_non_finite_strings_are_refused_in_every_decimal_field_path(text: str, fmt: ub.Format, careful: bool) -> None:
    with pytest.raises(ub.ProtocolError, match=r"Trade.trade_price: .*not a finite number"):
        ub.decode(frame_with("trade", fmt, "trade_price", text, careful))


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_every_decimal_field_of_every_type_is_checked(type_name: str) -> None:
    cls = ub.decode(_default_frame(type_name))[0].__class__
    flat, _ = decimal_fields(cls)
    assert flat or type_name == "myAsset"
    for fmt in (ub.Format.DEFAULT, ub.Format.SIMPLE_LIST):
        for name in flat:
            for value in ("NaN", Raw(b"1e41")):
                with pytest.raises(ub.ProtocolError, match=rf"{cls.__name__}\.{name}: "):
                    ub.decode(frame_with(type_name, fmt, name, value))


# -- absurd numbers, and the edges that are still fine ---------------------------------------------

ABSURD = [
    (Raw(b"1e41"), "magnitude 10^41"),
    (Raw(b"-1E+400"), "magnitude 10^400"),
    (Raw(b"1e999999999"), "magnitude 10^999999999"),
    (Raw(b"1E-41"), "magnitude 10^-41"),
    (Raw(b"0.0000000000000000000000000000000000000000001"), "magnitude 10^-43"),
    (Raw(b"0E-41"), "magnitude 10^-41"),
    (Raw(b"0e50"), "magnitude 10^50"),
    (Raw(b"1." + b"1" * 60), "61 significant digits"),
    (Raw(b"9" * 41 + b"0" * 1000), "magnitude 10^1040"),
    ("1e41", "magnitude 10^41"),
    ("1" * 61, "magnitude 10^60"),
    ("0." + "1" * 61, "61 significant digits"),
    ("1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1", "magnitude 10^41"),
    ("\u0661" * 45, "magnitude 10^44"),  # Arabic-Indic digits: Decimal reads them
]


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("fmt", [ub.Format.DEFAULT, ub.Format.SIMPLE, ub.Format.JSON_LIST])
@pytest.mark.parametrize(("value", "reason"), ABSURD)
def test_absurd_decimals_are_refused_naming_the_field(value: Any, reason: str, fmt: ub.Format, careful: bool) -> None:
    with pytest.raises(ub.ProtocolError, match=rf"Trade.trade_volume: number .*{re.escape(reason)}") as info:
        ub.decode(frame_with("trade", fmt, "trade_volume", value, careful))
    assert len(str(info.value)) < 300


EDGES = [
    "1E+40", "-9.999999999999999999999999999999999999999E+40", "1E-40", "-1E-40", "0E-40", "0E+40",
    "0", "-0.0", "0.000", "1." + "2" * 59, "9" * 60 + "E-20",
    "1" * 41 + ".5",  # 42 digits, adjusted exponent 40
    "1." + "0" * 45,  # 46 digits: beyond the fast screen, accepted by the careful path
    "0.5" + "0" * 41,  # exponent -43 with adjusted -1: likewise
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text", EDGES)
def test_values_at_the_edges_decode_alike_on_both_paths(text: str, fmt: ub.Format) -> None:
    assert decimal_problem(Decimal(text)) is None
    fast = ub.decode(frame_with("trade", fmt, "trade_price", Raw(text.encode())))
    careful = ub.decode(frame_with("trade", fmt, "trade_price", Raw(text.encode()), careful=True))
    assert fast == careful
    assert str(fast[0].trade_price) == str(Decimal(text))  # the digits, not just the value


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_nested_decimal_is_named_with_its_index(fmt: ub.Format, careful: bool) -> None:
    with pytest.raises(ub.ProtocolError, match=r"Orderbook.orderbook_units\[3\] OrderbookUnit.ask_price: "
                                               r"Infinity is not a finite number"):
        ub.decode(nested_frame(fmt, "Infinity", careful))
    with pytest.raises(ub.ProtocolError, match=r"OrderbookUnit.ask_price: number .*61 significant digits"):
        ub.decode(nested_frame(fmt, Raw(b"0." + b"7" * 61), careful))


def test_my_asset_balances_are_checked() -> None:
    obj, _ = _documented_frame("myAsset", simple=True)
    obj["ast"][0]["b"] = "NaN"
    with pytest.raises(ub.ProtocolError, match=r"MyAsset.assets\[0\] Asset.balance: NaN is not a finite number"):
        ub.decode(wire(obj))


@pytest.mark.parametrize("level", [b'"sNaN"', b'"NaN"', b"1e41", b'"Infinity"', b"1E-50"])
def test_list_subscriptions_level_obeys_the_policy(level: bytes) -> None:
    frame = b'{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"orderbook","codes":["KRW-BTC"],"level":%s}]}' % level
    with pytest.raises(ub.ProtocolError, match="LIST_SUBSCRIPTIONS level"):
        ub.decode(frame)


def test_integers_written_with_an_exponent_are_range_checked_without_expanding_them() -> None:
    [trade] = ub.decode(frame_with("trade", ub.Format.DEFAULT, "sequential_id", Raw(b"9.2e18")))
    assert trade.sequential_id == 9_200_000_000_000_000_000
    for text in (b"1e19", b"-9.3e18", b"1e999999999", b"1e4300"):
        with pytest.raises(ub.ProtocolError, match="Trade.sequential_id: integer .* outside the signed 64-bit"):
            ub.decode(frame_with("trade", ub.Format.DEFAULT, "sequential_id", Raw(text)))


def test_huge_values_are_not_echoed_in_messages() -> None:
    for value in (Raw(b"7" * 100_000), "7" * 100_000, Raw(b"7" * 4000 + b"e-99999")):
        with pytest.raises(ub.ProtocolError) as info:
            ub.decode(frame_with("trade", ub.Format.SIMPLE, "trade_price", value))
        assert "7" * 100 not in str(info.value) and len(str(info.value)) < 300


# -- the policy module itself ---------------------------------------------------------------------


def test_policy_boundaries() -> None:
    assert decimal_problem(Decimal("9.99E+40")) is None
    assert "magnitude 10^41" in decimal_problem(Decimal("1E+41"))  # type: ignore[operator]
    assert decimal_problem(Decimal("1E-40")) is None
    assert "magnitude 10^-41" in decimal_problem(Decimal("1E-41"))  # type: ignore[operator]
    assert decimal_problem(Decimal("1." + "0" * 59)) is None
    assert "61 significant digits" in decimal_problem(Decimal("1." + "0" * 60))  # type: ignore[operator]
    for special in ("NaN", "sNaN", "Infinity", "-Infinity"):
        assert "not a finite number" in decimal_problem(Decimal(special))  # type: ignore[operator]
    assert int_problem(INT64_MAX) is None and int_problem(INT64_MIN) is None
    assert int_problem(INT64_MAX + 1) and int_problem(INT64_MIN - 1)


def test_excerpts_are_short() -> None:
    assert excerpt("x" * 1000).endswith("…") and len(excerpt("x" * 1000)) <= 24
    assert excerpt(10**5000) == "<an integer of about 5001 digits>"
    assert excerpt(-(10**40)) == "-<an integer of 41 digits>"
    assert excerpt(Decimal("1E+999999999")) == "1E+999999999"


any_decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(lambda m, e: Decimal(f"{m}E{e}"), st.integers(-(10**70), 10**70), st.integers(-120, 120)),
    st.sampled_from([Decimal("0E-41"), Decimal("0E-40"), Decimal("0E+40"), Decimal("0E+41"), Decimal("sNaN"),
                     Decimal("-0"), Decimal("1E-40"), Decimal("1E+40")]),
)


@settings(max_examples=2000, database=None)
@given(any_decimals)
def test_the_fast_screen_never_passes_what_the_policy_refuses(value: Decimal) -> None:
    if passes_screen(value):
        assert decimal_problem(value) is None


# -- fuzzing: arbitrary input, and frames whose numbers are made hostile ---------------------------


@FUZZ
@given(st.binary(max_size=400) | st.text(max_size=400))
def test_any_input_gives_policy_abiding_messages_or_protocol_error(frame: bytes | str) -> None:
    decode_or_error(frame)


HOSTILE_RAW = [b"1e41", b"-1e41", b"1E-41", b"0E-41", b"0e41", b"1e999999999", b"-1E-999999999", b"9" * 61,
               b"0." + b"0" * 40 + b"1", b"1." + b"2" * 60, b"9" * 400, b"-" + b"9" * 20, b"9223372036854775808",
               b"-9223372036854775809", b"9223372036854775807", b"1.7e16", b"1e4300", b"-0", b"0.0", b"1E+40"]
hostile_values = st.one_of(
    st.sampled_from(HOSTILE_RAW).map(Raw),
    st.sampled_from(SPECIALS + ["1e41", "1" * 61, "0E-41", "1_0", " 12 ", "\u0661\u0662", "", "1e", "0x10"]),
    st.builds(lambda sign, text: sign + text, st.sampled_from(["", "-", "+", " "]),
              st.sampled_from(["nan", "NAN", "inf", "INFINITY", "snan", "sNaN1"])),
    st.integers(INT64_MIN - 10, INT64_MAX + 10),
    st.integers(),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: Raw(str(d).encode())),
    st.builds(lambda m, e: Raw(b"%de%d" % (m, e)), st.integers(-(10**30), 10**30), st.integers(-200, 200)),
)


@st.composite
def number_mutations(draw: st.DrawFn) -> tuple[Any, ub.Format]:
    """A real frame of any type, DEFAULT or SIMPLE keys (object or list), with numbers made hostile."""
    fmt = draw(st.sampled_from(FORMATS))
    if draw(st.booleans()):
        obj, _ = _documented_frame(draw(st.sampled_from(TYPE_NAMES)), fmt.simple_keys)
    else:
        keys = ub.Format.SIMPLE if fmt.simple_keys else ub.Format.DEFAULT
        obj = json.loads(encode_event(draw(events), keys), parse_float=Decimal)
    targets = _number_paths(obj)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(targets))
        obj = _set(obj, path, draw(hostile_values))
    return obj, fmt


def _number_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _number_paths(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _number_paths(item, (*path, index))]
    return [path] if path and not isinstance(value, bool) else []


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _set(copy[path[0]], path[1:], new)
    return copy


def check_both_paths(sample: tuple[Any, ub.Format]) -> None:
    """The fast and the careful path give equal messages, or both refuse for the same field."""
    obj, fmt = sample
    fast = decode_or_error(wire([obj] if fmt.listed else obj))
    careful = decode_or_error(wire([{"~": 0, **obj}] if fmt.listed else {"~": 0, **obj}))
    if isinstance(fast, str) or isinstance(careful, str):
        # Both refuse, for the same field (the excerpt of the frame differs by the added key).
        assert isinstance(fast, str) and isinstance(careful, str), (fast, careful)
        assert fast.split(": '")[0] == careful.split(": '")[0]
    else:
        assert repr(fast) == repr(careful)


@FUZZ
@given(number_mutations())
def test_hostile_numbers_give_the_same_outcome_on_both_paths(sample: tuple[Any, ub.Format]) -> None:
    check_both_paths(sample)


@FUZZ
@given(number_mutations())
def test_hostile_numbers_as_text_and_bytes_agree(sample: tuple[Any, ub.Format]) -> None:
    obj, fmt = sample
    frame = wire([obj] if fmt.listed else obj)
    as_bytes = decode_or_error(frame)
    as_text = decode_or_error(frame.decode())
    assert repr(as_bytes) == repr(as_text)


@pytest.mark.parametrize("frame", [
    b'{"type":"tradeX","code":"KRW-BTC","trade_price":1}',
    b'{"type":"trad","code":"KRW-BTC"}',
    b'{"ty":"tickerX","cd":"KRW-BTC"}',
    b'{"type":"candle.7m","code":"KRW-BTC"}',
    # A repeated type key: the last one counts, whatever the first bytes said.
    b'{"type":"trade",' + wire(_documented_frame("ticker", False)[0])[1:],
    b'{"ty":"trade",' + wire(_documented_frame("orderbook", True)[0])[1:],
])
def test_frames_dispatched_on_their_first_bytes_still_get_their_own_type(frame: bytes) -> None:
    careful = ub.decode(b'{"~":0,' + frame[1:])
    assert repr(ub.decode(frame)) == repr(careful)
    assert ub.decode(frame)[0].__class__ is careful[0].__class__


@pytest.mark.parametrize("simple", [False, True])
def test_a_bad_number_in_any_item_of_a_list_frame_is_refused(simple: bool) -> None:
    good, _ = _documented_frame("trade", simple)
    other, _ = _documented_frame("ticker", simple)
    bad = {**good, ("tp" if simple else "trade_price"): "Infinity"}
    assert len(ub.decode(wire([good, good, other]))) == 3
    for items in ([good, bad], [good, other, bad], [bad, other]):
        with pytest.raises(ub.ProtocolError, match=r"Trade.trade_price: Infinity is not a finite number"):
            ub.decode(wire(items))


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize(("key", "message"), [("timestamp", "Trade.timestamp: integer "),
                                               ("trade_price", "Trade.trade_price: number ")])
def test_integers_too_long_for_int_are_refused_by_field_not_as_bad_json(key: str, message: str, careful: bool) -> None:
    for digits in (b"9" * 5000, b"-" + b"7" * 50_000):
        with pytest.raises(ub.ProtocolError, match=re.escape(message)) as info:
            ub.decode(frame_with("trade", ub.Format.SIMPLE, key, Raw(digits), careful))
        assert len(str(info.value)) < 300
