"""Build 1-second OHLCV bars from the trade tape, bucketed by each trade's own ``trade_timestamp``.

Mode choice: ``mode="both"`` (the default) first sends one SNAPSHOT trade per code — the last
trade *before* we subscribed, possibly minutes old, in a second we did not see whole. It is not
counted into any bar; it only gives the previous close, so the first bar can show its change.
After a reconnect Upbit sends a fresh SNAPSHOT (again not counted) but never the trades missed
while disconnected, so ``gaps=True`` puts a ``StreamGap`` marker in the channel and the bars
overlapping the outage are flagged ``incomplete``. (``mode="realtime"`` would also be right for volume,
but gives no previous close.) Trades are "strict" by default: a consumer that falls behind gets
``SlowConsumerError`` instead of silently missing trades, which would corrupt the volume.

A bar is printed once a later trade of its code arrives or its second is ``--grace`` seconds past.
Every sum is a Decimal, so volume and VWAP are exact.

Run it:
    python examples/trade_bars.py --fake                # in-process fake exchange, no network
    python examples/trade_bars.py KRW-BTC KRW-ETH       # real Upbit (Ctrl-C stops)
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from decimal import Decimal

import _common
import attrs
import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit

DEFAULT_CODES = ["KRW-BTC", "KRW-ETH"]


@attrs.define
class Bar:
    code: str
    second: int  # unix seconds of the bar's start
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    value: Decimal = Decimal(0)  # sum of price * volume, for the VWAP
    trades: int = 0
    incomplete: str = ""  # why trades of this second may be missing

    def add(self, trade: ub.Trade) -> None:
        price = trade.trade_price
        self.high, self.low, self.close = max(self.high, price), min(self.low, price), price
        self.volume += trade.trade_volume
        self.value += price * trade.trade_volume
        self.trades += 1

    def line(self, previous_close: Decimal | None) -> str:
        change = "" if previous_close is None else f"  chg {self.close - previous_close:+,}"
        flag = f"  incomplete: {self.incomplete}" if self.incomplete else ""
        return (f"bar {self.code:<8} {datetime.fromtimestamp(self.second):%H:%M:%S}  O {self.open:,} H {self.high:,} "
                f"L {self.low:,} C {self.close:,}  V {self.volume}  n={self.trades}  "
                f"VWAP {self.value / self.volume:,.1f}{change}{flag}")


class BarBuilder:
    """The open bar of each code; ``add`` and ``due`` return the bars that are finished."""

    def __init__(self, started: float) -> None:
        self.missing_until, self.missing_why = started, "subscribed mid-second"  # trades before may be lost
        self.open: dict[str, Bar] = {}
        self.last_close: dict[str, Decimal] = {}
        self.late = 0

    def add(self, trade: ub.Trade) -> Bar | None:
        second = trade.trade_timestamp // 1000
        finished = None
        bar = self.open.get(trade.code)
        if bar is not None and second < bar.second:
            self.late += 1  # older than the open bar: its own bar was already printed
            return None
        if bar is not None and second > bar.second:
            finished = self.open.pop(trade.code)
        if trade.code not in self.open:
            price = trade.trade_price
            self.open[trade.code] = Bar(trade.code, second, price, price, price, price,
                                        incomplete=self.missing_why if second < self.missing_until else "")
        self.open[trade.code].add(trade)
        return finished

    def gap(self, until: float) -> None:
        """Trades up to ``until`` may be missing: flag the open bars and those still to come before it."""
        self.missing_until, self.missing_why = until, "reconnected during it"
        for bar in self.open.values():
            bar.incomplete = self.missing_why

    def due(self, now: float, grace: float) -> list[Bar]:
        quiet = [code for code, bar in self.open.items() if bar.second + 1 + grace <= now]
        return [self.open.pop(code) for code in quiet]


async def build_bars(args: argparse.Namespace) -> None:
    codes = args.codes or DEFAULT_CODES
    async with _common.open_session(args, rate=300) as (session, fake):
        print(f"1-second bars of {', '.join(codes)} (a bar prints once its second is over):")
        bars = BarBuilder(started=time.time())

        def emit(*finished: Bar | None) -> None:
            for bar in filter(None, finished):
                print(bar.line(bars.last_close.get(bar.code)))
                bars.last_close[bar.code] = bar.close

        async def close_quiet_seconds() -> None:
            while True:
                emit(*bars.due(time.time(), args.grace))
                await trio.sleep(0.2)

        async def drop_connection_once(fake: FakeUpbit) -> None:  # --fake --drop-at N: show what a reconnect does
            await trio.sleep(args.drop_at)
            print(f"(fake exchange drops {fake.drop_all()} connection(s))")

        async with session.trade(codes, gaps=True) as tape, trio.open_nursery() as nursery:
            nursery.start_soon(close_quiet_seconds)
            if fake is not None and args.drop_at is not None:
                nursery.start_soon(drop_connection_once, fake)
            async for item in tape:
                if isinstance(item, ub.StreamGap):
                    print(f"gap: trades may be missing for {item.until - item.since:.2f} s ({item.reason})")
                    bars.gap(item.until)
                elif item.stream_type is ub.StreamType.SNAPSHOT:
                    bars.last_close.setdefault(item.code, item.trade_price)
                    print(f"snapshot {item.code}: last trade before we (re)subscribed {item.trade_price:,} at "
                          f"{datetime.fromtimestamp(item.trade_timestamp / 1000):%H:%M:%S} (not counted)")
                else:
                    emit(bars.add(item))


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("codes", nargs="*", metavar="CODE", help=f"market codes (default {' '.join(DEFAULT_CODES)})")
    parser.add_argument("--grace", type=float, default=0.5,
                        help="seconds to wait for late trades before printing a quiet bar (default 0.5)")
    parser.add_argument("--drop-at", type=float, metavar="N",
                        help="with --fake: the exchange drops the connection after N seconds, once")
    args = parser.parse_args()
    return _common.run(lambda: build_bars(args), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
