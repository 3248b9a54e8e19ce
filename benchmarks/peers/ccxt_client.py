"""ccxt.pro upbit: ``watch_trades`` / ``watch_ticker`` in a loop, URL override and pre-seeded markets."""

from __future__ import annotations

import argparse
import asyncio

import _harness
import ccxt.pro

DECODES = ("unified ccxt dicts (floats via safe_* helpers) with the raw dict in 'info'; aiohttp "
           "FastClient; trades accumulate in an ArrayCache(1000), tickers resolve only a waiting future")

MARKET = {"id": "KRW-BTC", "symbol": "BTC/KRW", "base": "BTC", "quote": "KRW", "baseId": "BTC", "quoteId": "KRW",
          "type": "spot", "spot": True, "active": True, "precision": {}, "limits": {}}


async def consume(meter: _harness.Meter, options: argparse.Namespace) -> None:
    exchange = ccxt.pro.upbit({"enableRateLimit": False})
    exchange.urls["api"]["ws"] = options.url
    quote, base = options.code.split("-")
    exchange.set_markets([{**MARKET, "id": options.code, "symbol": f"{base}/{quote}", "base": base, "quote": quote,
                           "baseId": base, "quoteId": quote}])
    symbol = f"{base}/{quote}"
    meter.parsed = 0
    handle = exchange.handle_trades if options.type == "trade" else exchange.handle_ticker

    def counted(client: object, message: dict) -> object:  # counts what the cache then drops or conflates
        meter.parsed += 1
        return handle(client, message)

    if options.type == "trade":
        exchange.handle_trades = counted
    else:
        exchange.handle_ticker = counted
    tick = meter.tick
    try:
        if options.type == "trade":
            while True:
                for trade in await exchange.watch_trades(symbol):
                    tick(trade["info"]["timestamp"])
        else:
            while True:
                tick((await exchange.watch_ticker(symbol))["info"]["timestamp"])
    finally:
        await exchange.close()


def main() -> None:
    options = _harness.args()
    meter = _harness.Meter(options, "ccxt.pro", DECODES)
    _harness.run_guarded(meter, lambda: asyncio.run(consume(meter, options)))


if __name__ == "__main__":
    main()
