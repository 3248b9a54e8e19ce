"""The closed value sets Upbit documents: stream type, price change, side, order states, formats, announcements."""

from __future__ import annotations

import enum

__all__ = [
    "AnnouncementCategory",
    "AnnouncementEventType",
    "AskBid",
    "Change",
    "Format",
    "MarketState",
    "MarketWarning",
    "OrderState",
    "OrderType",
    "SmpType",
    "StreamType",
    "TimeInForce",
]


class StreamType(enum.StrEnum):
    """Whether an event is the one-off state at request time or part of the live stream."""

    SNAPSHOT = "SNAPSHOT"
    REALTIME = "REALTIME"


class Change(enum.StrEnum):
    """Direction of the price against the previous day's close."""

    RISE = "RISE"
    EVEN = "EVEN"
    FALL = "FALL"


class AskBid(enum.StrEnum):
    """Side of a trade or order: ASK sells, BID buys."""

    ASK = "ASK"
    BID = "BID"


class MarketState(enum.StrEnum):
    """Trading state of a market."""

    PREVIEW = "PREVIEW"
    ACTIVE = "ACTIVE"
    DELISTED = "DELISTED"


class MarketWarning(enum.StrEnum):
    """Investment warning flag of a market (deprecated by Upbit, still sent)."""

    NONE = "NONE"
    CAUTION = "CAUTION"


class OrderType(enum.StrEnum):
    """Kind of order: limit, market buy by price, market sell, best-price limit."""

    LIMIT = "limit"
    PRICE = "price"
    MARKET = "market"
    BEST = "best"


class OrderState(enum.StrEnum):
    """Life-cycle state of an order as reported by myOrder."""

    WAIT = "wait"
    WATCH = "watch"
    TRADE = "trade"
    DONE = "done"
    CANCEL = "cancel"
    PREVENTED = "prevented"


class TimeInForce(enum.StrEnum):
    """Execution condition of an order."""

    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class SmpType(enum.StrEnum):
    """Self-match prevention mode of an order."""

    REDUCE = "reduce"
    CANCEL_MAKER = "cancel_maker"
    CANCEL_TAKER = "cancel_taker"


class Format(enum.StrEnum):
    """Wire format of a connection: full or abbreviated keys, one object or a list per frame."""

    DEFAULT = "DEFAULT"
    SIMPLE = "SIMPLE"
    JSON_LIST = "JSON_LIST"
    SIMPLE_LIST = "SIMPLE_LIST"

    @property
    def simple_keys(self) -> bool:
        """True when frames use the abbreviated SIMPLE keys."""
        return self in (Format.SIMPLE, Format.SIMPLE_LIST)

    @property
    def listed(self) -> bool:
        """True when every frame is a JSON array of objects."""
        return self in (Format.JSON_LIST, Format.SIMPLE_LIST)


class AnnouncementEventType(enum.StrEnum):
    """Whether an announcement is new or an update of one published before."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"


class AnnouncementCategory(enum.StrEnum):
    """Category of an Upbit announcement: the eight documented ones, then five the official SDK adds."""

    NOTICE = "notice"
    TRADE = "trade"
    WALLET = "wallet"
    MAINTENANCE = "maintenance"
    DIGITAL_ASSET = "digital_asset"
    NFT = "nft"
    SERVICE = "service"
    EVENT = "event"
    NOTE = "note"
    TRADING = "trading"
    AIRDROP = "airdrop"
    FEATURE = "feature"
    DISCLOSURE = "disclosure"
