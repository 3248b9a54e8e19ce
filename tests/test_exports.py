"""Both public namespaces hold exactly their documented names, each carrying its public module name."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import upbit_stream as ub
import upbit_stream.testing

#: The documented public surface of ``upbit_stream`` (README "A tour" and SPEC §2).
PUBLIC = {
    # opening a session and subscribing
    "open_upbit_session", "UpbitSession", "SubscriptionChannel", "Settings", "Connector", "Wire",
    "Spec", "ticker", "trade", "orderbook", "candle", "my_order", "my_asset",
    "announcement", "indicator", "indicator_signal",
    # the same surface through a relay (NATS JetStream; the [relay] extra)
    "open_relay_session", "RelaySession",
    # indicators and conditions for indicator() / indicator_signal()
    "volume", "rsi", "moving_average", "ma_crossover", "bollinger_bands", "macd", "signal", "SignalCondition",
    "IndicatorParams", "VolumeParams", "RsiParams", "MovingAverageParams", "MaCrossoverParams",
    "BollingerBandsParams", "MacdParams", "IndicatorValue", "VolumeValue", "RsiValue", "MovingAverageValue",
    "MaCrossoverValue", "BollingerBandsValue", "MacdValue", "RsiEventParams", "VolumeEventParams",
    # events and what frames decode into
    "Event", "Ticker", "Trade", "Orderbook", "OrderbookUnit", "Candle", "MyOrder", "MyAsset", "Asset",
    "Announcement", "Indicator", "IndicatorSignal", "AnnouncementCategory", "AnnouncementEventType",
    "Message", "decode", "Status", "ErrorFrame", "SubscriptionList", "SubscribedStream", "UnknownMessage",
    "StreamGap",
    # enums
    "AskBid", "Change", "Format", "MarketState", "MarketWarning", "OrderState", "OrderType", "SmpType",
    "StreamType", "TimeInForce", "ConnectionState", "HealthStatus", "ConnectionEventKind",
    # observing
    "ConnectionEvent", "ConnectionStats", "SubscriptionStats", "SessionStats", "Health",
    # errors
    "UpbitStreamError", "ConfigError", "AuthenticationError", "ProtocolError", "ServerError", "ConnectError",
    "RateLimitedError", "Disconnected", "SlowConsumerError", "SnapshotTimeout",
}
#: ``upbit_stream.testing``: the fake exchange, its market and replay files.
TESTING = {
    "open_fake_upbit", "FakeUpbit", "RequestRecord", "MARKETS", "Market", "tick_size", "load_replay", "ReplayFrame",
    "DEFAULT_ACCESS_KEY", "DEFAULT_SECRET_KEY",
}
ALIASES = {"Event", "Message", "Connector", "IndicatorParams", "IndicatorValue"}  # type aliases: no module of their own


def public_names(module: object) -> set[str]:
    return {name for name in dir(module) if not name.startswith("_")} - {"testing"}


@pytest.mark.parametrize(("module", "documented"), [(ub, PUBLIC), (upbit_stream.testing, TESTING)],
                         ids=["upbit_stream", "upbit_stream.testing"])
def test_each_namespace_exports_exactly_its_documented_names(module, documented):
    assert public_names(module) == documented


@pytest.mark.parametrize(("module", "documented"), [(ub, PUBLIC), (upbit_stream.testing, TESTING)],
                         ids=["upbit_stream", "upbit_stream.testing"])
def test_public_objects_carry_the_public_module_name(module, documented):
    for name in documented - ALIASES:
        value = getattr(module, name)
        if isinstance(value, type) or callable(value):
            assert value.__module__ == module.__name__, f"{name} shows {value.__module__}"


def test_private_modules_are_not_reexported_and_import_cleanly():
    for name in ("_core", "_config", "_trio", "_transports", "_cli", "_relay"):
        assert importlib.import_module(f"upbit_stream.{name}") is not None
    probe = "import upbit_stream, sys; print(sorted(m for m in ('pytest', 'trio.testing', 'hypothesis', 'nats') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_package_ships_its_type_marker():
    from pathlib import Path

    assert (Path(ub.__file__).parent / "py.typed").is_file()
