"""Ceiling: a bare ``websockets.trio`` receive loop calling ``upbit_stream.decode`` on every frame."""

from __future__ import annotations

import argparse

import _harness
import trio
from websockets.trio.client import connect

import upbit_stream as ub

DECODES = ("ub.decode (the same attrs events with Decimal prices); websockets' trio client, no session, "
           "no reconnect, no fan-out")


async def consume(meter: _harness.Meter, options: argparse.Namespace) -> None:
    decode, tick = ub.decode, meter.tick
    async with connect(options.url, compression=None, max_size=1 << 22) as ws:
        await ws.send(_harness.request(options.type, options.code))
        while True:
            for event in decode(await ws.recv()):
                tick(event.timestamp)


def main() -> None:
    options = _harness.args()
    meter = _harness.Meter(options, "bare websockets.trio", DECODES)
    _harness.run_guarded(meter, lambda: trio.run(consume, meter, options))


if __name__ == "__main__":
    main()
