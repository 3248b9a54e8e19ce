"""Backtest a moving-average crossover on recorded trades, replayed through the fake exchange.

The recording (JSONL of raw frames, from ``upbit-stream record`` or ``record_sample.py``) is
served by ``open_fake_upbit(replay=FILE, pace="fast", rate=0)`` to an ordinary session, so the
strategy code is exactly what would run live. The strategy is long-only: buy ``--stake`` KRW
worth when the short average of trade prices crosses above the long one, sell when it crosses
below, 0.05 % fee each way; P&L is exact Decimal arithmetic. The subscription uses
``mode="realtime"``: the fake answers a subscription's snapshot from its own simulated market,
not from the recording, and the recording's own SNAPSHOT frames are not live trades either.

Run it:
    python examples/backtest_replay.py --fake-record 3              # record the fake exchange first
    upbit-stream record trade:KRW-BTC,KRW-ETH -o btc.jsonl.gz   # Ctrl-C stops; then:
    python examples/backtest_replay.py btc.jsonl.gz
    python examples/record_sample.py --seconds 600 -o btc.jsonl && python examples/backtest_replay.py btc.jsonl
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import deque
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import _common
import attrs
import record_sample
import trio

import upbit_stream as ub
from upbit_stream.testing import load_replay, open_fake_upbit

FEE = Decimal("0.0005")


@attrs.define
class Crossover:
    """Long-only moving-average crossover on one market's trade prices."""

    code: str
    short: int
    long: int
    stake: Decimal  # KRW per entry
    prices: deque[Decimal] = attrs.field(init=False)
    above: bool | None = None  # short average above the long one, at the last trade
    volume: Decimal = Decimal(0)  # held
    cash: Decimal = Decimal(0)  # KRW in (+) and out (-), fees included
    fees: Decimal = Decimal(0)
    fills: int = 0
    last: Decimal | None = None

    def __attrs_post_init__(self) -> None:
        self.prices = deque(maxlen=self.long)

    def on_trade(self, price: Decimal) -> str | None:
        self.prices.append(price)
        self.last = price
        if len(self.prices) < self.long:
            return None
        short_avg = sum(list(self.prices)[-self.short:]) / self.short
        long_avg = sum(self.prices) / self.long
        above, crossed = short_avg > long_avg, self.above is not None and (short_avg > long_avg) != self.above
        self.above = above
        if crossed and above and not self.volume:
            return self.fill("BUY", price, (self.stake / price).quantize(Decimal("0.00000001"), ROUND_DOWN))
        if crossed and not above and self.volume:
            return self.fill("SELL", price, self.volume)
        return None

    def fill(self, side: str, price: Decimal, volume: Decimal) -> str:
        fee = price * volume * FEE
        self.volume += volume if side == "BUY" else -volume
        self.cash += (-price * volume if side == "BUY" else price * volume) - fee
        self.fees += fee
        self.fills += 1
        return f"{self.code} {side:4} {volume} @ {price:,}"

    def pnl(self) -> Decimal:
        """Realized plus open position marked at the last price, after fees."""
        return self.cash + self.volume * (self.last or Decimal(0))


def exact(value: Decimal) -> str:
    """Every digit of ``value``, signed, thousands grouped: ``-4,042.1234675``."""
    return f"{value.normalize():+,f}"


async def backtest(args: argparse.Namespace) -> None:
    path = args.file
    if args.fake_record:
        path = str(Path(tempfile.mkdtemp(prefix="upbit-replay-")) / "fake.jsonl")
        count = await record_sample.record_from_fake(record_sample.DEFAULT_CODES, path, args.fake_record)
        print(f"recorded {count} frames from the fake exchange into {path}")
    recorded = [e for f in load_replay(path) for e in ub.decode(f.frame)
                if isinstance(e, ub.Trade) and e.stream_type is ub.StreamType.REALTIME]
    codes = sorted({t.code for t in recorded})
    if not codes:
        print(f"{path} holds no live trades to replay")
        return
    books = {code: Crossover(code, args.short, args.long, args.stake) for code in codes}
    seen = 0
    async with open_fake_upbit(replay=path, pace="fast", rate=0) as fake:
        settings = ub.Settings().evolve(connection={"public_url": fake.public_url})
        async with (
            ub.open_upbit_session(config=settings) as session,
            session.trade(codes, mode="realtime", buffer=len(recorded) + 1) as trades,
        ):
            print(f"replaying {len(recorded)} trades of {', '.join(codes)} …")
            while seen < len(recorded):
                trade: ub.Trade | None = None
                with trio.move_on_after(args.idle):
                    trade = await trades.receive()
                if trade is None:
                    print(f"nothing for {args.idle:g} s: the replay ended early")
                    break
                seen += 1
                if (fill := books[trade.code].on_trade(trade.trade_price)) is not None:
                    print(fill)
        dropped = sum(conn.dropped for conn in fake.connections)
    total = sum((book.pnl() for book in books.values()), Decimal(0))
    print(f"summary: {seen} of {len(recorded)} trades replayed{f', {dropped} dropped by the fake' if dropped else ''}; "
          f"MA {args.short}/{args.long}, {sum(b.fills for b in books.values())} fills")
    for book in books.values():
        print(f"  {book.code:<9} {book.fills:>3} fills  fees {book.fees:,.2f}  P&L {exact(book.pnl())}  "
              f"{'holding ' + str(book.volume) if book.volume else 'flat'}")
    print(f"  total P&L {exact(total)} KRW, exact (open positions marked at their last trade)")


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("file", nargs="?", help="recording to replay (JSONL, .gz allowed)")
    parser.add_argument("--fake-record", type=float, metavar="SECONDS",
                        help="first record SECONDS of the fake exchange into a temporary file, then replay it")
    parser.add_argument("--short", type=int, default=5, help="short moving average, in trades (default 5)")
    parser.add_argument("--long", type=int, default=20, help="long moving average, in trades (default 20)")
    parser.add_argument("--stake", type=Decimal, default=Decimal(1_000_000), help="KRW per entry (default 1000000)")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds without a trade that end the replay")
    args = parser.parse_args()
    if bool(args.file) == bool(args.fake_record):
        parser.error("give a recording FILE or --fake-record SECONDS (one of them)")
    return _common.run(lambda: backtest(args), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
