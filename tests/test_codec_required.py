"""Required and optional event fields: which is which, and what decoding does when a frame leaves
one out or sends it null (both decode paths, every format)."""

from __future__ import annotations

import json
import typing

import attrs
import pytest
from event_helpers import sample, sample_wire
from test_codec import _wire_json

import upbit_stream as ub
from upbit_stream._core.events import simple_key
from upbit_stream._core.fast_path import DEFAULT as FAST_DEFAULT
from upbit_stream._core.fast_path import FAST_FAILURES
from upbit_stream._core.fast_path import SIMPLE as FAST_SIMPLE


def _without_optional(cls: type, simple: bool, **fields: object) -> dict:
    """A wire object of ``cls`` with only its type, code and required fields (DEFAULT or SIMPLE keys)."""
    wire = sample_wire(cls, "SIMPLE" if simple else "DEFAULT", **fields)
    for field in attrs.fields(cls):
        if field.default is not attrs.NOTHING and field.name not in ("type", "code"):
            del wire[field.metadata["simple"] if simple else field.name]
    return wire


def test_nulls_absent_fields_unknown_fields_and_key_order() -> None:
    wire = _without_optional(ub.Ticker, simple=False, code="KRW-ETH")
    frame = {"code": "KRW-ETH", "brand_new_field": [1, 2], **wire, "delisting_date": None, "market_state": None}
    [ticker] = ub.decode(json.dumps(frame))
    assert ticker.code == "KRW-ETH" and ticker.trade_price == 1
    assert ticker.delisting_date is None and ticker.market_state is None and ticker.highest_52_week_price is None


@pytest.mark.parametrize("fmt", list(ub.Format))
@pytest.mark.parametrize("type_first", [True, False], ids=["fast", "careful"])
@pytest.mark.parametrize("cls", [ub.Ticker, ub.Trade, ub.Orderbook, ub.Candle, ub.MyOrder, ub.MyAsset])
def test_frames_without_optional_fields_decode_with_none_there(cls: type, type_first: bool, fmt: ub.Format) -> None:
    wire = _without_optional(cls, fmt.simple_keys)
    type_key = "ty" if fmt.simple_keys else "type"
    if not type_first:  # not shaped as Upbit sends it: the careful path decodes it
        wire[type_key] = wire.pop(type_key)
    frame = _wire_json([wire] if fmt.listed else wire)
    [event] = ub.decode(frame)
    assert event == sample(cls)
    assert all(getattr(event, f.name) is None for f in attrs.fields(cls) if f.default is None)
    if type_first:
        fast = (FAST_SIMPLE if fmt.simple_keys else FAST_DEFAULT)[wire[type_key].encode()][1 if fmt.listed else 0]
        assert fast(frame) == [event]


# The required fields of each class, as Upbit's tables and the live myOrder capture say (written out
# here on purpose, so a field made optional or required by mistake fails).
REQUIRED = {
    ub.Ticker: """opening_price high_price low_price trade_price prev_closing_price change change_price
        signed_change_price change_rate signed_change_rate trade_volume acc_trade_volume acc_trade_volume_24h
        acc_trade_price acc_trade_price_24h trade_date trade_time trade_timestamp ask_bid acc_ask_volume
        acc_bid_volume timestamp stream_type""",
    ub.Trade: """trade_price trade_volume ask_bid prev_closing_price change change_price trade_date trade_time
        trade_timestamp timestamp sequential_id stream_type""",
    ub.OrderbookUnit: "ask_price bid_price ask_size bid_size",
    ub.Orderbook: "total_ask_size total_bid_size timestamp stream_type",
    ub.Candle: """candle_date_time_utc candle_date_time_kst opening_price high_price low_price trade_price
        candle_acc_trade_volume candle_acc_trade_price timestamp stream_type""",
    ub.MyOrder: """uuid ask_bid order_type state avg_price trades_count reserved_fee remaining_fee paid_fee
        locked executed_funds order_timestamp timestamp stream_type""",
    ub.Asset: "currency balance locked",
    ub.MyAsset: "asset_uuid asset_timestamp timestamp stream_type",
}


def test_the_fields_upbit_always_sends_are_required_and_never_none() -> None:
    for cls, names in REQUIRED.items():
        required = {f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING}
        assert required == set(names.split()), cls
        hints = typing.get_type_hints(cls)
        for field in attrs.fields(cls):
            optional = type(None) in typing.get_args(hints[field.name])
            assert optional == (field.default is None), (cls, field.name)


def _required_cases() -> list[tuple[type, str]]:
    cases = [(cls, name) for cls, names in REQUIRED.items() if cls not in (ub.OrderbookUnit, ub.Asset)
             for name in names.split()]
    return cases + [(ub.Orderbook, "orderbook_units.bid_size"), (ub.MyAsset, "assets.currency")]


@pytest.mark.parametrize("fmt", list(ub.Format))
@pytest.mark.parametrize("null", [False, True], ids=["absent", "null"])
@pytest.mark.parametrize(("cls", "name"), _required_cases(), ids=lambda c: getattr(c, "__name__", c))
def test_a_frame_without_a_required_field_is_a_protocol_error_naming_it(
        cls: type, name: str, null: bool, fmt: ub.Format) -> None:
    nested = {ub.Orderbook: ("orderbook_units", ub.OrderbookUnit), ub.MyAsset: ("assets", ub.Asset)}.get(cls)
    items = {nested[0]: (sample(nested[1]),)} if nested else {}
    wire = sample_wire(cls, "SIMPLE" if fmt.simple_keys else "DEFAULT", **items)
    parent, _, child = name.partition(".")
    target, owner, field = (wire, cls, parent) if not child else (
        wire[simple_key(cls, parent) if fmt.simple_keys else parent][0], nested[1], child)
    key = simple_key(owner, field) if fmt.simple_keys else field
    if null:
        target[key] = None
    else:
        del target[key]
    frame = _wire_json([wire, wire] if fmt.listed else wire)
    expected = f"{owner.__name__} lacks {field} "
    type_name = wire["ty" if fmt.simple_keys else "type"].encode()
    fast = (FAST_SIMPLE if fmt.simple_keys else FAST_DEFAULT)[type_name][1 if fmt.listed else 0]
    with pytest.raises(FAST_FAILURES):  # the fast path refuses it and leaves it to the careful path …
        fast(frame)
    with pytest.raises(ub.ProtocolError, match=expected) as info:  # … which names the field
        ub.decode(frame)
    if child:
        assert f"{cls.__name__}.{parent}[0]" in str(info.value)


def test_every_missing_required_field_is_named_at_once() -> None:
    with pytest.raises(ub.ProtocolError, match=r"Trade lacks trade_price, trade_volume, .*, stream_type \(required"):
        ub.decode(b'{"type":"trade","code":"KRW-BTC"}')
