"""upbit_stream: a trio-native client for Upbit's real-time WebSocket API (public names only)."""

from ._codec import ErrorFrame as ErrorFrame
from ._codec import Status as Status
from ._codec import SubscribedStream as SubscribedStream
from ._codec import SubscriptionList as SubscriptionList
from ._codec import UnknownMessage as UnknownMessage
from ._codec import decode as decode
from ._enums import AskBid as AskBid
from ._enums import Change as Change
from ._enums import Format as Format
from ._enums import MarketState as MarketState
from ._enums import MarketWarning as MarketWarning
from ._enums import OrderState as OrderState
from ._enums import OrderType as OrderType
from ._enums import SmpType as SmpType
from ._enums import StreamType as StreamType
from ._enums import TimeInForce as TimeInForce
from ._errors import AuthenticationError as AuthenticationError
from ._errors import ConfigError as ConfigError
from ._errors import ConnectError as ConnectError
from ._errors import ProtocolError as ProtocolError
from ._errors import RateLimitedError as RateLimitedError
from ._errors import ServerError as ServerError
from ._errors import SlowConsumerError as SlowConsumerError
from ._errors import SnapshotTimeout as SnapshotTimeout
from ._errors import UpbitStreamError as UpbitStreamError
from ._events import Asset as Asset
from ._events import Candle as Candle
from ._events import Event as Event
from ._events import MyAsset as MyAsset
from ._events import MyOrder as MyOrder
from ._events import Orderbook as Orderbook
from ._events import OrderbookUnit as OrderbookUnit
from ._events import Ticker as Ticker
from ._events import Trade as Trade
from ._fanout import StreamGap as StreamGap
from ._session import UpbitSession as UpbitSession
from ._session import open_upbit_session as open_upbit_session
from ._settings import Settings as Settings
from ._specs import Spec as Spec
from ._specs import candle as candle
from ._specs import my_asset as my_asset
from ._specs import my_order as my_order
from ._specs import orderbook as orderbook
from ._specs import ticker as ticker
from ._specs import trade as trade
from ._stats import ConnectionEvent as ConnectionEvent
from ._stats import ConnectionEventKind as ConnectionEventKind
from ._stats import ConnectionStats as ConnectionStats
from ._stats import Health as Health
from ._stats import SessionStats as SessionStats
from ._stats import SubscriptionStats as SubscriptionStats
from ._transport import Connector as Connector
from ._transport import Wire as Wire

__version__ = "0.1.0"


def _fix_module_names() -> None:
    """Show public classes as ``upbit_stream.X`` in reprs, tracebacks and pickles."""
    for name, value in list(globals().items()):
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("upbit_stream._"):
            try:
                value.__module__ = __name__
            except (AttributeError, TypeError):
                pass


_fix_module_names()
