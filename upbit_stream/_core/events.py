"""The event classes: one frozen, slotted attrs class per Upbit data type, with DEFAULT field names.

Every field carries its SIMPLE key in ``metadata["simple"]``; the codec derives both wire
formats from these classes, so a field is declared exactly once. Doubles are exact ``Decimal``s,
Longs are ``int``s within signed 64 bits (``Long``). The fields Upbit always sends are required and
never ``None`` (a frame without one is refused); the others are ``X | None`` and ``None`` when a
frame leaves them out or sends null.
"""


import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, final

import attrs

from .enums import (
    AskBid,
    Change,
    MarketState,
    MarketWarning,
    OrderState,
    OrderType,
    SmpType,
    StreamType,
    TimeInForce,
)
from .number_policy import Long

__all__ = [
    "Asset",
    "Candle",
    "MyAsset",
    "MyOrder",
    "Orderbook",
    "OrderbookUnit",
    "Ticker",
    "Trade",
    "simple_key",
]

if TYPE_CHECKING:
    _E = TypeVar("_E", bound=enum.Enum)
    #: An enum field: the documented values as the enum, a value Upbit adds later as its string.
    Open: TypeAlias = _E | str
else:  # at run time the enum alone, which is what the decoder reads; unknown values arrive as str

    class Open:
        def __class_getitem__(cls, item: type) -> type:
            return item


CANDLE_INTERVALS: tuple[str, ...] = ("1s", "1m", "3m", "5m", "10m", "15m", "30m", "60m", "240m")


def _w(simple: str, default: Any = None, *, required: bool = False, **metadata: Any) -> Any:
    """Declare a wire field with its SIMPLE key: with ``default``, or ``required`` (no default).

    A required field is one Upbit always sends; the decoder refuses a frame without it. ``metadata``
    adds codec hints (``nested``, ``omit_none``, ``empty_none``) for the 2026 types' fields.
    """
    if required:
        return attrs.field(metadata={"simple": simple, **metadata})
    return attrs.field(default=default, metadata={"simple": simple, **metadata})


def simple_key(cls: type, name: str) -> str:
    """Return the SIMPLE key of field ``name`` of event (or nested) class ``cls``."""
    simple: str = attrs.fields_dict(cls)[name].metadata["simple"]
    return simple




class _Exportable:
    """What every event class offers besides its fields."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The event as a plain dict for JSON or pandas: field names as keys, ``Decimal``s kept exact,
        enums as their strings, nested units as lists of dicts."""
        fields = attrs.fields(type(self))  # type: ignore[arg-type]  # every subclass is an attrs class
        return {field.name: _plain(getattr(self, field.name)) for field in fields}


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _Exportable):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


@final
@attrs.frozen(kw_only=True)
class Ticker(_Exportable):
    """Current price and 24 h statistics of one market (``ticker``)."""

    type: str = _w("ty", "ticker")
    code: str = _w("cd", "")
    opening_price: Decimal = _w("op", required=True)
    high_price: Decimal = _w("hp", required=True)
    low_price: Decimal = _w("lp", required=True)
    trade_price: Decimal = _w("tp", required=True)
    prev_closing_price: Decimal = _w("pcp", required=True)
    change: Open[Change] = _w("c", required=True)
    change_price: Decimal = _w("cp", required=True)
    signed_change_price: Decimal = _w("scp", required=True)
    change_rate: Decimal = _w("cr", required=True)
    signed_change_rate: Decimal = _w("scr", required=True)
    trade_volume: Decimal = _w("tv", required=True)
    acc_trade_volume: Decimal = _w("atv", required=True)
    acc_trade_volume_24h: Decimal = _w("atv24h", required=True)
    acc_trade_price: Decimal = _w("atp", required=True)
    acc_trade_price_24h: Decimal = _w("atp24h", required=True)
    trade_date: str = _w("tdt", required=True)
    trade_time: str = _w("ttm", required=True)
    trade_timestamp: Long = _w("ttms", required=True)
    ask_bid: Open[AskBid] = _w("ab", required=True)
    acc_ask_volume: Decimal = _w("aav", required=True)
    acc_bid_volume: Decimal = _w("abv", required=True)
    highest_52_week_price: Decimal | None = _w("h52wp")
    highest_52_week_date: str | None = _w("h52wdt")
    lowest_52_week_price: Decimal | None = _w("l52wp")
    lowest_52_week_date: str | None = _w("l52wdt")
    market_state: Open[MarketState] | None = _w("ms")
    is_trading_suspended: bool | None = _w("its")
    delisting_date: str | None = _w("dd")
    market_warning: Open[MarketWarning] | None = _w("mw")
    timestamp: Long = _w("tms", required=True)
    stream_type: Open[StreamType] = _w("st", required=True)


@final
@attrs.frozen(kw_only=True)
class Trade(_Exportable):
    """One executed trade of a market (``trade``)."""

    type: str = _w("ty", "trade")
    code: str = _w("cd", "")
    trade_price: Decimal = _w("tp", required=True)
    trade_volume: Decimal = _w("tv", required=True)
    ask_bid: Open[AskBid] = _w("ab", required=True)
    prev_closing_price: Decimal = _w("pcp", required=True)
    change: Open[Change] = _w("c", required=True)
    change_price: Decimal = _w("cp", required=True)
    trade_date: str = _w("td", required=True)
    trade_time: str = _w("ttm", required=True)
    trade_timestamp: Long = _w("ttms", required=True)
    timestamp: Long = _w("tms", required=True)
    sequential_id: Long = _w("sid", required=True)
    best_ask_price: Decimal | None = _w("bap")
    best_ask_size: Decimal | None = _w("bas")
    best_bid_price: Decimal | None = _w("bbp")
    best_bid_size: Decimal | None = _w("bbs")
    stream_type: Open[StreamType] = _w("st", required=True)


