"""The live terminal views' shared parts (colour choice, repainting, number formats) and the ticker table."""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import TextIO

import attrs
import trio

from .._config.settings import Settings
from .._core.events import Ticker
from .._core.stats import ConnectionEventKind, HealthStatus
from .._trio.groups import single_errors
from .._trio.session import UpbitSession, open_upbit_session

__all__ = [
    "Screen", "format_price", "format_size", "health_text", "live_view", "render_tickers", "unreachable", "exit_status",
    "watch_tickers",
]

RED, BLUE, DIM, BOLD, RESET = "\x1b[31m", "\x1b[34m", "\x1b[2m", "\x1b[1m", "\x1b[0m"
_HOME, _CLEAR_LINE, _CLEAR_BELOW = "\x1b[H", "\x1b[K", "\x1b[J"
_HIDE_CURSOR, _SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


@attrs.frozen
class Screen:
    """Where a view draws: ``interactive`` repaints in place, ``color`` adds ANSI colours.

    Not a terminal (a pipe or a file): plain text, each frame printed after the last. ``NO_COLOR``
    set (https://no-color.org) or ``TERM=dumb``: no colours.
    """

    out: TextIO
    interactive: bool
    color: bool

    @classmethod
    def for_stream(cls, out: TextIO, env: Mapping[str, str] = os.environ) -> Screen:
        """The screen of ``out``: interactive if it is a terminal; coloured unless ``NO_COLOR``."""
        interactive = _isatty(out)
        color = interactive and not env.get("NO_COLOR") and env.get("TERM") != "dumb"
        return cls(out, interactive, color)

    def paint(self, text: str, color: str) -> str:
        """``text`` in ``color`` (an ANSI code) when colours are on."""
        return f"{color}{text}{RESET}" if self.color and color else text

    def show(self, frame: str) -> None:
        """Draw a whole frame: over the last one on a terminal (each line cut to its width), after it otherwise."""
        if self.interactive:
            size = shutil.get_terminal_size()
            lines = [clip(line, size.columns) for line in frame.split("\n")][: max(1, size.lines - 1)]
            body = f"{_CLEAR_LINE}\n".join(lines)
            self.out.write(f"{_HOME}{body}{_CLEAR_LINE}\n{_CLEAR_BELOW}")
        else:
            self.out.write(f"{frame}\n\n")
        self.out.flush()

    def begin(self) -> None:
        """Prepare the terminal for repainting (clear it, hide the cursor)."""
        if self.interactive:
            self.out.write(f"{_HOME}{_CLEAR_BELOW}{_HIDE_CURSOR}")
            self.out.flush()

    def end(self) -> None:
        """Give the terminal back (show the cursor); synchronous, so safe in ``finally``."""
        if self.interactive:
            try:
                self.out.write(_SHOW_CURSOR)
                self.out.flush()
            except (OSError, ValueError):
                pass


_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def clip(line: str, columns: int) -> str:
    """``line`` cut to ``columns`` terminal cells (wide Korean characters take two; colour codes none).

    A cut line ends with ``…`` and a colour reset, so nothing wraps and no colour leaks.
    """
    if _cells(_ESCAPE.sub("", line)) <= columns:
        return line
    room = columns - 1  # for the ellipsis
    out: list[str] = []
    position = 0
    for match in [*_ESCAPE.finditer(line), None]:
        end = match.start() if match is not None else len(line)
        for char in line[position:end]:
            room -= _cells(char)
            if room < 0:
                return "".join(out) + ("…" if columns > 0 else "") + (RESET if "\x1b[" in line else "")
            out.append(char)
        if match is not None:
            out.append(match.group())
            position = match.end()
    return "".join(out)  # pragma: no cover - the line fitted after all


def _cells(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


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


def title_line(screen: Screen, title: str) -> list[str]:
    """The bold title as the first line of a frame, or nothing."""
    return [screen.paint(title, BOLD)] if title else []


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


def status_line(screen: Screen, text: str) -> str:
    """The dimmed status line under a frame (with the quit hint on a terminal)."""
    return screen.paint(f"{text} — Ctrl-C to quit", DIM) if screen.interactive else text


# -- the ticker table -----------------------------------------------------------------------------


def render_tickers(codes: Sequence[str], latest: dict[str, tuple[Ticker, float]], now: float, *, color: bool) -> str:
    """The table text: price, change %, 24 h volume and update age per code (rise red, fall blue)."""
    lines = [f"{'code':<12}{'price':>18}{'change':>10}{'24h volume':>20}{'age':>8}"]
    for code in codes:
        seen = latest.get(code)
        if seen is None:
            lines.append(f"{code:<12}{'waiting…':>18}")
            continue
        ticker, at = seen
        rate = ticker.signed_change_rate
        row = (
            f"{code:<12}{format_price(ticker.trade_price):>18}{f'{rate * 100:+.2f}%':>10}"
            f"{format_price(ticker.acc_trade_volume_24h, 3):>20}{now - at:>7.1f}s"
        )
        if color and rate != 0:
            row = f"{RED if rate > 0 else BLUE}{row}{RESET}"
        lines.append(row)
    return "\n".join(lines)


async def watch_tickers(
    codes: Sequence[str],
    settings: Settings,
    *,
    seconds: float = math.inf,
    out: TextIO = sys.stdout,
    title: str = "",
) -> int:
    """Stream tickers of ``codes`` into a redrawn table until ``seconds`` pass (or the caller cancels)."""
    screen = Screen.for_stream(out)
    latest: dict[str, tuple[Ticker, float]] = {}
    received = 0
    async with open_upbit_session(config=settings) as session:
        async with session.ticker(codes) as tickers:

            def draw() -> str:
                table = render_tickers(codes, latest, time.time(), color=screen.color)
                status = f"{received} tickers received; {health_text(session)}"
                return "\n".join([*title_line(screen, title), table, status_line(screen, status)])

            async def consume() -> None:
                nonlocal received
                async for ticker in tickers:
                    received += 1
                    latest[ticker.code] = (ticker, time.time())

            await live_view(screen, seconds, consume, draw, status=(session, "watch ticker"))
        return exit_status(session, "watch ticker")


async def live_view(
    screen: Screen, seconds: float, consume: Callable[[], Awaitable[None]], draw: Callable[[], str] | None = None,
    *, status: tuple[UpbitSession, str] | None = None,
) -> None:
    """Run ``consume`` for ``seconds`` while repainting ``draw()`` (4/s on a terminal, 1/s otherwise).

    ``status`` (the session and the command's name): when the view is not on a terminal, each
    connection change (disconnected, reconnected, gave up) is also told on stderr, one line each.
    """
    screen.begin()
    try:
        with trio.move_on_after(seconds) as timer, single_errors():
            async with trio.open_nursery() as nursery:
                if draw is not None:
                    nursery.start_soon(_repaint, screen, draw)
                if status is not None and not _isatty(screen.out):
                    await nursery.start(_tell_changes, *status)
                await consume()
                nursery.cancel_scope.cancel()
        if draw is not None and timer.cancelled_caught:
            screen.show(draw())  # the final state, also in a pipe
    finally:
        screen.end()


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


async def _repaint(screen: Screen, draw: Callable[[], str]) -> None:
    while True:
        screen.show(draw())
        await trio.sleep(0.25 if screen.interactive else 1.0)
