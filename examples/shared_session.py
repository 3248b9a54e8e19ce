"""Two independent components — a price chart and a toy trader — sharing one session and one connection.

Each component subscribes on its own (the chart to tickers and 1 s candles, the trader to
trades) and knows nothing of the other. The session merges their demand into one request on one
public connection: Upbit *replaces* a connection's subscription with every request, so two
clients on one connection would otherwise cancel each other. A third task prints
``session.stats()`` and asks the server what it streams, to show the sharing.

Run it:
    python examples/shared_session.py --fake            # in-process fake exchange, no network
    python examples/shared_session.py --code KRW-ETH    # real Upbit (Ctrl-C stops)
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from decimal import Decimal

import _common
import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(prices: deque[Decimal]) -> str:
    low, high = min(prices), max(prices)
    if high == low:
        return BLOCKS[0] * len(prices)
    return "".join(BLOCKS[int((p - low) / (high - low) * (len(BLOCKS) - 1))] for p in prices)


async def chart(session: ub.UpbitSession, code: str, width: int = 40) -> None:
    """Redraw a sparkline of the last ``width`` ticker prices and the latest 1 s candle, once a second."""
    prices: deque[Decimal] = deque(maxlen=width)
    candle: ub.Candle | None = None
    next_draw = trio.current_time()
    # Two specs, one channel: tickers and candles arrive interleaved, in the order the server sent them.
    async with session.subscribe(ub.ticker(code), ub.candle(code, "1s")) as events:
        async for event in events:
            if isinstance(event, ub.Candle):
                candle = event
            else:
                prices.append(event.trade_price)
            if prices and trio.current_time() >= next_draw:
                next_draw = trio.current_time() + 1
                ohlc = "" if candle is None else (
                    f"  1s candle {candle.candle_date_time_kst[11:]} O {candle.opening_price:,} "
                    f"H {candle.high_price:,} L {candle.low_price:,} C {candle.trade_price:,}")
                print(f"chart   {code} {sparkline(prices):<{width}} {prices[-1]:,}{ohlc}")


async def trader(session: ub.UpbitSession, code: str, window: int = 20, threshold: Decimal = Decimal("0.2")) -> None:
    """A toy signal: go long when buyers took most of the volume of the last ``window`` trades."""
    flows: deque[Decimal] = deque(maxlen=window)  # + bought by a taker, - sold
    position = "flat"
    # "realtime": the snapshot trade happened before we arrived and says nothing about current flow.
    async with session.trade(code, mode="realtime") as trades:
        async for trade in trades:
            flows.append(trade.trade_volume if trade.ask_bid is ub.AskBid.BID else -trade.trade_volume)
            if len(flows) < window:
                continue
            pressure = sum(flows) / sum(abs(f) for f in flows)
            wanted = "long" if pressure > threshold else "short" if pressure < -threshold else position
            if wanted != position:
                position = wanted
                print(f"trader  {code} go {position.upper():5} at {trade.trade_price:,} "
                      f"(taker flow {pressure:+.2f} over {window} trades)")


async def show_sharing(session: ub.UpbitSession, fake: FakeUpbit | None) -> None:
    """What the session and the server say about the one shared connection."""
    await trio.sleep(1)
    stats = session.stats()
    public = stats.connections["public"]
    print(f"stats   {len(stats.subscriptions)} subscriptions, connections: "
          + ", ".join(f"{name} {c.state}" for name, c in stats.connections.items())
          + f"; public requests sent: {public.requests_sent}, reconnects: {public.reconnects}")
    streamed = await session.list_subscriptions("public")
    print("server  streams on that one connection: "
          + "; ".join(f"{s.type} {','.join(s.codes)}" for s in streamed.streams))
    if fake is not None:
        print(f"fake    public connections open at the exchange: "
              f"{sum(c.endpoint == 'public' for c in fake.connections)}")


async def run_components(args: argparse.Namespace) -> None:
    async with _common.open_session(args, rate=400) as (session, fake), trio.open_nursery() as nursery:
        nursery.start_soon(chart, session, args.code)
        nursery.start_soon(trader, session, args.code)
        nursery.start_soon(show_sharing, session, fake)


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--code", default="KRW-BTC", help="market code (default KRW-BTC)")
    args = parser.parse_args()
    return _common.run(lambda: run_components(args), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
