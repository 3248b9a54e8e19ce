"""The event classes: one frozen, slotted attrs class per Upbit data type, with DEFAULT field names.

Every field carries its SIMPLE key in ``metadata["simple"]``; the codec derives both wire
formats from these classes, so a field is declared exactly once. Doubles are exact ``Decimal``s,
Longs are ``int``s within signed 64 bits (``Long``), and absent or null optional fields are ``None``.
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


def _w(simple: str, default: Any = None) -> Any:
    """Declare a wire field with its SIMPLE key (and default)."""
    return attrs.field(default=default, metadata={"simple": simple})


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
    opening_price: Decimal | None = _w("op")
    high_price: Decimal | None = _w("hp")
    low_price: Decimal | None = _w("lp")
    trade_price: Decimal | None = _w("tp")
    prev_closing_price: Decimal | None = _w("pcp")
    change: Open[Change] | None = _w("c")
    change_price: Decimal | None = _w("cp")
    signed_change_price: Decimal | None = _w("scp")
    change_rate: Decimal | None = _w("cr")
    signed_change_rate: Decimal | None = _w("scr")
    trade_volume: Decimal | None = _w("tv")
    acc_trade_volume: Decimal | None = _w("atv")
    acc_trade_volume_24h: Decimal | None = _w("atv24h")
    acc_trade_price: Decimal | None = _w("atp")
    acc_trade_price_24h: Decimal | None = _w("atp24h")
    trade_date: str | None = _w("tdt")
    trade_time: str | None = _w("ttm")
    trade_timestamp: Long | None = _w("ttms")
    ask_bid: Open[AskBid] | None = _w("ab")
    acc_ask_volume: Decimal | None = _w("aav")
    acc_bid_volume: Decimal | None = _w("abv")
    highest_52_week_price: Decimal | None = _w("h52wp")
    highest_52_week_date: str | None = _w("h52wdt")
    lowest_52_week_price: Decimal | None = _w("l52wp")
    lowest_52_week_date: str | None = _w("l52wdt")
    market_state: Open[MarketState] | None = _w("ms")
    is_trading_suspended: bool | None = _w("its")
    delisting_date: str | None = _w("dd")
    market_warning: Open[MarketWarning] | None = _w("mw")
    timestamp: Long | None = _w("tms")
    stream_type: Open[StreamType] | None = _w("st")


@final
@attrs.frozen(kw_only=True)
class Trade(_Exportable):
    """One executed trade of a market (``trade``)."""

    type: str = _w("ty", "trade")
    code: str = _w("cd", "")
    trade_price: Decimal | None = _w("tp")
    trade_volume: Decimal | None = _w("tv")
    ask_bid: Open[AskBid] | None = _w("ab")
    prev_closing_price: Decimal | None = _w("pcp")
    change: Open[Change] | None = _w("c")
    change_price: Decimal | None = _w("cp")
    trade_date: str | None = _w("td")
    trade_time: str | None = _w("ttm")
    trade_timestamp: Long | None = _w("ttms")
    timestamp: Long | None = _w("tms")
    sequential_id: Long | None = _w("sid")
    best_ask_price: Decimal | None = _w("bap")
    best_ask_size: Decimal | None = _w("bas")
    best_bid_price: Decimal | None = _w("bbp")
    best_bid_size: Decimal | None = _w("bbs")
    stream_type: Open[StreamType] | None = _w("st")


@final
@attrs.frozen(kw_only=True)
class OrderbookUnit(_Exportable):
    """One price level pair of an order book; index 0 of ``orderbook_units`` is the best."""

    ask_price: Decimal | None = _w("ap")
    bid_price: Decimal | None = _w("bp")
    ask_size: Decimal | None = _w("as")
    bid_size: Decimal | None = _w("bs")


@final
@attrs.frozen(kw_only=True)
class Orderbook(_Exportable):
    """The full order book of one market, up to 30 levels (``orderbook``)."""

    type: str = _w("ty", "orderbook")
    code: str = _w("cd", "")
    total_ask_size: Decimal | None = _w("tas")
    total_bid_size: Decimal | None = _w("tbs")
    orderbook_units: tuple[OrderbookUnit, ...] = _w("obu", ())
    timestamp: Long | None = _w("tms")
    level: Decimal | None = _w("lv")
    stream_type: Open[StreamType] | None = _w("st")


@final
@attrs.frozen(kw_only=True)
class Candle(_Exportable):
    """One candle of a market at ``interval`` (``candle.1s`` … ``candle.240m``)."""

    type: str = _w("ty", "candle.1m")
    code: str = _w("cd", "")
    candle_date_time_utc: str | None = _w("cdttmu")
    candle_date_time_kst: str | None = _w("cdttmk")
    opening_price: Decimal | None = _w("op")
    high_price: Decimal | None = _w("hp")
    low_price: Decimal | None = _w("lp")
    trade_price: Decimal | None = _w("tp")
    candle_acc_trade_volume: Decimal | None = _w("catv")
    candle_acc_trade_price: Decimal | None = _w("catp")
    timestamp: Long | None = _w("tms")
    stream_type: Open[StreamType] | None = _w("st")

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
    uuid: str | None = _w("uid")
    ask_bid: Open[AskBid] | None = _w("ab")
    order_type: Open[OrderType] | None = _w("ot")
    state: Open[OrderState] | None = _w("s")
    trade_uuid: str | None = _w("tuid")
    price: Decimal | None = _w("p")
    avg_price: Decimal | None = _w("ap")
    volume: Decimal | None = _w("v")
    remaining_volume: Decimal | None = _w("rv")
    executed_volume: Decimal | None = _w("ev")
    trades_count: Long | None = _w("tc")
    reserved_fee: Decimal | None = _w("rsf")
    remaining_fee: Decimal | None = _w("rmf")
    paid_fee: Decimal | None = _w("pf")
    locked: Decimal | None = _w("l")
    executed_funds: Decimal | None = _w("ef")
    time_in_force: Open[TimeInForce] | None = _w("tif")
    trade_fee: Decimal | None = _w("tf")
    is_maker: bool | None = _w("im")
    identifier: str | None = _w("id")
    smp_type: Open[SmpType] | None = _w("smpt")
    prevented_volume: Decimal | None = _w("pv")
    prevented_locked: Decimal | None = _w("pl")
    trade_timestamp: Long | None = _w("ttms")
    order_timestamp: Long | None = _w("otms")
    timestamp: Long | None = _w("tms")
    stream_type: Open[StreamType] | None = _w("st")


@final
@attrs.frozen(kw_only=True)
class Asset(_Exportable):
    """Holdings of one currency: ``balance`` is available, ``locked`` is held by open orders."""

    currency: str | None = _w("cu")
    balance: Decimal | None = _w("b")
    locked: Decimal | None = _w("l")


@final
@attrs.frozen(kw_only=True)
class MyAsset(_Exportable):
    """The account's changed holdings (``myAsset``); it has no market code."""

    type: str = _w("ty", "myAsset")
    asset_uuid: str | None = _w("astuid")
    assets: tuple[Asset, ...] = _w("ast", ())
    asset_timestamp: Long | None = _w("asttms")
    timestamp: Long | None = _w("tms")
    stream_type: Open[StreamType] | None = _w("st")

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
