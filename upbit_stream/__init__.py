"""upbit_stream: a trio-native client for Upbit's real-time WebSocket API (public names only)."""

from ._core.codec import ErrorFrame as ErrorFrame
from ._core.codec import Status as Status
from ._core.codec import SubscribedStream as SubscribedStream
from ._core.codec import SubscriptionList as SubscriptionList
from ._core.codec import UnknownMessage as UnknownMessage
from ._core.codec import decode as decode
from ._core.enums import AnnouncementCategory as AnnouncementCategory
from ._core.enums import AnnouncementEventType as AnnouncementEventType
from ._core.enums import AskBid as AskBid
from ._core.enums import Change as Change
from ._core.enums import Format as Format
from ._core.enums import MarketState as MarketState
from ._core.enums import MarketWarning as MarketWarning
from ._core.enums import OrderState as OrderState
from ._core.enums import OrderType as OrderType
from ._core.enums import SmpType as SmpType
from ._core.enums import StreamType as StreamType
from ._core.enums import TimeInForce as TimeInForce
from ._core.errors import AuthenticationError as AuthenticationError
from ._core.errors import ConfigError as ConfigError
from ._core.errors import ConnectError as ConnectError
from ._core.errors import Disconnected as Disconnected
from ._core.errors import ProtocolError as ProtocolError
from ._core.errors import RateLimitedError as RateLimitedError
from ._core.errors import ServerError as ServerError
from ._core.errors import SlowConsumerError as SlowConsumerError
from ._core.errors import SnapshotTimeout as SnapshotTimeout
from ._core.errors import UpbitStreamError as UpbitStreamError
from ._core.events import Asset as Asset
from ._core.events import Candle as Candle
from ._core.all_events import Event as Event
from ._core.events import MyAsset as MyAsset
from ._core.events import MyOrder as MyOrder
from ._core.events import Orderbook as Orderbook
from ._core.events import OrderbookUnit as OrderbookUnit
from ._core.events import Ticker as Ticker
from ._core.events import Trade as Trade
from ._core.info_events import Announcement as Announcement
from ._core.info_events import Indicator as Indicator
from ._core.info_events import IndicatorSignal as IndicatorSignal
from ._core.indicators import BollingerBandsParams as BollingerBandsParams
from ._core.indicators import BollingerBandsValue as BollingerBandsValue
from ._core.indicators import IndicatorParams as IndicatorParams
from ._core.indicators import IndicatorValue as IndicatorValue
from ._core.indicators import MaCrossoverParams as MaCrossoverParams
from ._core.indicators import MaCrossoverValue as MaCrossoverValue
from ._core.indicators import MacdParams as MacdParams
from ._core.indicators import MacdValue as MacdValue
from ._core.indicators import MovingAverageParams as MovingAverageParams
from ._core.indicators import MovingAverageValue as MovingAverageValue
from ._core.indicators import RsiEventParams as RsiEventParams
from ._core.indicators import RsiParams as RsiParams
from ._core.indicators import RsiValue as RsiValue
from ._core.indicators import SignalCondition as SignalCondition
from ._core.indicators import VolumeEventParams as VolumeEventParams
from ._core.indicators import VolumeParams as VolumeParams
from ._core.indicators import VolumeValue as VolumeValue
from ._core.indicators import bollinger_bands as bollinger_bands
from ._core.indicators import ma_crossover as ma_crossover
from ._core.indicators import macd as macd
from ._core.indicators import moving_average as moving_average
from ._core.indicators import rsi as rsi
from ._core.indicators import signal as signal
from ._core.indicators import volume as volume
from ._core.markers import StreamGap as StreamGap
from ._core.codec import Message as Message
from ._trio.channel import SubscriptionChannel as SubscriptionChannel
from ._trio.session import UpbitSession as UpbitSession
from ._trio.session import open_upbit_session as open_upbit_session
from ._config.settings import Settings as Settings
from ._relay.session import RelaySession as RelaySession
from ._relay.session import open_relay_session as open_relay_session
from ._core.specs import Spec as Spec
from ._core.specs import announcement as announcement
from ._core.specs import candle as candle
from ._core.specs import indicator as indicator
from ._core.specs import indicator_signal as indicator_signal
from ._core.specs import my_asset as my_asset
from ._core.specs import my_order as my_order
from ._core.specs import orderbook as orderbook
from ._core.specs import ticker as ticker
from ._core.specs import trade as trade
from ._core.stats import ConnectionEvent as ConnectionEvent
from ._core.stats import ConnectionState as ConnectionState
from ._core.stats import HealthStatus as HealthStatus
from ._core.stats import ConnectionEventKind as ConnectionEventKind
from ._core.stats import ConnectionStats as ConnectionStats
from ._core.stats import Health as Health
from ._core.stats import SessionStats as SessionStats
from ._core.stats import SubscriptionStats as SubscriptionStats
from ._transports.seam import Connector as Connector
from ._transports.seam import Wire as Wire

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
