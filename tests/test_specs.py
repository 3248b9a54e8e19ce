"""Spec constructors: what they accept, and the clear errors for everything else."""

from __future__ import annotations

from decimal import Decimal

import pytest

import upbit_stream as ub


def test_codes_are_sorted_and_deduplicated() -> None:
    spec = ub.ticker(["KRW-ETH", "KRW-BTC", "KRW-ETH"])
    assert spec.codes == ("KRW-BTC", "KRW-ETH") and spec.mode == "both" and spec.endpoint == "public"
    assert ub.trade("KRW-BTC").codes == ("KRW-BTC",)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ub.ticker([]), "at least one market code"),
        (lambda: ub.ticker("krw-btc"), "upper-case, like 'KRW-BTC'"),
        (lambda: ub.trade(["KRW-BTC", "btc"]), "upper-case"),
        (lambda: ub.ticker("KRWBTC"), "not a market code"),
        (lambda: ub.orderbook("KRW-BTC.15"), "depth suffix"),
        (lambda: ub.orderbook("KRW-BTC", depth=10), "depth must be one of 1, 5, 15, 30"),
        (lambda: ub.orderbook("KRW-BTC", depth=True), "depth must be one of"),
        (lambda: ub.orderbook("BTC-ETH", level=10), "only for KRW markets, not BTC-ETH"),
        (lambda: ub.orderbook("KRW-BTC", level="abc"), "level must be a number"),
        (lambda: ub.orderbook("KRW-BTC", level=-1), "non-negative"),
        (lambda: ub.candle("KRW-BTC", "2m"), "interval must be one of 1s 1m"),
        (lambda: ub.ticker("KRW-BTC", mode="live"), "mode must be one of both, realtime, snapshot"),
        (lambda: ub.my_order(["krw-btc"]), "upper-case"),
    ],
)
def test_bad_input_gets_a_clear_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call",
    [lambda: ub.ticker(None), lambda: ub.ticker([1]), lambda: ub.orderbook("KRW-BTC", level=1.5)],
)
def test_wrong_types_get_a_type_error(call) -> None:
    with pytest.raises(TypeError):
        call()


def test_orderbook_options() -> None:
    spec = ub.orderbook(["KRW-BTC"], depth=15, level="10000")
    assert spec.depth == 15 and spec.level == Decimal(10000)
    assert ub.orderbook("KRW-BTC", depth=30).depth is None  # 30 is the full book
    assert ub.orderbook("KRW-BTC", level=0).level is None  # 0 is Upbit's default grouping


def test_candle_and_private_specs() -> None:
    assert ub.candle("KRW-BTC", "240m").type == "candle.240m"
    assert ub.my_order().all_codes and ub.my_order([]).all_codes
    assert ub.my_order("KRW-BTC").codes == ("KRW-BTC",) and ub.my_order("KRW-BTC").endpoint == "private"
    assert ub.my_asset().codes == () and ub.my_asset().endpoint == "private"


@pytest.mark.parametrize("fields", [
    ("Ticker", ("KRW-BTC",)),
    ("ticker", ("krw-btc",)),
    ("ticker", ["KRW-BTC"]),
    ("ticker", ("KRW-ETH", "KRW-BTC")),
    ("ticker", ()),
    ("ticker", ("KRW-BTC",), "sometimes"),
    ("myAsset", ("KRW-BTC",), "realtime"),
    ("myOrder", (), "both"),
    ("trade", ("KRW-BTC",), "both", 5),
    ("orderbook", ("KRW-BTC",), "both", 7),
    ("orderbook", ("BTC-ETH",), "both", None, Decimal(10)),
    ("orderbook", ("KRW-BTC",), "both", None, Decimal("NaN")),
])
def test_a_spec_can_only_be_what_a_constructor_would_build(fields):
    with pytest.raises(ValueError, match="build specs with upbit_stream.ticker"):
        ub.Spec(*fields)


def test_specs_from_constructors_and_evolve_stay_valid():
    import attrs

    spec = ub.orderbook("KRW-BTC", depth=5, level=1000)
    assert attrs.evolve(spec, mode="snapshot").mode == "snapshot"
    with pytest.raises(ValueError):
        attrs.evolve(spec, mode="never")
