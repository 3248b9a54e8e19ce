"""upbit-sdk (official): ``AsyncUpbit(websocket_base_url=...).ws_stream.trade/ticker``, async for events."""

from __future__ import annotations

import argparse
import asyncio

import _harness
from upbit import AsyncUpbit

DECODES = ("pydantic models (construct_type_unchecked; numbers as str): json.loads twice per frame, "
           "websockets asyncio client")


async def consume(meter: _harness.Meter, options: argparse.Namespace) -> None:
    base = options.url.removesuffix("/websocket/v1")  # the SDK appends /websocket/v1
    client = AsyncUpbit(websocket_base_url=base)
    stream = client.ws_stream.trade if options.type == "trade" else client.ws_stream.ticker
    tick = meter.tick
    async with stream([options.code], format="DEFAULT") as events:
        async for event in events:
            tick(event.timestamp)


def main() -> None:
    options = _harness.args()
    meter = _harness.Meter(options, "upbit-sdk", DECODES)
    _harness.run_guarded(meter, lambda: asyncio.run(consume(meter, options)))


if __name__ == "__main__":
    main()
