"""upbit_stream: one session, one subscription, one consumer reading typed events (msgspec structs)."""

from __future__ import annotations

import trio

import _harness
import upbit_stream as ub

DECODES = "msgspec-typed Trade/Ticker events (Decimal-free floats), through the session's fan-out channel"


async def consume(meter: _harness.Meter, options) -> None:  # noqa: ANN001
    settings = ub.Settings().evolve(connection={"public_url": options.url, "format": "DEFAULT"})
    transport = options.transport
    if transport:
        try:
            settings = settings.evolve(connection={"transport": transport})
        except ub.ConfigError as exc:
            transport = f"{settings.connection.transport} (asked for {options.transport!r}: unsupported here, {exc})"
    meter.note("transport", transport or settings.connection.transport)
    subscribe = session_method = None
    async with ub.open_upbit_session(config=settings) as session:
        session_method = session.trade if options.type == "trade" else session.ticker
        subscribe = session_method([options.code], mode="realtime")
        async with subscribe as events:
            tick = meter.tick
            async for event in events:
                tick(event.timestamp)


def main() -> None:
    options = _harness.args()
    meter = _harness.Meter(options, "upbit_stream", DECODES)
    _harness.run_guarded(meter, lambda: trio.run(consume, meter, options))


if __name__ == "__main__":
    main()
