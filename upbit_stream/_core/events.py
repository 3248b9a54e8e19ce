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


def _wire(simple: str, **hints: Any) -> dict[str, Any]:
    """The metadata of a wire field: its SIMPLE key, and codec hints (``nested``, ``omit_none``,
    ``empty_none``) for the 2026 types' fields.

    Fields are declared with ``attrs.field`` itself (``attrs.field(metadata=_wire("tp"))`` for one
    Upbit always sends, ``attrs.field(default=None, metadata=...)`` for an optional one), so type
    checkers see which constructor arguments are required.
    """
    return {"simple": simple, **hints}


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

    type: str = attrs.field(default="ticker", metadata=_wire("ty"))
    code: str = attrs.field(default="", metadata=_wire("cd"))
    opening_price: Decimal = attrs.field(metadata=_wire("op"))
    high_price: Decimal = attrs.field(metadata=_wire("hp"))
    low_price: Decimal = attrs.field(metadata=_wire("lp"))
    trade_price: Decimal = attrs.field(metadata=_wire("tp"))
    prev_closing_price: Decimal = attrs.field(metadata=_wire("pcp"))
    change: Open[Change] = attrs.field(metadata=_wire("c"))
    change_price: Decimal = attrs.field(metadata=_wire("cp"))
    signed_change_price: Decimal = attrs.field(metadata=_wire("scp"))
    change_rate: Decimal = attrs.field(metadata=_wire("cr"))
    signed_change_rate: Decimal = attrs.field(metadata=_wire("scr"))
    trade_volume: Decimal = attrs.field(metadata=_wire("tv"))
    acc_trade_volume: Decimal = attrs.field(metadata=_wire("atv"))
    acc_trade_volume_24h: Decimal = attrs.field(metadata=_wire("atv24h"))
    acc_trade_price: Decimal = attrs.field(metadata=_wire("atp"))
    acc_trade_price_24h: Decimal = attrs.field(metadata=_wire("atp24h"))
    trade_date: str = attrs.field(metadata=_wire("tdt"))
    trade_time: str = attrs.field(metadata=_wire("ttm"))
    trade_timestamp: Long = attrs.field(metadata=_wire("ttms"))
    ask_bid: Open[AskBid] = attrs.field(metadata=_wire("ab"))
    acc_ask_volume: Decimal = attrs.field(metadata=_wire("aav"))
    acc_bid_volume: Decimal = attrs.field(metadata=_wire("abv"))
    highest_52_week_price: Decimal | None = attrs.field(default=None, metadata=_wire("h52wp"))
    highest_52_week_date: str | None = attrs.field(default=None, metadata=_wire("h52wdt"))
    lowest_52_week_price: Decimal | None = attrs.field(default=None, metadata=_wire("l52wp"))
    lowest_52_week_date: str | None = attrs.field(default=None, metadata=_wire("l52wdt"))
    market_state: Open[MarketState] | None = attrs.field(default=None, metadata=_wire("ms"))
    is_trading_suspended: bool | None = attrs.field(default=None, metadata=_wire("its"))
    delisting_date: str | None = attrs.field(default=None, metadata=_wire("dd"))
    market_warning: Open[MarketWarning] | None = attrs.field(default=None, metadata=_wire("mw"))
    timestamp: Long = attrs.field(metadata=_wire("tms"))
    stream_type: Open[StreamType] = attrs.field(metadata=_wire("st"))


@final
@attrs.frozen(kw_only=True)
class Trade(_Exportable):
    """One executed trade of a market (``trade``)."""

    type: str = attrs.field(default="trade", metadata=_wire("ty"))
    code: str = attrs.field(default="", metadata=_wire("cd"))
    trade_price: Decimal = attrs.field(metadata=_wire("tp"))
    trade_volume: Decimal = attrs.field(metadata=_wire("tv"))
    ask_bid: Open[AskBid] = attrs.field(metadata=_wire("ab"))
    prev_closing_price: Decimal = attrs.field(metadata=_wire("pcp"))
    change: Open[Change] = attrs.field(metadata=_wire("c"))
    change_price: Decimal = attrs.field(metadata=_wire("cp"))
    trade_date: str = attrs.field(metadata=_wire("td"))
    trade_time: str = attrs.field(metadata=_wire("ttm"))
    trade_timestamp: Long = attrs.field(metadata=_wire("ttms"))
    timestamp: Long = attrs.field(metadata=_wire("tms"))
    sequential_id: Long = attrs.field(metadata=_wire("sid"))
    best_ask_price: Decimal | None = attrs.field(default=None, metadata=_wire("bap"))
    best_ask_size: Decimal | None = attrs.field(default=None, metadata=_wire("bas"))
    best_bid_price: Decimal | None = attrs.field(default=None, metadata=_wire("bbp"))
    best_bid_size: Decimal | None = attrs.field(default=None, metadata=_wire("bbs"))
    stream_type: Open[StreamType] = attrs.field(metadata=_wire("st"))


@final
@attrs.frozen(kw_only=True)
class OrderbookUnit(_Exportable):
    """One price level pair of an order book; index 0 of ``orderbook_units`` is the best."""

    ask_price: Decimal = attrs.field(metadata=_wire("ap"))
    bid_price: Decimal = attrs.field(metadata=_wire("bp"))
    ask_size: Decimal = attrs.field(metadata=_wire("as"))
    bid_size: Decimal = attrs.field(metadata=_wire("bs"))


