"""The live ticker table of ``upbit-stream watch ticker`` and ``upbit-stream demo`` (plain ANSI)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TextIO

import trio

from ._events import Ticker
from ._session import open_upbit_session
from ._settings import Settings

__all__ = ["render_tickers", "watch_tickers"]

_RED, _BLUE, _DIM, _BOLD, _RESET = "\x1b[31m", "\x1b[34m", "\x1b[2m", "\x1b[1m", "\x1b[0m"
_HOME_CLEAR = "\x1b[H\x1b[2J"


def _number(value: Decimal | None, places: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{places}f}"


def render_tickers(codes: Sequence[str], latest: dict[str, tuple[Ticker, float]], now: float, *, color: bool) -> str:
    """The table text: price, change %, 24 h volume and update age per code (rise red, fall blue)."""
    lines = [f"{'code':<12}{'price':>18}{'change':>10}{'24h volume':>20}{'age':>8}"]
    for code in codes:
        seen = latest.get(code)
        if seen is None:
            lines.append(f"{code:<12}{'waiting…':>18}")
            continue
        ticker, at = seen
        price = ticker.trade_price
        places = 8 if price is None or price < 1 else 2 if price < 100 else 0
        rate = ticker.signed_change_rate
        change = "-" if rate is None else f"{rate * 100:+.2f}%"
        row = (
            f"{code:<12}{_number(ticker.trade_price, places):>18}{change:>10}"
            f"{_number(ticker.acc_trade_volume_24h, 3):>20}{now - at:>7.1f}s"
        )
        if color and rate is not None and rate != 0:
            row = f"{_RED if rate > 0 else _BLUE}{row}{_RESET}"
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
    """Stream tickers of ``codes`` into a redrawn table until ``seconds`` pass or Ctrl-C."""
    latest: dict[str, tuple[Ticker, float]] = {}
    interactive = out.isatty()
    received = 0
    with trio.move_on_after(seconds):
        async with open_upbit_session(config=settings) as session:
            async with session.ticker(codes) as tickers, trio.open_nursery() as nursery:

                async def redraw() -> None:
                    while True:
                        table = render_tickers(codes, latest, time.time(), color=interactive)
                        head = f"{_BOLD}{title}{_RESET}\n" if interactive and title else (f"{title}\n" if title else "")
                        health = session.health()
                        status = f"{health.status}; {received} tickers received"
                        if interactive:
                            out.write(f"{_HOME_CLEAR}{head}{table}\n{_DIM}{status} — Ctrl-C to quit{_RESET}\n")
                        else:
                            out.write(f"{head}{table}\n{status}\n\n")
                        out.flush()
                        await trio.sleep(0.25 if interactive else 1.0)

                nursery.start_soon(redraw)
                async for ticker in tickers:
                    received += 1
                    latest[ticker.code] = (ticker, time.time())
    return 0
