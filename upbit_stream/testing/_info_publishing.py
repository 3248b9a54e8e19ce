"""What the fake exchange sends on the 2026 types — announcements, indicator values and signals — and their controls."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs
import msgspec
import trio

from .._core.encode import encode_event, wire_object
from .._core.enums import Format, StreamType
from .._core.indicators import (
    INDICATOR_CLASSES,
    VALUE_RULES,
    IndicatorParams,
    IndicatorValue,
    SignalCondition,
    condition_problem,
    params_problem,
)
from .._core.info_events import Announcement, Indicator, IndicatorSignal
from ._info_market import TIMEFRAME_MS, ClosedCandle, InfoMarket, check_timeframe
from ._info_requests import ANNOUNCEMENT, AnnouncementSpec, IndicatorSpec

if TYPE_CHECKING:
    from ._connection import Connection
    from ._market import MarketSim

__all__ = ["InfoPublishing"]

_KST = timezone(timedelta(hours=9))
_NOTICES_KEPT = 1000
_encoder = msgspec.json.Encoder(decimal_format="number")

Number = Decimal | int | str


class InfoPublishing:
    """Mixed into ``FakeUpbit``: announcements on ``/private``, indicator values and signals on ``/info``."""

    # provided by FakeUpbit
    _conns: dict[int, Connection]
    _delisted: set[str]
    _t0: float
    _epoch_ms: int
    market: MarketSim
    info_market: InfoMarket
    now_ms: Any

    def _init_info(self) -> None:
        self._notices: OrderedDict[str, Announcement] = OrderedDict()  # bounded: the last _NOTICES_KEPT
        self._notice_ids = itertools.count(562593105)

    # -- announcements ------------------------------------------------------------------------------

    def publish_announcement(self, title: str, category: str = "trade", *, event_type: str = "CREATED",
                             uuid: str | None = None, url: str | None = None, body: str | None = None,
                             body_too_large: bool = False, first_listed_at: str | None = None,
                             listed_at: str | None = None) -> Announcement:
        """Post a notice now: every ``/private`` connection whose announcement subscription takes
        ``category`` receives it, with ``body`` only where ``include_body`` was true (null when
        ``body_too_large``). An ``"UPDATED"`` notice names the ``uuid`` it updates and keeps its
        ``first_listed_at``; ``listed_at`` defaults to now (KST). Return the notice as a subscriber
        with ``include_body`` decodes it."""
        if event_type == "UPDATED" and uuid is None:
            raise ValueError("an UPDATED notice needs the uuid of the notice it updates")
        now_ms = self.now_ms()
        earlier = self._notices.get(uuid) if uuid is not None else None
        uuid = uuid if uuid is not None else str(next(self._notice_ids))
        listed = listed_at or datetime.fromtimestamp(now_ms / 1000, _KST).isoformat(timespec="seconds")
        notice = Announcement(
            event_type=event_type, uuid=uuid, title=title, category=category,
            url=url or f"https://www.upbit.com/service_center/notice?id={uuid}&view=share",
            first_listed_at=first_listed_at or (earlier.first_listed_at if earlier else listed),
            listed_at=listed, timestamp=now_ms, stream_type=StreamType.REALTIME,
            body=None if body_too_large else body)
        self._keep(notice)
        self._send_announcement(notice)
        return notice

    def _keep(self, notice: Announcement) -> None:
        """Remember ``notice`` (the newest last; the last ``_NOTICES_KEPT`` of them)."""
        self._notices[notice.uuid] = notice
        self._notices.move_to_end(notice.uuid)
        while len(self._notices) > _NOTICES_KEPT:
            self._notices.popitem(last=False)

    def _send_announcement(self, notice: Announcement, recorded: bytes | None = None) -> int:
        """Queue ``notice`` (or the ``recorded`` frame as it is) to each ``/private`` connection taking its category."""
        frames: dict[tuple[Format, bool], bytes] = {}
        queued = 0
        for conn in self._conns.values():
            if conn.endpoint != "private" or conn.auth_error is not None:
                continue
            specs = [t.spec for t in conn.types
                     if t.type == ANNOUNCEMENT and isinstance(t.spec, AnnouncementSpec) and t.spec.wants(notice.category)]
            if not specs:
                continue
            key = (conn.format, any(spec.include_body for spec in specs))
            frame = recorded or frames.get(key)
            if frame is None:
                frame = frames[key] = _announcement_frame(notice, *key)
            queued += conn.queue.put(frame)
        return queued

    def send_recorded(self, event: Announcement | Indicator | IndicatorSignal, recorded: bytes | None = None) -> int:
        """Send a replayed announcement, indicator value or signal to every connection subscribed to it.

        With ``recorded`` (its frame as recorded) every such connection gets those bytes; without,
        each gets the event as a live one would (its format, a body only where asked for). Returns
        how many frames were queued.
        """
        if isinstance(event, Announcement):
            self._keep(event)
            return self._send_announcement(event, recorded)
        if isinstance(event, Indicator):
            return self._deliver("indicator", event.code, event.timeframe, event.params, event, recorded)
        condition = SignalCondition(event.params, event.trigger, event.event_params)
        return self._deliver("indicator_signal", event.code, event.timeframe, condition, event, recorded)

    # -- indicator controls -------------------------------------------------------------------------

    def close_candle(self, timeframe: str = "5m", *, prices: Mapping[str, Number] | None = None,
                     volumes: Mapping[str, Number] | None = None) -> str:
        """Close the ``timeframe`` candle in progress now (or, if one was already closed ahead of the
        clock, the next one) and send what that close gives; the clock's own close of that candle
        then does not happen. ``prices``/``volumes`` set a market's close and volume (default: its
        last trade price and the volume traded since the previous close). Return the candle's start
        (``candle_date_time_utc``)."""
        check_timeframe(timeframe)
        for code in {*(prices or {}), *(volumes or {})}:
            self._check_indicator_market(code)
        now_ms = self.now_ms()
        start = self.info_market.next_start(timeframe, now_ms)
        self._close(timeframe, start, now_ms, {c: _decimal(p) for c, p in (prices or {}).items()},
                    {c: _decimal(v) for c, v in (volumes or {}).items()})
        return _utc(start)

    def seed_candles(self, code: str, timeframe: str, closes: Sequence[Number],
                     volumes: Sequence[Number] | None = None) -> None:
        """Replace the closed-candle history of ``code`` at ``timeframe``: ``closes`` (and ``volumes``,
        default 1 each), oldest first, the last one being the latest closed candle."""
        check_timeframe(timeframe)
        self._check_indicator_market(code)
        if not closes or (volumes is not None and len(volumes) != len(closes)):
            raise ValueError("give at least one close, and as many volumes as closes")
        self.info_market.replace(code, timeframe, [_decimal(c) for c in closes],
                                 [_decimal(v) for v in volumes] if volumes is not None else [Decimal(1)] * len(closes),
                                 self.now_ms())

    def candle_closes(self, code: str, timeframe: str) -> tuple[ClosedCandle, ...]:
        """The closed candles the indicators of ``code`` at ``timeframe`` are computed from, oldest first."""
        check_timeframe(timeframe)
        self._check_indicator_market(code)
        return tuple(self.info_market.history(code, timeframe, self.now_ms()))

    def restart_indicators(self) -> None:
        """Forget every signal condition state, as a server restart would: the next close of each
        timeframe sends no ``indicator_signal`` (its states become the baseline), as Upbit documents."""
        self.info_market.restart()

    def inject_indicator(self, code: str, timeframe: str, params: IndicatorParams, value: IndicatorValue, *,
                         candle_date_time_utc: str | None = None) -> Indicator:
        """Send ``value`` now to every ``/info`` connection subscribed to ``params`` of ``code`` at
        ``timeframe`` (any code, listed or not); the candle defaults to the latest closed one."""
        check_timeframe(timeframe)
        problem = params_problem(params, VALUE_RULES)
        if problem is not None:
            raise ValueError(problem)
        _check_value(params, value)
        now_ms = self.now_ms()
        utc = candle_date_time_utc or _utc(self.info_market.last_closed(timeframe, now_ms))
        event = Indicator(code=code, timeframe=timeframe, indicator=params.indicator, params=params,
                          candle_date_time_utc=utc, value=value, timestamp=now_ms, stream_type=StreamType.REALTIME)
        self._deliver("indicator", code, timeframe, params, event)
        return event

    def force_signal(self, code: str, timeframe: str, condition: SignalCondition, value: IndicatorValue | None = None,
                     *, candle_date_time_utc: str | None = None) -> IndicatorSignal:
        """Fire ``condition`` of ``code`` at ``timeframe`` now, to every ``/info`` connection subscribed
        to it, whatever its state (which is left alone). ``value`` defaults to the indicator at the
        latest close of a market the fake trades."""
        check_timeframe(timeframe)
        problem = condition_problem(condition)
        if problem is not None:
            raise ValueError(problem)
        now_ms = self.now_ms()
        if value is None:
            if not self._indicator_market(code):
                raise ValueError(f"the fake computes no indicator for {code!r}: pass value=")
            self.info_market.history(code, timeframe, now_ms)
            value = self.info_market.value(code, timeframe, condition.params)
            if value is None:
                raise ValueError(f"not enough closed candles of {code} for {condition.params!r}: pass value=")
        _check_value(condition.params, value)
        utc = candle_date_time_utc or _utc(self.info_market.last_closed(timeframe, now_ms))
        event = IndicatorSignal(code=code, timeframe=timeframe, indicator=condition.indicator,
                                params=condition.params, trigger=condition.trigger,
                                event_params=condition.event_params, candle_date_time_utc=utc, value=value,
                                timestamp=now_ms, stream_type=StreamType.REALTIME)
        self._deliver("indicator_signal", code, timeframe, condition, event)
        return event

    # -- emission -----------------------------------------------------------------------------------

    def _indicator_market(self, code: str) -> bool:
        """Whether indicators exist for ``code``: a listed KRW market of the simulation."""
        return code.startswith("KRW-") and code in self.market and code not in self._delisted

    def _check_indicator_market(self, code: str) -> None:
        if not self._indicator_market(code):
            raise ValueError(f"{code!r} is not a listed KRW market of this fake exchange (no indicators)")

    def _info_streams(self, timeframe: str) -> Iterator[tuple[Connection, str, tuple[str, ...], IndicatorSpec]]:
        """(connection, type, codes, spec) of every live ``/info`` subscription object at ``timeframe``."""
        for conn in list(self._conns.values()):
            if conn.endpoint != "info" or conn.auth_error is not None or conn.close_after_send is not None:
                continue
            for t in conn.types:
                if isinstance(t.spec, IndicatorSpec) and t.spec.timeframe == timeframe:
                    yield conn, t.type, t.codes, t.spec

    def _deliver(self, type_: str, code: str, timeframe: str, item: IndicatorParams | SignalCondition,
                 event: Indicator | IndicatorSignal, recorded: bytes | None = None) -> int:
        frames: dict[Format, bytes] = {}
        queued = 0
        for conn, t_type, codes, spec in self._info_streams(timeframe):
            if t_type == type_ and code in codes and item in spec.items:
                frame = recorded or frames.get(conn.format) or frames.setdefault(conn.format,
                                                                                  encode_event(event, conn.format))
                queued += conn.queue.put(frame)
        return queued

    def _close(self, timeframe: str, start_ms: int, timestamp: int, prices: Mapping[str, Decimal],
               volumes: Mapping[str, Decimal]) -> None:
        """Close one candle of ``timeframe`` and send every subscribed value and fired signal."""
        streams = list(self._info_streams(timeframe))
        wanted = {code for _, _, codes, _ in streams for code in codes if self._indicator_market(code)}
        suppressed = self.info_market.close(timeframe, start_ms, wanted | set(prices) | set(volumes), prices, volumes)
        utc = _utc(start_ms)
        # Each event is computed and encoded once per close, however many connections want it.
        events: dict[tuple[str, str, Any], Indicator | IndicatorSignal | None] = {}  # bounded: this close's
        frames: dict[tuple[str, str, Any, Format], bytes] = {}  # bounded: this close's events × 4 formats
        for conn, type_, codes, spec in streams:
            for code in codes:
                if not self._indicator_market(code):
                    continue
                for item in spec.items:
                    key = (type_, code, item)
                    if key not in events:
                        events[key] = self._close_event(type_, code, timeframe, item, utc, timestamp, suppressed)
                    event = events[key]
                    if event is None:
                        continue
                    frame = frames.get((*key, conn.format))
                    if frame is None:
                        frame = frames[(*key, conn.format)] = encode_event(event, conn.format)
                    conn.queue.put(frame)

    def _close_event(self, type_: str, code: str, timeframe: str, item: IndicatorParams | SignalCondition,
                     utc: str, timestamp: int, suppressed: bool) -> Indicator | IndicatorSignal | None:
        market = self.info_market
        if isinstance(item, SignalCondition):
            if suppressed or not market.fired(code, timeframe, item):
                return None
            value = market.value(code, timeframe, item.params)
            if value is None:
                return None
            return IndicatorSignal(code=code, timeframe=timeframe, indicator=item.indicator, params=item.params,
                                   trigger=item.trigger, event_params=item.event_params, candle_date_time_utc=utc,
                                   value=value, timestamp=timestamp, stream_type=StreamType.REALTIME)
        value = market.value(code, timeframe, item)
        if value is None:
            return None
        return Indicator(code=code, timeframe=timeframe, indicator=item.indicator, params=item,
                         candle_date_time_utc=utc, value=value, timestamp=timestamp, stream_type=StreamType.REALTIME)

    async def _info_loop(self) -> None:
        """Close candles on the clock: at every 5-minute boundary, each timeframe that ends there."""
        step = TIMEFRAME_MS["5m"]
        boundary = 0
        while True:
            boundary = max((self.now_ms() // step + 1) * step, boundary + step)
            await trio.sleep_until(self._t0 + (boundary - self._epoch_ms) / 1000)
            for timeframe, start in self.info_market.due(boundary):
                self._close(timeframe, start, max(self.now_ms(), boundary), {}, {})


def _announcement_frame(notice: Announcement, fmt: Format, with_body: bool) -> bytes:
    """``notice`` in ``fmt``, with a ``body`` key (null when too large) only ``with_body``."""
    obj = wire_object(attrs.evolve(notice, body=None), fmt.simple_keys)
    if with_body:
        obj["bd" if fmt.simple_keys else "body"] = notice.body
    return _encoder.encode([obj] if fmt.listed else obj)


def _check_value(params: IndicatorParams, value: IndicatorValue) -> None:
    wanted = INDICATOR_CLASSES[params.indicator][1]
    if type(value) is not wanted:
        raise TypeError(f"a {params.indicator} value is a {wanted.__name__}: got {value!r}")


def _decimal(number: Number | float) -> Decimal:
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def _utc(start_ms: int) -> str:
    return ClosedCandle(start_ms, Decimal(0), Decimal(0)).candle_date_time_utc
