"""Let Upbit compute RSI(14) on 5-minute candles and tell you when it turns overbought or oversold.

One subscription holds two specs on the ``/websocket/v1/info`` connection: ``indicator`` (the
RSI value at every 5-minute close) and ``indicator_signal`` (an event only when RSI crosses into
≥ 70 or ≤ 30 — never again while it stays there). The bot does no arithmetic of its own.
Indicators need API keys (no permission) and exist for KRW markets only.

With ``--fake`` the fake exchange replays a day's worth of closes in seconds: a calm stretch,
a rally that takes RSI past 70 (one signal), more rally (no repeat), then a sell-off past 30.

Run it:
    python examples/rsi_signal.py --fake
    UPBIT_ACCESS_KEY=... UPBIT_SECRET_KEY=... python examples/rsi_signal.py KRW-BTC
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal

import _common
import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit

RSI = ub.rsi(14)
SIGNALS = [ub.signal(RSI, "overbought", threshold=70), ub.signal(RSI, "oversold", threshold=30)]


def line(event: ub.Indicator | ub.IndicatorSignal) -> str:
    rsi = event.value.rsi if isinstance(event.value, ub.RsiValue) else None
    shown = "-" if rsi is None else f"{rsi:6.2f}"
    if isinstance(event, ub.IndicatorSignal):
        return f"SIGNAL {event.code} {event.timeframe} candle {event.candle_date_time_utc}: {event.trigger} (RSI {shown})"
    return f"value  {event.code} {event.timeframe} candle {event.candle_date_time_utc}: RSI {shown}"


async def play_the_market(fake: FakeUpbit, code: str) -> None:
    """The fake exchange's side: 30 calm closes of history, then a rally and a sell-off, one close at a time."""
    await fake.wait_for_request(lambda r: r.endpoint == "info" and r.request is not None)
    price = Decimal(100_000_000)
    fake.seed_candles(code, "5m", [price + (1 if n % 2 else -1) * 50_000 for n in range(30)])
    moves = [Decimal("0.004")] * 12 + [Decimal("-0.006")] * 16  # +0.4 % per close, then -0.6 %
    for move in moves:
        await trio.sleep(0.1)
        price = (price * (1 + move)).quantize(Decimal(1000))
        fake.close_candle("5m", prices={code: price})


async def follow_rsi(args: argparse.Namespace) -> None:
    code = args.code
    async with _common.open_session(args, rate=0) as (session, fake), trio.open_nursery() as nursery:
        if fake is not None:
            nursery.start_soon(play_the_market, fake, code)
        print(f"RSI(14) of {code} at every 5-minute close, and its overbought (>= 70) / oversold (<= 30) signals …")
        values = ub.indicator(code, "5m", RSI)
        signals = ub.indicator_signal(code, "5m", SIGNALS)
        async with session.subscribe(values, signals) as events:
            async for event in events:
                print(line(event))


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("code", nargs="?", default="KRW-BTC", help="a KRW market code (default KRW-BTC)")
    args = parser.parse_args()
    return _common.run(lambda: follow_rsi(args), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
