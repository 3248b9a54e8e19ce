"""Every event class by its wire ``type``, and ``Event``, the union of them all."""

from __future__ import annotations

from typing import Final, TypeAlias

from .events import FLAT_EVENT_CLASSES, Asset, Candle, MyAsset, MyOrder, Orderbook, OrderbookUnit, Ticker, Trade
from .indicators import INDICATOR_CLASSES, RsiEventParams, VolumeEventParams
from .info_events import Announcement, Indicator, IndicatorSignal

__all__ = ["EVENT_CLASSES", "INFO_TYPES", "WIRE_CLASSES", "Event"]

Event: TypeAlias = (Ticker | Trade | Orderbook | Candle | MyOrder | MyAsset
                    | Announcement | Indicator | IndicatorSignal)

#: The types of the ``/websocket/v1/info`` endpoint.
INFO_TYPES: Final = frozenset({"indicator", "indicator_signal"})

#: Event class by the wire ``type`` value (candles by every ``candle.{unit}``).
EVENT_CLASSES: Final[dict[str, type]] = {
    **FLAT_EVENT_CLASSES,
    "announcement": Announcement,
    "indicator": Indicator,
    "indicator_signal": IndicatorSignal,
}

#: Every event class and every class nested in one: what the codec reads and the encoder writes.
WIRE_CLASSES: Final = frozenset({*EVENT_CLASSES.values(), OrderbookUnit, Asset, RsiEventParams, VolumeEventParams,
                                 *(cls for pair in INDICATOR_CLASSES.values() for cls in pair)})
