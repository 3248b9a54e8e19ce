"""Ceiling: a bare trio-websocket receive loop calling ``upbit_stream.decode`` on every frame."""

from __future__ import annotations

import argparse

import _harness
import trio
import trio_websocket

import upbit_stream as ub

DECODES = "ub.decode (the same attrs events with Decimal prices); no session, no reconnect, no fan-out"


async def consume(meter: _harness.Meter, options: argparse.Namespace) -> None:
    decode, tick = ub.decode, meter.tick
    async with trio_websocket.open_websocket_url(options.url, message_queue_size=64, max_message_size=1 << 22) as ws:
        await ws.send_message(_harness.request(options.type, options.code))
        while True:
            for event in decode(await ws.get_message()):
                tick(event.timestamp)


def main() -> None:
    options = _harness.args()
    meter = _harness.Meter(options, "bare trio-websocket", DECODES)
    _harness.run_guarded(meter, lambda: trio.run(consume, meter, options))


if __name__ == "__main__":
    main()