@final
@attrs.frozen(kw_only=True)
class Orderbook(_Exportable):
    """The full order book of one market, up to 30 levels (``orderbook``)."""

    type: str = attrs.field(default="orderbook", metadata=_wire("ty"))
    code: str = attrs.field(default="", metadata=_wire("cd"))
    total_ask_size: Decimal = attrs.field(metadata=_wire("tas"))
    total_bid_size: Decimal = attrs.field(metadata=_wire("tbs"))
    orderbook_units: tuple[OrderbookUnit, ...] = attrs.field(default=(), metadata=_wire("obu"))
    timestamp: Long = attrs.field(metadata=_wire("tms"))
    level: Decimal | None = attrs.field(default=None, metadata=_wire("lv"))
    stream_type: Open[StreamType] = attrs.field(metadata=_wire("st"))


@final
@attrs.frozen(kw_only=True)
class Candle(_Exportable):
    """One candle of a market at ``interval`` (``candle.1s`` … ``candle.240m``)."""

    type: str = attrs.field(default="candle.1m", metadata=_wire("ty"))
    code: str = attrs.field(default="", metadata=_wire("cd"))
    candle_date_time_utc: str = attrs.field(metadata=_wire("cdttmu"))
    candle_date_time_kst: str = attrs.field(metadata=_wire("cdttmk"))
    opening_price: Decimal = attrs.field(metadata=_wire("op"))
    high_price: Decimal = attrs.field(metadata=_wire("hp"))
    low_price: Decimal = attrs.field(metadata=_wire("lp"))
    trade_price: Decimal = attrs.field(metadata=_wire("tp"))
    candle_acc_trade_volume: Decimal = attrs.field(metadata=_wire("catv"))
    candle_acc_trade_price: Decimal = attrs.field(metadata=_wire("catp"))
    timestamp: Long = attrs.field(metadata=_wire("tms"))
    stream_type: Open[StreamType] = attrs.field(metadata=_wire("st"))

    @property
    def interval(self) -> str:
        """The candle unit, e.g. ``"1m"``, taken from ``type`` (``"candle.1m"``)."""
        return self.type.partition(".")[2]


@final
@attrs.frozen(kw_only=True)
class MyOrder(_Exportable):
    """A change of one of the account's orders or one of its fills (``myOrder``)."""

    type: str = attrs.field(default="myOrder", metadata=_wire("ty"))
    code: str = attrs.field(default="", metadata=_wire("cd"))
    uuid: str = attrs.field(metadata=_wire("uid"))
    ask_bid: Open[AskBid] = attrs.field(metadata=_wire("ab"))
    order_type: Open[OrderType] = attrs.field(metadata=_wire("ot"))
    state: Open[OrderState] = attrs.field(metadata=_wire("s"))
    trade_uuid: str | None = attrs.field(default=None, metadata=_wire("tuid"))
    price: Decimal | None = attrs.field(default=None, metadata=_wire("p"))
    avg_price: Decimal = attrs.field(metadata=_wire("ap"))
    volume: Decimal | None = attrs.field(default=None, metadata=_wire("v"))
    remaining_volume: Decimal | None = attrs.field(default=None, metadata=_wire("rv"))
    executed_volume: Decimal | None = attrs.field(default=None, metadata=_wire("ev"))
    trades_count: Long = attrs.field(metadata=_wire("tc"))
    reserved_fee: Decimal = attrs.field(metadata=_wire("rsf"))
    remaining_fee: Decimal = attrs.field(metadata=_wire("rmf"))
    paid_fee: Decimal = attrs.field(metadata=_wire("pf"))
    locked: Decimal = attrs.field(metadata=_wire("l"))
    executed_funds: Decimal = attrs.field(metadata=_wire("ef"))
    time_in_force: Open[TimeInForce] | None = attrs.field(default=None, metadata=_wire("tif"))
    trade_fee: Decimal | None = attrs.field(default=None, metadata=_wire("tf"))
    is_maker: bool | None = attrs.field(default=None, metadata=_wire("im"))
    identifier: str | None = attrs.field(default=None, metadata=_wire("id"))
    smp_type: Open[SmpType] | None = attrs.field(default=None, metadata=_wire("smpt"))
    prevented_volume: Decimal | None = attrs.field(default=None, metadata=_wire("pv"))
    prevented_locked: Decimal | None = attrs.field(default=None, metadata=_wire("pl"))
    trade_timestamp: Long | None = attrs.field(default=None, metadata=_wire("ttms"))
    order_timestamp: Long = attrs.field(metadata=_wire("otms"))
    timestamp: Long = attrs.field(metadata=_wire("tms"))
    stream_type: Open[StreamType] = attrs.field(metadata=_wire("st"))


@final
@attrs.frozen(kw_only=True)
class Asset(_Exportable):
    """Holdings of one currency: ``balance`` is available, ``locked`` is held by open orders."""

    currency: str = attrs.field(metadata=_wire("cu"))
    balance: Decimal = attrs.field(metadata=_wire("b"))
    locked: Decimal = attrs.field(metadata=_wire("l"))


@final
@attrs.frozen(kw_only=True)
class MyAsset(_Exportable):
    """The account's changed holdings (``myAsset``); it has no market code."""

    type: str = attrs.field(default="myAsset", metadata=_wire("ty"))
    asset_uuid: str = attrs.field(metadata=_wire("astuid"))
    assets: tuple[Asset, ...] = attrs.field(default=(), metadata=_wire("ast"))
    asset_timestamp: Long = attrs.field(metadata=_wire("asttms"))
    timestamp: Long = attrs.field(metadata=_wire("tms"))
    stream_type: Open[StreamType] = attrs.field(metadata=_wire("st"))

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
