"""The event classes of Upbit's 2026 stream types: ``announcement``, ``indicator`` and ``indicator_signal``.

Declared like the others (frozen, slotted, SIMPLE keys in metadata, exact numbers). ``params``,
``value`` and ``event_params`` hold the typed classes of ``indicators`` chosen by the ``indicator``
name; the codec builds them, SIMPLE keys inside the nested objects included.
"""

from __future__ import annotations

from typing import final

import attrs

from .enums import AnnouncementCategory, AnnouncementEventType, StreamType
from .events import Open, _Exportable, _wire
from .indicators import EventParams, IndicatorParams, IndicatorValue
from .number_policy import Long

__all__ = ["Announcement", "Indicator", "IndicatorSignal"]


@final
@attrs.frozen(kw_only=True)
class Announcement(_Exportable):
    """A new or updated Upbit notice (``announcement``): listings, wallet, maintenance, …

    ``body`` (Markdown) is set only when the subscription asked ``include_body=True``, and even
    then Upbit may send None for a large body. ``first_listed_at``/``listed_at`` are ISO 8601 KST.
    """

    type: str = attrs.field(default="announcement", metadata=_wire("ty"))
    event_type: Open[AnnouncementEventType] = attrs.field(metadata=_wire("et"))
    uuid: str = attrs.field(metadata=_wire("uid"))
    title: str = attrs.field(metadata=_wire("tt"))
    category: Open[AnnouncementCategory] = attrs.field(metadata=_wire("cat"))
    url: str = attrs.field(metadata=_wire("url"))
    first_listed_at: str = attrs.field(metadata=_wire("flat"))
    listed_at: str = attrs.field(metadata=_wire("lat"))
    timestamp: Long = attrs.field(metadata=_wire("tms"))
    stream_type: Open[StreamType] = attrs.field(metadata=_wire("st"))
    body: str | None = attrs.field(default=None, metadata=_wire("bd", omit_none=True))

    @property
    def code(self) -> str:
        """Always ``""``: an announcement concerns no one market."""
        return ""


@final
@attrs.frozen(kw_only=True)
class Indicator(_Exportable):
    """One indicator value of one market at the close of a ``timeframe`` candle (``indicator``).

    ``params`` is what was computed (``RsiParams(period=14)``, …), ``value`` the result
    (``RsiValue(rsi=Decimal(...))``, …); ``candle_date_time_utc`` is the start of the closed candle.
    """

    type: str = attrs.field(default="indicator", metadata=_wire("ty"))
    code: str = attrs.field(metadata=_wire("cd"))
    timeframe: str = attrs.field(metadata=_wire("tf"))
    indicator: str = attrs.field(metadata=_wire("ind"))
    params: IndicatorParams = attrs.field(metadata=_wire("p", nested=True))
    candle_date_time_utc: str = attrs.field(metadata=_wire("cdttmu"))
    value: IndicatorValue = attrs.field(metadata=_wire("v", nested=True))
    timestamp: Long = attrs.field(metadata=_wire("tms"))
    stream_type: Open[StreamType] = attrs.field(metadata=_wire("st"))


@final
@attrs.frozen(kw_only=True)
class IndicatorSignal(_Exportable):
    """A condition of one market that turned from unmet to met at a candle close (``indicator_signal``).

    ``trigger`` names the condition (``"overbought"``, ``"golden_cross"``, …); ``event_params`` its
    threshold or multiplier (None for triggers without one); ``value`` the indicator at that close.
    """

    type: str = attrs.field(default="indicator_signal", metadata=_wire("ty"))
    code: str = attrs.field(metadata=_wire("cd"))
    timeframe: str = attrs.field(metadata=_wire("tf"))
    indicator: str = attrs.field(metadata=_wire("ind"))
    params: IndicatorParams = attrs.field(metadata=_wire("p", nested=True))
    trigger: str = attrs.field(metadata=_wire("tr"))
    event_params: EventParams | None = attrs.field(default=None, metadata=_wire("ep", nested=True, empty_none=True))
    candle_date_time_utc: str = attrs.field(metadata=_wire("cdttmu"))
    value: IndicatorValue = attrs.field(metadata=_wire("v", nested=True))
    timestamp: Long = attrs.field(metadata=_wire("tms"))
    stream_type: Open[StreamType] = attrs.field(metadata=_wire("st"))
