"""The live order book ladder of ``upbit-stream watch orderbook``: asks over bids, spread and imbalance."""

from __future__ import annotations

import math
import sys
import time
from decimal import Decimal
from typing import TextIO

from rich.console import Console, Group, RenderableType

from .._config.settings import Settings
from .._core.events import Orderbook, OrderbookUnit
from .._trio.session import open_upbit_session
from .terminal import FALL, RISE, Terminal, column, line, table
from .watch import (
    exit_status,
    format_price,
    format_size,
    frame,
    health_text,
    live_view,
    price_places,
)

__all__ = ["render_orderbook", "watch_orderbook"]

_BAR_WIDTH = 16
_ZERO = Decimal(0)


def _bar(size: Decimal, largest: Decimal) -> str:
    if not size or largest <= 0:
        return ""
    return "█" * max(1, round(float(size / largest) * _BAR_WIDTH))


def imbalance(book: Orderbook, depth: int) -> Decimal | None:
    """(bid size − ask size) / (bid size + ask size) over the first ``depth`` levels, in [-1, 1]."""
    units = book.orderbook_units[:depth]
    bids = sum((u.bid_size for u in units), _ZERO)
    asks = sum((u.ask_size for u in units), _ZERO)
    total = bids + asks
    return None if total == 0 else (bids - asks) / total


def render_orderbook(book: Orderbook | None, code: str, depth: int, now: float, received_at: float) -> Group:
    """The ladder: ``depth`` asks (best at the bottom, blue), the spread, ``depth`` bids (best on top, red).

    On a narrow terminal the size bars shrink (and vanish) before the numbers are cut.
    """
    grid = table(column("", right=True, shrinks_first=True), column("ask size", right=True),
                 column("price", right=True), column("bid size", right=True), column("", shrinks_first=True))
    if book is None:
        grid.add_row(line(""), line(""), line(f"waiting for {code}…"))
        return Group(grid)
    units = book.orderbook_units[:depth]
    sizes = [s for u in units for s in (u.ask_size, u.bid_size)]
    largest = max(sizes, default=_ZERO)
    best = units[0] if units else None
    places = price_places(best.ask_price if best else None)
    for unit in reversed(units):
        grid.add_row(line(_bar(unit.ask_size, largest), crop=True), line(format_size(unit.ask_size)),
                     line(format_price(unit.ask_price, places)), style=FALL)
    grid.add_row(*map(line, _spread_cells(best, places)), style="dim")
    for unit in units:
        grid.add_row(line(""), line(""), line(format_price(unit.bid_price, places)), line(format_size(unit.bid_size)),
                     line(_bar(unit.bid_size, largest), crop=True), style=RISE)
    below = []
    share = imbalance(book, depth)
    if share is not None:
        leaning = "bids" if share > 0 else "asks" if share < 0 else "even"
        bid_part = (1 + share) / 2 * 100
        below.append(line(f"imbalance {share:+.2f} ({leaning}: bids {bid_part:.0f}% of the size shown)"))
    age = now - received_at
    below.append(line(f"total ask {format_size(book.total_ask_size)}  total bid {format_size(book.total_bid_size)}"
                      f"  updated {age:.1f}s ago"))
    return Group(grid, *below)


def _spread_cells(best: OrderbookUnit | None, places: int) -> tuple[str, ...]:
    """The row between asks and bids: the spread in the price column, its share of the mid, then the mid."""
    if best is None:
        return "", "spread", "-"
    ask, bid = best.ask_price, best.bid_price
    spread = ask - bid
    mid = (ask + bid) / 2
    percent = f"({spread / mid * 100:.3f}%)" if mid else ""
    return "", "spread", format_price(spread, places), percent, f"mid {format_price(mid, places + 1)}"


async def watch_orderbook(
    code: str,
    settings: Settings,
    *,
    depth: int = 15,
    seconds: float = math.inf,
    out: TextIO | Console = sys.stdout,
    title: str = "",
) -> int:
    """Stream the order book of ``code`` into a redrawn ladder until ``seconds`` pass (or cancelled)."""
    term = Terminal.for_output(out)
    latest: list[tuple[Orderbook, float]] = []
    received = 0
    async with open_upbit_session(config=settings) as session:
        async with session.orderbook(code, depth=depth) as books:

            def draw() -> RenderableType:
                book, at = latest[-1] if latest else (None, time.time())
                status = f"{received} order books received; {health_text(session)}"
                return frame(term, title, render_orderbook(book, code, depth, time.time(), at), status=status)

            async def consume() -> None:
                nonlocal received
                async for book in books:
                    received += 1
                    latest[:] = [(book, time.time())]

            await live_view(term, seconds, consume, draw, status=(session, "watch orderbook"))
        return exit_status(session, "watch orderbook")
