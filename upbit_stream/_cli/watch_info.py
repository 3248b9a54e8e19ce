"""``upbit-stream watch announcements`` (a scrolling list of notices) and ``watch indicators`` (a value table)."""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TextIO

import attrs

from .._config.settings import Settings
from .._core.enums import AnnouncementEventType
from .._core.indicators import IndicatorParams, Timeframe
from .._core.info_events import Announcement, Indicator
from .._trio.session import open_upbit_session
from .watch import (
    BOLD,
    DIM,
    RED,
    Screen,
    clip,
    exit_status,
    health_text,
    live_view,
    status_line,
    title_line,
)

__all__ = ["describe_params", "render_announcement", "render_indicators", "watch_announcements", "watch_indicators"]

NOTICE_HEADER = f"{'listed (KST)':<17} {'category':<14} {'event':<8} title"


def render_announcement(notice: Announcement, screen: Screen) -> str:
    """Two lines: listing time, category, CREATED/UPDATED and title (bold), then the URL (dimmed)."""
    listed = notice.listed_at.replace("T", " ")[:16]
    line = f"{listed:<17} {notice.category!s:<14} {notice.event_type!s:<8} {notice.title}"
    painted = screen.paint(line, BOLD if notice.event_type == AnnouncementEventType.CREATED else "")
    return f"{painted}\n{screen.paint(' ' * 18 + notice.url, DIM)}"


async def watch_announcements(
    categories: Sequence[str] | None,
    settings: Settings,
    *,
    seconds: float = math.inf,
    out: TextIO = sys.stdout,
    title: str = "",
) -> int:
    """Print each notice as Upbit publishes or updates it (private endpoint: API keys needed, no permission)."""
    screen = Screen(out, interactive=False, color=Screen.for_stream(out).color)  # scrolls, never repaints
    terminal = Screen.for_stream(out).interactive
    if title:
        out.write(screen.paint(title, BOLD) + "\n")
    wanted = "every category" if not categories else ", ".join(categories)
    out.write(screen.paint(f"waiting for announcements ({wanted}); Upbit sends one only when a notice is "
                           "published or updated", DIM) + "\n")
    out.write(screen.paint(NOTICE_HEADER, BOLD) + "\n")
    out.flush()
    async with open_upbit_session(config=settings) as session:
        async with session.announcement(categories or None) as notices:

            async def consume() -> None:
                async for notice in notices:
                    text = render_announcement(notice, screen)
                    if terminal:  # a long title is cut to the width rather than wrapped
                        text = "\n".join(clip(line, shutil.get_terminal_size().columns) for line in text.split("\n"))
                    out.write(text + "\n")
                    out.flush()

            await live_view(screen, seconds, consume, status=(session, "watch announcements"))
        return exit_status(session, "watch announcements")


def describe_params(params: IndicatorParams) -> str:
    """``rsi(14)``, ``moving_average(EMA 20)``, ``macd(12/26/9)``: an indicator in a table cell."""
    values = [str(v) for v in attrs.astuple(params)]
    if params.indicator in ("moving_average", "ma_crossover"):
        return f"{params.indicator}({values[0]} {'/'.join(values[1:])})"
    return f"{params.indicator}({'/'.join(values)})"


def _number(value: Decimal) -> str:
    magnitude = abs(value)
    places = 8 if magnitude < 1 else 4 if magnitude < 1000 else 2
    return f"{value:,.{places}f}"


def render_indicators(rows: Sequence[tuple[str, IndicatorParams]], latest: dict[tuple[str, IndicatorParams], Indicator],
                      *, color: bool) -> str:
    """The table text: code, indicator, candle (UTC start) and every value field, in request order."""
    lines = [f"{'code':<12} {'indicator':<30} {'candle (UTC)':<20} values"]
    for code, params in rows:
        event = latest.get((code, params))
        head = f"{code:<12} {describe_params(params):<30}"
        if event is None:
            lines.append(f"{head} {'waiting for the next close…':<20}")
            continue
        values = "  ".join(f"{name} {_number(value)}" for name, value in attrs.asdict(event.value).items())
        row = f"{head} {event.candle_date_time_utc.replace('T', ' '):<20} {values}"
        lines.append(f"{RED}{row}\x1b[0m" if color and event is _newest(latest) else row)
    return "\n".join(lines)


def _newest(latest: dict[tuple[str, IndicatorParams], Indicator]) -> Indicator | None:
    return max(latest.values(), key=lambda event: event.timestamp, default=None)


async def watch_indicators(
    codes: Sequence[str],
    settings: Settings,
    *,
    timeframe: Timeframe,
    indicators: Sequence[IndicatorParams],
    seconds: float = math.inf,
    out: TextIO = sys.stdout,
    title: str = "",
) -> int:
    """Keep a table of the latest value of each (code, indicator), updated at every ``timeframe`` close."""
    screen = Screen.for_stream(out)
    rows = [(code, params) for code in codes for params in indicators]
    latest: dict[tuple[str, IndicatorParams], Indicator] = {}
    received = 0
    async with open_upbit_session(config=settings) as session:
        async with session.indicator(codes, timeframe, indicators) as values:

            def draw() -> str:
                table = render_indicators(rows, latest, color=screen.color)
                when = time.strftime("%H:%M:%S")
                status = f"{timeframe} candles; {received} values received (at {when}); {health_text(session)}"
                return "\n".join([*title_line(screen, title), table, status_line(screen, status)])

            async def consume() -> None:
                nonlocal received
                async for event in values:
                    received += 1
                    latest[(event.code, event.params)] = event

            await live_view(screen, seconds, consume, draw, status=(session, "watch indicators"))
        return exit_status(session, "watch indicators")

