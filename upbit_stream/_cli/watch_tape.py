"""The scrolling trade tape of ``upbit-stream watch trade``: one line per trade, buys red, sells blue."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from typing import TextIO

import trio
from rich.console import Console
from rich.text import Text

from .._config.settings import Settings
from .._core.enums import AskBid, StreamType
from .._core.events import Trade
from .._trio.session import open_upbit_session
from .terminal import FALL, RISE, Terminal, line
from .watch import exit_status, format_price, format_size, live_view

__all__ = ["render_trade", "watch_trades"]

TAPE_HEADER = f"{'time':<12} {'code':<12} {'side':<4} {'price':>18} {'volume':>16}"
_BATCH = 512


def render_trade(trade: Trade) -> Text:
    """One tape line: trade time (local), code, BUY/SELL (the taker's side), price and volume."""
    stamp = trade.trade_timestamp
    clock = time.strftime("%H:%M:%S", time.localtime(stamp / 1000)) + f".{stamp % 1000:03d}"
    side = "BUY" if trade.ask_bid == AskBid.BID else "SELL" if trade.ask_bid == AskBid.ASK else "?"
    text = f"{clock:<12} {trade.code:<12} {side:<4} {format_price(trade.trade_price):>18} " \
           f"{format_size(trade.trade_volume):>16}"
    if trade.stream_type == StreamType.SNAPSHOT:
        return line(f"{text}  (last before start)", "dim")
    return line(text, RISE if side == "BUY" else FALL if side == "SELL" else "")


async def watch_trades(
    codes: Sequence[str],
    settings: Settings,
    *,
    seconds: float = math.inf,
    out: TextIO | Console = sys.stdout,
    title: str = "",
) -> int:
    """Print every trade of ``codes`` as it happens until ``seconds`` pass (or the caller cancels).

    On a terminal each line is cut to the width and the column header repeats every screenful. No
    trade is dropped silently: a tape that cannot keep up ends with ``SlowConsumerError``.
    """
    term = Terminal.for_output(out)  # scrolls, never repaints
    rows = max(5, term.height - 1) if term.live else 0
    header = line(TAPE_HEADER, "bold")
    term.lines([line(title, "bold"), header] if title else [header])
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
                        lines.append(render_trade(trade))
                        printed += 1
                        if rows and printed % rows == 0:
                            lines.append(header)
                    term.lines(lines)

            try:
                await live_view(term, seconds, consume, status=(session, "watch trade"))
            except trio.EndOfChannel:
                pass
        return exit_status(session, "watch trade")
