"""upbit_stream: one session, one subscription, one consumer reading typed events (frozen attrs classes).

``--batch`` reads lists with ``async for batch in events.batches()`` instead of one event per
``async for``; ``--format SIMPLE`` asks the exchange for abbreviated keys.
"""

from __future__ import annotations

import argparse

import _harness
import trio

import upbit_stream as ub

DECODES = ("frozen attrs Trade/Ticker events (decoded by msgspec) with Decimal prices and enums, through the session's reader "
           "and the subscriber's bounded channel (library defaults: 256 events, overflow auto)")


async def consume(meter: _harness.Meter, options: argparse.Namespace) -> None:
    settings = ub.Settings().evolve(connection={"public_url": options.url, "format": options.format})
    transport = options.transport
    if transport:
        try:
            settings = settings.evolve(connection={"transport": transport})
        except ub.ConfigError as exc:
            transport = f"{settings.connection.transport} (asked for {options.transport!r}: unsupported here, {exc})"
    meter.note("transport", transport or settings.connection.transport)
    meter.note("reading", "batches()" if options.batch else "async for")
    async with ub.open_upbit_session(config=settings) as session:
        stream = session.trade if options.type == "trade" else session.ticker
        async with trio.open_nursery() as nursery:
            nursery.start_soon(count_parsed, session, meter)
            async with stream([options.code], mode="realtime") as events:
                tick = meter.tick
                if options.batch:
                    async for batch in events.batches():
                        for event in batch:
                            tick(event.timestamp)
                else:
                    async for event in events:
                        tick(event.timestamp)


async def count_parsed(session: ub.UpbitSession, meter: _harness.Meter) -> None:
    """Keep ``meter.parsed`` at the number of messages the session has read (every 20 ms, from ``stats()``)."""
    while True:
        public = session.stats().connections.get("public")
        meter.parsed = sum(public.messages.values()) if public is not None else 0
        await trio.sleep(0.02)


def main() -> None:
    options = _harness.args()
    meter = _harness.Meter(options, "upbit_stream", DECODES)
    _harness.run_guarded(meter, lambda: trio.run(consume, meter, options))


if __name__ == "__main__":
    main()