@final
@attrs.frozen(kw_only=True)
class OrderbookUnit(_Exportable):
    """One price level pair of an order book; index 0 of ``orderbook_units`` is the best."""

    ask_price: Decimal = _w("ap", required=True)
    bid_price: Decimal = _w("bp", required=True)
    ask_size: Decimal = _w("as", required=True)
    bid_size: Decimal = _w("bs", required=True)


@final
@attrs.frozen(kw_only=True)
class Orderbook(_Exportable):
    """The full order book of one market, up to 30 levels (``orderbook``)."""

    type: str = _w("ty", "orderbook")
    code: str = _w("cd", "")
    total_ask_size: Decimal = _w("tas", required=True)
    total_bid_size: Decimal = _w("tbs", required=True)
    orderbook_units: tuple[OrderbookUnit, ...] = _w("obu", ())
    timestamp: Long = _w("tms", required=True)
    level: Decimal | None = _w("lv")
    stream_type: Open[StreamType] = _w("st", required=True)


@final
@attrs.frozen(kw_only=True)
class Candle(_Exportable):
    """One candle of a market at ``interval`` (``candle.1s`` … ``candle.240m``)."""

    type: str = _w("ty", "candle.1m")
    code: str = _w("cd", "")
    candle_date_time_utc: str = _w("cdttmu", required=True)
    candle_date_time_kst: str = _w("cdttmk", required=True)
    opening_price: Decimal = _w("op", required=True)
    high_price: Decimal = _w("hp", required=True)
    low_price: Decimal = _w("lp", required=True)
    trade_price: Decimal = _w("tp", required=True)
    candle_acc_trade_volume: Decimal = _w("catv", required=True)
    candle_acc_trade_price: Decimal = _w("catp", required=True)
    timestamp: Long = _w("tms", required=True)
    stream_type: Open[StreamType] = _w("st", required=True)

    @property
    def interval(self) -> str:
        """The candle unit, e.g. ``"1m"``, taken from ``type`` (``"candle.1m"``)."""
        return self.type.partition(".")[2]


@final
@attrs.frozen(kw_only=True)
class MyOrder(_Exportable):
    """A change of one of the account's orders or one of its fills (``myOrder``)."""

    type: str = _w("ty", "myOrder")
    code: str = _w("cd", "")
    uuid: str = _w("uid", required=True)
    ask_bid: Open[AskBid] = _w("ab", required=True)
    order_type: Open[OrderType] = _w("ot", required=True)
    state: Open[OrderState] = _w("s", required=True)
    trade_uuid: str | None = _w("tuid")
    price: Decimal | None = _w("p")
    avg_price: Decimal = _w("ap", required=True)
    volume: Decimal | None = _w("v")
    remaining_volume: Decimal | None = _w("rv")
    executed_volume: Decimal | None = _w("ev")
    trades_count: Long = _w("tc", required=True)
    reserved_fee: Decimal = _w("rsf", required=True)
    remaining_fee: Decimal = _w("rmf", required=True)
    paid_fee: Decimal = _w("pf", required=True)
    locked: Decimal = _w("l", required=True)
    executed_funds: Decimal = _w("ef", required=True)
    time_in_force: Open[TimeInForce] | None = _w("tif")
    trade_fee: Decimal | None = _w("tf")
    is_maker: bool | None = _w("im")
    identifier: str | None = _w("id")
    smp_type: Open[SmpType] | None = _w("smpt")
    prevented_volume: Decimal | None = _w("pv")
    prevented_locked: Decimal | None = _w("pl")
    trade_timestamp: Long | None = _w("ttms")
    order_timestamp: Long = _w("otms", required=True)
    timestamp: Long = _w("tms", required=True)
    stream_type: Open[StreamType] = _w("st", required=True)


@final
@attrs.frozen(kw_only=True)
class Asset(_Exportable):
    """Holdings of one currency: ``balance`` is available, ``locked`` is held by open orders."""

    currency: str = _w("cu", required=True)
    balance: Decimal = _w("b", required=True)
    locked: Decimal = _w("l", required=True)


@final
@attrs.frozen(kw_only=True)
class MyAsset(_Exportable):
    """The account's changed holdings (``myAsset``); it has no market code."""

    type: str = _w("ty", "myAsset")
    asset_uuid: str = _w("astuid", required=True)
    assets: tuple[Asset, ...] = _w("ast", ())
    asset_timestamp: Long = _w("asttms", required=True)
    timestamp: Long = _w("tms", required=True)
    stream_type: Open[StreamType] = _w("st", required=True)

    @property
    def code(self) -> str:
        """Always ``""``: myAsset concerns the whole account, not one market."""
        return ""


#: The event classes whose frames are flat objects (nested lists of one class at most), by the wire
#: ``type`` value (candles by every ``candle.{unit}``): the ones the codec's fast path decodes.
#: ``all_events`` adds the 2026 types and defines the ``Event`` union.
FLAT_EVENT_CLASSES: dict[str, type] = {
    "ticker": Ticker,
    "trade": Trade,
    "orderbook": Orderbook,
    "myOrder": MyOrder,
    "myAsset": MyAsset,
    **{f"candle.{unit}": Candle for unit in CANDLE_INTERVALS},
}
