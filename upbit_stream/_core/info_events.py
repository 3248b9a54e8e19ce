"""The event classes of Upbit's 2026 stream types: ``announcement``, ``indicator`` and ``indicator_signal``.

Declared like the others (frozen, slotted, SIMPLE keys in metadata, exact numbers). ``params``,
``value`` and ``event_params`` hold the typed classes of ``indicators`` chosen by the ``indicator``
name; the codec builds them, SIMPLE keys inside the nested objects included.
"""

from __future__ import annotations

from typing import final

import attrs

from .enums import AnnouncementCategory, AnnouncementEventType, StreamType
from .events import Open, _Exportable, _w
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

    type: str = _w("ty", "announcement")
    event_type: Open[AnnouncementEventType] = _w("et", required=True)
    uuid: str = _w("uid", required=True)
    title: str = _w("tt", required=True)
    category: Open[AnnouncementCategory] = _w("cat", required=True)
    url: str = _w("url", required=True)
    first_listed_at: str = _w("flat", required=True)
    listed_at: str = _w("lat", required=True)
    timestamp: Long = _w("tms", required=True)
    stream_type: Open[StreamType] = _w("st", required=True)
    body: str | None = _w("bd", omit_none=True)

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

    type: str = _w("ty", "indicator")
    code: str = _w("cd", required=True)
    timeframe: str = _w("tf", required=True)
    indicator: str = _w("ind", required=True)
    params: IndicatorParams = _w("p", required=True, nested=True)
    candle_date_time_utc: str = _w("cdttmu", required=True)
    value: IndicatorValue = _w("v", required=True, nested=True)
    timestamp: Long = _w("tms", required=True)
    stream_type: Open[StreamType] = _w("st", required=True)


@final
@attrs.frozen(kw_only=True)
class IndicatorSignal(_Exportable):
    """A condition of one market that turned from unmet to met at a candle close (``indicator_signal``).

    ``trigger`` names the condition (``"overbought"``, ``"golden_cross"``, …); ``event_params`` its
    threshold or multiplier (None for triggers without one); ``value`` the indicator at that close.
    """

    type: str = _w("ty", "indicator_signal")
    code: str = _w("cd", required=True)
    timeframe: str = _w("tf", required=True)
    indicator: str = _w("ind", required=True)
    params: IndicatorParams = _w("p", required=True, nested=True)
    trigger: str = _w("tr", required=True)
    event_params: EventParams | None = _w("ep", nested=True, empty_none=True)
    candle_date_time_utc: str = _w("cdttmu", required=True)
    value: IndicatorValue = _w("v", required=True, nested=True)
    timestamp: Long = _w("tms", required=True)
    stream_type: Open[StreamType] = _w("st", required=True)
