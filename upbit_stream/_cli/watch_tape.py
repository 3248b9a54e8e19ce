"""The scrolling trade tape of ``upbit-stream watch trade``: one line per trade, buys red, sells blue."""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Sequence
from typing import TextIO

import trio

from .._config.settings import Settings
from .._core.enums import AskBid, StreamType
from .._core.events import Trade
from .._trio.session import open_upbit_session
from .watch import (
    BLUE,
    BOLD,
    DIM,
    RED,
    Screen,
    exit_status,
    format_price,
    format_size,
    live_view,
)

__all__ = ["render_trade", "watch_trades"]

TAPE_HEADER = f"{'time':<12} {'code':<12} {'side':<4} {'price':>18} {'volume':>16}"
_BATCH = 512


def render_trade(trade: Trade, screen: Screen) -> str:
    """One tape line: trade time (local), code, BUY/SELL (the taker's side), price and volume."""
    stamp = trade.trade_timestamp
    clock = time.strftime("%H:%M:%S", time.localtime(stamp / 1000)) + f".{stamp % 1000:03d}"
    side = "BUY" if trade.ask_bid == AskBid.BID else "SELL" if trade.ask_bid == AskBid.ASK else "?"
    line = f"{clock:<12} {trade.code:<12} {side:<4} {format_price(trade.trade_price):>18} " \
           f"{format_size(trade.trade_volume):>16}"
    if trade.stream_type == StreamType.SNAPSHOT:
        return screen.paint(f"{line}  (last before start)", DIM)
    return screen.paint(line, RED if side == "BUY" else BLUE if side == "SELL" else "")


async def watch_trades(
    codes: Sequence[str],
    settings: Settings,
    *,
    seconds: float = math.inf,
    out: TextIO = sys.stdout,
    title: str = "",
) -> int:
    """Print every trade of ``codes`` as it happens until ``seconds`` pass (or the caller cancels).

    On a terminal the column header repeats every screenful. No trade is dropped silently: a tape
    that cannot keep up ends with ``SlowConsumerError``.
    """
    screen = Screen(out, interactive=False, color=Screen.for_stream(out).color)  # scrolls, never repaints
    rows = max(5, shutil.get_terminal_size().lines - 1) if Screen.for_stream(out).interactive else 0
    if title:
        out.write(screen.paint(title, BOLD) + "\n")
    out.write(screen.paint(TAPE_HEADER, BOLD) + "\n")
    out.flush()
    async with open_upbit_session(config=settings) as session:
        async with session.trade(codes, buffer=4096, overflow="strict") as trades:

            async def consume() -> None:
                printed = 0
                while True:
                    batch = [await trades.receive()]
                    while len(batch) < _BATCH:
                        try:
                            batch.append(trades.receive_nowait())
                        except (trio.WouldBlock, trio.EndOfChannel):
                            break
                    lines = []
                    for trade in batch:
                        lines.append(render_trade(trade, screen))
                        printed += 1
                        if rows and printed % rows == 0:
                            lines.append(screen.paint(TAPE_HEADER, BOLD))
                    out.write("\n".join(lines) + "\n")
                    out.flush()

            try:
                await live_view(screen, seconds, consume, status=(session, "watch trade"))
            except trio.EndOfChannel:
                pass
        return exit_status(session, "watch trade")
