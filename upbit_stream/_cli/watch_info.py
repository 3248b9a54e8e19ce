"""``upbit-stream watch announcements`` (a scrolling list of notices) and ``watch indicators`` (a value table)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TextIO

import attrs
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from .._config.settings import Settings
from .._core.enums import AnnouncementEventType
from .._core.indicators import IndicatorParams, Timeframe
from .._core.info_events import Announcement, Indicator
from .._trio.session import open_upbit_session
from .terminal import RISE, Terminal, column, line, table
from .watch import exit_status, frame, health_text, live_view

__all__ = ["describe_params", "render_announcement", "render_indicators", "watch_announcements", "watch_indicators"]

NOTICE_HEADER = f"{'listed (KST)':<17} {'category':<14} {'event':<8} title"


def render_announcement(notice: Announcement) -> tuple[Text, Text]:
    """Two lines: listing time, category, CREATED/UPDATED and title (bold when new), then the URL (dimmed)."""
    listed = notice.listed_at.replace("T", " ")[:16]
    text = f"{listed:<17} {notice.category!s:<14} {notice.event_type!s:<8} {notice.title}"
    first = line(text, "bold" if notice.event_type == AnnouncementEventType.CREATED else "")
    return first, line(" " * 18 + notice.url, "dim")


async def watch_announcements(
    categories: Sequence[str] | None,
    settings: Settings,
    *,
    seconds: float = math.inf,
    out: TextIO | Console = sys.stdout,
    title: str = "",
) -> int:
    """Print each notice as Upbit publishes or updates it (private endpoint: API keys needed, no permission)."""
    term = Terminal.for_output(out)  # scrolls, never repaints; a long title is cut to the width, not wrapped
    wanted = "every category" if not categories else ", ".join(categories)
    waiting = line(f"waiting for announcements ({wanted}); Upbit sends one only when a notice is published or "
                   "updated", "dim")
    term.lines([*([line(title, "bold")] if title else []), waiting, line(NOTICE_HEADER, "bold")])
    async with open_upbit_session(config=settings) as session:
        async with session.announcement(categories or None) as notices:

            async def consume() -> None:
                async for notice in notices:
                    term.lines(render_announcement(notice))

            await live_view(term, seconds, consume, status=(session, "watch announcements"))
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


def render_indicators(rows: Sequence[tuple[str, IndicatorParams]],
                      latest: dict[tuple[str, IndicatorParams], Indicator]) -> Table:
    """The table: code, indicator, candle (UTC start) and every value field, in request order; the newest red."""
    grid = table(column("code"), column("indicator"), column("candle (UTC)", shrinks_first=True),
                 column("values", shrinks_first=True))
    newest = _newest(latest)
    for code, params in rows:
        event = latest.get((code, params))
        if event is None:
            grid.add_row(line(code), line(describe_params(params)), line("waiting for the next close…"))
            continue
        values = "  ".join(f"{name} {_number(value)}" for name, value in attrs.asdict(event.value).items())
        grid.add_row(line(code), line(describe_params(params)), line(event.candle_date_time_utc.replace("T", " ")),
                     line(values), style=RISE if event is newest else "")
    return grid


def _newest(latest: dict[tuple[str, IndicatorParams], Indicator]) -> Indicator | None:
    return max(latest.values(), key=lambda event: event.timestamp, default=None)


async def watch_indicators(
    codes: Sequence[str],
    settings: Settings,
    *,
    timeframe: Timeframe,
    indicators: Sequence[IndicatorParams],
    seconds: float = math.inf,
    out: TextIO | Console = sys.stdout,
    title: str = "",
) -> int:
    """Keep a table of the latest value of each (code, indicator), updated at every ``timeframe`` close."""
    term = Terminal.for_output(out)
    rows = [(code, params) for code in codes for params in indicators]
    latest: dict[tuple[str, IndicatorParams], Indicator] = {}
    received = 0
    async with open_upbit_session(config=settings) as session:
        async with session.indicator(codes, timeframe, indicators) as values:

            def draw() -> RenderableType:
                when = time.strftime("%H:%M:%S")
                status = f"{timeframe} candles; {received} values received (at {when}); {health_text(session)}"
                return frame(term, title, render_indicators(rows, latest), status=status)

            async def consume() -> None:
                nonlocal received
                async for event in values:
                    received += 1
                    latest[(event.code, event.params)] = event

            await live_view(term, seconds, consume, draw, status=(session, "watch indicators"))
        return exit_status(session, "watch indicators")

