"""The live views' shared parts (frames, the run loop, number formats, exit statuses) and the ticker table."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TextIO

import trio
from rich.console import Console, Group, RenderableType
from rich.table import Table

from .._config.settings import Settings
from .._core.events import Ticker
from .._core.stats import ConnectionEventKind, HealthStatus
from .._trio.groups import single_errors
from .._trio.session import UpbitSession, open_upbit_session
from .terminal import FALL, RISE, Terminal, column, line, table

__all__ = [
    "exit_status", "format_price", "format_size", "frame", "health_text", "live_view", "render_tickers", "unreachable",
    "watch_tickers",
]


def price_places(price: Decimal | None) -> int:
    """Decimal places that show a price of this size well (8 below 1, 2 below 100, else 0)."""
    if price is None:
        return 0
    magnitude = abs(price)
    return 8 if magnitude < 1 else 2 if magnitude < 100 else 0


def format_price(value: Decimal, places: int | None = None) -> str:
    """A price with thousands separators."""
    return f"{value:,.{price_places(value) if places is None else places}f}"


def format_size(value: Decimal) -> str:
    """A volume or order size with Upbit's 8 decimals, so a column lines up."""
    return f"{value:,.8f}"


def frame(term: Terminal, title: str, *body: RenderableType, status: str) -> Group:
    """A whole frame: the bold title (if any), ``body``, and the dimmed status (with the quit hint on a terminal)."""
    head = [line(title, "bold")] if title else []
    return Group(*head, *body, line(f"{status} — Ctrl-C to quit" if term.live else status, "dim"))


def health_text(session: UpbitSession) -> str:
    """``healthy``, or ``down: public: …`` with the session's reasons."""
    health = session.health()
    return health.status if not health.reasons else f"{health.status}: {'; '.join(health.reasons)}"


def unreachable(session: UpbitSession) -> str | None:
    """Why nothing ever arrived, when the session is down and no connection received a message; else None."""
    health = session.health()
    if health.status is not HealthStatus.DOWN:
        return None
    if any(stats.messages for stats in session.stats().connections.values()):
        return None
    return "; ".join(health.reasons) or "no connection could be opened"


def exit_status(session: UpbitSession, command: str) -> int:
    """0, or 1 after saying on stderr why nothing ever arrived (a wrong URL must not look like a quiet market)."""
    why = unreachable(session)
    if why is None:
        return 0
    print(f"upbit-stream {command}: nothing received: {why}", file=sys.stderr, flush=True)
    return 1


# -- the ticker table -----------------------------------------------------------------------------


def render_tickers(codes: Sequence[str], latest: dict[str, tuple[Ticker, float]], now: float) -> Table:
    """The table: price, change %, 24 h volume and update age per code (rise red, fall blue)."""
    grid = table(column("code"), column("price", right=True), column("change", right=True),
                 column("24h volume", right=True, shrinks_first=True), column("age", right=True, shrinks_first=True))
    for code in codes:
        seen = latest.get(code)
        if seen is None:
            grid.add_row(line(code), line("waiting…"))
            continue
        ticker, at = seen
        rate = ticker.signed_change_rate
        cells = (code, format_price(ticker.trade_price), f"{rate * 100:+.2f}%",
                 format_price(ticker.acc_trade_volume_24h, 3), f"{now - at:.1f}s")
        grid.add_row(*map(line, cells), style=RISE if rate > 0 else FALL if rate < 0 else "")
    return grid


async def watch_tickers(
    codes: Sequence[str],
    settings: Settings,
    *,
    seconds: float = math.inf,
    out: TextIO | Console = sys.stdout,
    title: str = "",
) -> int:
    """Stream tickers of ``codes`` into a redrawn table until ``seconds`` pass (or the caller cancels)."""
    term = Terminal.for_output(out)
    latest: dict[str, tuple[Ticker, float]] = {}
    received = 0
    async with open_upbit_session(config=settings) as session:
        async with session.ticker(codes) as tickers:

            def draw() -> RenderableType:
                status = f"{received} tickers received; {health_text(session)}"
                return frame(term, title, render_tickers(codes, latest, time.time()), status=status)

            async def consume() -> None:
                nonlocal received
                async for ticker in tickers:
                    received += 1
                    latest[ticker.code] = (ticker, time.time())

            await live_view(term, seconds, consume, draw, status=(session, "watch ticker"))
        return exit_status(session, "watch ticker")


async def live_view(
    term: Terminal, seconds: float, consume: Callable[[], Awaitable[None]],
    draw: Callable[[], RenderableType] | None = None, *, status: tuple[UpbitSession, str] | None = None,
) -> None:
    """Run ``consume`` for ``seconds`` while showing ``draw()`` (4 frames/s on a terminal, 1/s otherwise).

    ``status`` (the session and the command's name): when the view is not on a terminal, each
    connection change (disconnected, reconnected, gave up) is also told on stderr, one line each.
    """
    if draw is None:  # a view that prints as it goes
        await _run_for(term, seconds, consume, None, status)
        return
    with term.frames() as show:
        if await _run_for(term, seconds, consume, lambda: show(draw()), status):
            show(draw())  # the final state, also in a pipe


async def _run_for(term: Terminal, seconds: float, consume: Callable[[], Awaitable[None]],
                   repaint: Callable[[], None] | None, status: tuple[UpbitSession, str] | None) -> bool:
    """Whether ``seconds`` passed (rather than ``consume`` ending)."""
    with trio.move_on_after(seconds) as timer, single_errors():
        async with trio.open_nursery() as nursery:
            if repaint is not None:
                nursery.start_soon(_repaint, repaint, 0.25 if term.live else 1.0)
            if status is not None and not term.live:
                await nursery.start(_tell_changes, *status)
            await consume()
            nursery.cancel_scope.cancel()
    return timer.cancelled_caught


async def _tell_changes(session: UpbitSession, command: str,
                        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    async with session.connection_events() as changes:
        task_status.started()
        async for change in changes:
            if change.kind is ConnectionEventKind.CONNECTED:
                continue  # the first connection is the normal start, not a change
            why = f": {change.reason}" if change.reason else ""
            what = change.kind.lower().replace("_", " ")
            print(f"upbit-stream {command}: {change.endpoint} {what}{why}", file=sys.stderr, flush=True)


async def _repaint(repaint: Callable[[], None], every: float) -> None:
    while True:
        repaint()
        await trio.sleep(every)
