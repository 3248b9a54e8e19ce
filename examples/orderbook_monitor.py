"""Watch the spread and the bid/ask imbalance of KRW order books, 15 levels deep.

For every order book: best bid and ask, the spread in KRW and in basis points of the mid price,
and the imbalance (bid size - ask size) / (bid size + ask size) over the 15 levels, from -1 (all
asks) to +1 (all bids). Order books use overflow "latest" by default: if this printer falls
behind, it gets the newest book of each code, never a backlog of stale ones. One line per code at
most every ``--every`` seconds (the first at once).

Run it:
    python examples/orderbook_monitor.py --fake                  # in-process fake exchange
    python examples/orderbook_monitor.py KRW-BTC KRW-ETH         # real Upbit (Ctrl-C stops)
"""

from __future__ import annotations

import argparse
import sys

import _common
import trio

import upbit_stream as ub

DEFAULT_CODES = ["KRW-BTC", "KRW-ETH", "KRW-XRP"]
DEPTH = 15


def describe(book: ub.Orderbook) -> str:
    best = book.orderbook_units[0]
    spread = best.ask_price - best.bid_price
    mid = (best.ask_price + best.bid_price) / 2
    spread_bps = spread / mid * 10_000
    bids = sum(unit.bid_size for unit in book.orderbook_units)
    asks = sum(unit.ask_size for unit in book.orderbook_units)
    imbalance = (bids - asks) / (bids + asks)
    bid_krw = sum(unit.bid_price * unit.bid_size for unit in book.orderbook_units)
    ask_krw = sum(unit.ask_price * unit.ask_size for unit in book.orderbook_units)
    return (f"{book.code:<9} bid {best.bid_price:>13,} | ask {best.ask_price:>13,}  "
            f"spread {spread:,} ({spread_bps:.2f} bp)  imbalance {imbalance:+.3f}  "
            f"depth {len(book.orderbook_units)}: {bid_krw / 1_000_000:,.0f}M / {ask_krw / 1_000_000:,.0f}M KRW")


async def monitor(args: argparse.Namespace) -> None:
    codes = args.codes or DEFAULT_CODES
    shown_at: dict[str, float] = {}
    async with _common.open_session(args) as (session, _fake):
        print(f"order books of {', '.join(codes)}, {DEPTH} levels:")
        async with session.orderbook(codes, depth=DEPTH) as books:
            async for book in books:
                now = trio.current_time()
                if now - shown_at.get(book.code, -1e9) >= args.every:
                    shown_at[book.code] = now
                    print(describe(book))


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("codes", nargs="*", metavar="CODE",
                        help=f"KRW market codes (default {' '.join(DEFAULT_CODES)})")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between lines per code (default 1)")
    args = parser.parse_args()
    return _common.run(lambda: monitor(args), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
