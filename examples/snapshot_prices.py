"""Current prices of many markets in one call: ``await session.snapshot(ub.ticker(codes))``.

``snapshot`` asks for one SNAPSHOT per code (``is_only_snapshot``, so live streams on the same
connection are not disturbed) and returns ``{code: Ticker}`` once every code has answered.
If some code has not answered within ``timeout`` seconds it raises ``SnapshotTimeout`` whose
``missing`` names those codes (and ``found`` holds the ones that came): the network or the exchange
is slow, or the code is well-formed but not listed and Upbit stays silent about it. (A code the
server rejects outright gives a ``ServerError`` instead.) This program keeps what came, retries the
missing codes once with a longer timeout, then leaves out any still missing. ``--fake-delay`` makes
the fake exchange hold every frame back, to see that path.

Run it:
    python examples/snapshot_prices.py --fake                            # fake exchange
    python examples/snapshot_prices.py --fake --timeout 0.3 --fake-delay 0.5   # provoke a timeout
    python examples/snapshot_prices.py KRW-BTC KRW-ETH KRW-SOL           # real Upbit
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal

import _common

import upbit_stream as ub

DEFAULT_CODES = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA", "KRW-AVAX", "KRW-TRX",
                 "KRW-LINK", "KRW-DOT", "KRW-BCH", "KRW-SUI", "BTC-ETH", "USDT-BTC"]


async def snapshot_with_retry(session: ub.UpbitSession, codes: list[str], timeout: float) -> dict[str, ub.Ticker]:
    try:
        return await session.snapshot(ub.ticker(codes), timeout=timeout)
    except ub.SnapshotTimeout as exc:
        print(f"no snapshot within {exc.timeout} s for {', '.join(exc.missing)}; "
              f"keeping the {len(exc.found)} that came, retrying the rest with {timeout * 4:g} s")
        found, missing = dict(exc.found), list(exc.missing)
    try:
        return found | await session.snapshot(ub.ticker(missing), timeout=timeout * 4)
    except ub.SnapshotTimeout as exc:
        print(f"still nothing for {', '.join(exc.missing)}: leaving them out (not listed, or a slow link)")
        return found | exc.found


def table(tickers: dict[str, ub.Ticker]) -> str:
    lines = [f"{'code':<10}{'price':>16}{'change':>9}{'24h value':>22}"]
    for t in sorted(tickers.values(), key=lambda t: t.signed_change_rate, reverse=True):
        price = f"{t.trade_price.normalize():,f}"  # every digit Upbit sent, no trailing zeros
        value = t.acc_trade_price_24h.quantize(Decimal(1))
        lines.append(f"{t.code:<10}{price:>16}{t.signed_change_rate * 100:>+8.2f}%"
                     f"{value:>18,} {t.code.partition('-')[0]}")
    return "\n".join(lines)


async def show_prices(args: argparse.Namespace) -> None:
    codes = args.codes or DEFAULT_CODES
    async with _common.open_session(args) as (session, fake):
        if fake is not None and args.fake_delay:
            fake.delay(args.fake_delay)
        print(f"asking for the current ticker of {len(codes)} markets in one call …")
        tickers = await snapshot_with_retry(session, codes, args.timeout)
        print(table(tickers))


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("codes", nargs="*", metavar="CODE", help="market codes (default: 14 busy markets)")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for every code (default 2)")
    parser.add_argument("--fake-delay", type=float, default=0.0, metavar="S",
                        help="with --fake: the exchange holds every data frame back S seconds")
    args = parser.parse_args()
    return _common.run(lambda: show_prices(args), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
