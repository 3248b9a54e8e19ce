"""Print every ticker of a few markets as it arrives: price, 24 h change and where it came from.

Shows the smallest useful program: one session, one subscription, exact Decimal prices, and the
SNAPSHOT-then-REALTIME order of mode "both" (the first line per code is the current state, sent
at once; the rest follow each trade).

Run it:
    python examples/ticker_printer.py --fake               # in-process fake exchange, no network
    python examples/ticker_printer.py KRW-BTC KRW-ETH      # real Upbit (Ctrl-C stops)
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from decimal import Decimal

import _common

import upbit_stream as ub

DEFAULT_CODES = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"]


def price_text(price: Decimal) -> str:
    """Group thousands; keep every digit Upbit sent below 100 (e.g. 0.02512, 3.512)."""
    return f"{price:,.0f}" if price >= 100 else f"{price:,f}"


def ticker_line(ticker: ub.Ticker) -> str:
    at = datetime.fromtimestamp(ticker.timestamp / 1000).strftime("%H:%M:%S.%f")[:-3]
    change = ticker.signed_change_rate * 100  # Decimal stays exact: 0.0123 -> 1.2300
    return (f"{at}  {ticker.code:<10} {price_text(ticker.trade_price):>15}  {change:+6.2f}%  "
            f"24h vol {ticker.acc_trade_volume_24h:,.3f}  [{ticker.stream_type}]")


async def print_tickers(args: argparse.Namespace) -> None:
    codes = args.codes or DEFAULT_CODES
    async with _common.open_session(args) as (session, _fake):
        print(f"subscribing to the tickers of {', '.join(codes)} …")
        async with session.ticker(codes) as tickers:
            async for ticker in tickers:
                print(ticker_line(ticker))


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("codes", nargs="*", metavar="CODE", help=f"market codes (default {' '.join(DEFAULT_CODES)})")
    args = parser.parse_args()
    return _common.run(lambda: print_tickers(args), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
