"""The live order book ladder of ``upbit-stream watch orderbook``: asks over bids, spread and imbalance."""

from __future__ import annotations

import math
import sys
import time
from decimal import Decimal
from typing import TextIO

from .._config.settings import Settings
from .._core.events import Orderbook, OrderbookUnit
from .._trio.session import open_upbit_session
from .watch import (
    BLUE,
    DIM,
    RED,
    Screen,
    exit_status,
    format_price,
    format_size,
    health_text,
    live_view,
    price_places,
    status_line,
    title_line,
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


def render_orderbook(book: Orderbook | None, code: str, depth: int, now: float, received_at: float,
                     screen: Screen) -> str:
    """The ladder: ``depth`` asks (best at the bottom, blue), the spread, ``depth`` bids (best on top, red)."""
    header = f"{'':>{_BAR_WIDTH}} {'ask size':>16} {'price':>16} {'bid size':>16}"
    if book is None:
        return f"{header}\n{'':>{_BAR_WIDTH}} {'waiting for ' + code + '…':>33}"
    units = book.orderbook_units[:depth]
    sizes = [s for u in units for s in (u.ask_size, u.bid_size)]
    largest = max(sizes, default=_ZERO)
    best = units[0] if units else None
    places = price_places(best.ask_price if best else None)
    lines = [header]
    for unit in reversed(units):
        row = f"{_bar(unit.ask_size, largest):>{_BAR_WIDTH}} {format_size(unit.ask_size):>16} " \
              f"{format_price(unit.ask_price, places):>16}"
        lines.append(screen.paint(row, BLUE))
    lines.append(screen.paint(_spread_line(best, places), DIM))
    for unit in units:
        row = f"{'':>{_BAR_WIDTH}} {'':>16} {format_price(unit.bid_price, places):>16} " \
              f"{format_size(unit.bid_size):>16} {_bar(unit.bid_size, largest)}"
        lines.append(screen.paint(row.rstrip(), RED))
    share = imbalance(book, depth)
    if share is not None:
        leaning = "bids" if share > 0 else "asks" if share < 0 else "even"
        bid_part = (1 + share) / 2 * 100
        lines.append(f"imbalance {share:+.2f} ({leaning}: bids {bid_part:.0f}% of the size shown)")
    age = now - received_at
    lines.append(f"total ask {format_size(book.total_ask_size)}  total bid {format_size(book.total_bid_size)}"
                 f"  updated {age:.1f}s ago")
    return "\n".join(lines)


def _spread_line(best: OrderbookUnit | None, places: int) -> str:
    if best is None:
        return f"{'':>{_BAR_WIDTH}} {'spread -':>33}"
    ask, bid = best.ask_price, best.bid_price
    spread = ask - bid
    mid = (ask + bid) / 2
    percent = f" ({spread / mid * 100:.3f}%)" if mid else ""
    text = f"spread {format_price(spread, places)}{percent}"
    return f"{'':>{_BAR_WIDTH}} {text:>33}  mid {format_price(mid, places + 1)}"


async def watch_orderbook(
    code: str,
    settings: Settings,
    *,
    depth: int = 15,
    seconds: float = math.inf,
    out: TextIO = sys.stdout,
    title: str = "",
) -> int:
    """Stream the order book of ``code`` into a redrawn ladder until ``seconds`` pass (or cancelled)."""
    screen = Screen.for_stream(out)
    latest: list[tuple[Orderbook, float]] = []
    received = 0
    async with open_upbit_session(config=settings) as session:
        async with session.orderbook(code, depth=depth) as books:

            def draw() -> str:
                book, at = latest[-1] if latest else (None, time.time())
                ladder = render_orderbook(book, code, depth, time.time(), at, screen)
                status = f"{received} order books received; {health_text(session)}"
                return "\n".join([*title_line(screen, title), ladder, status_line(screen, status)])

            async def consume() -> None:
                nonlocal received
                async for book in books:
                    received += 1
                    latest[:] = [(book, time.time())]

            await live_view(screen, seconds, consume, draw, status=(session, "watch orderbook"))
        return exit_status(session, "watch orderbook")
