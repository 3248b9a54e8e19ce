"""Ceiling: upbit_stream's own websockets connector in a bare loop (``receive`` + ``receive_ready``), ``ub.decode`` per frame.

The bound for the session on the same transport: the frames come through the same wire, the
same decoder makes the same events, and nothing else happens (no session, reconnect, routing or
subscription channel).
"""

from __future__ import annotations

import argparse

import _harness
import trio

import upbit_stream as ub
from upbit_stream._transports.via_websockets import websockets_connector

DECODES = ("ub.decode (the same attrs events with Decimal prices); upbit_stream's websockets wire, "
           "receive() + receive_ready(63) like the session's reader; no session, no reconnect, no fan-out")


async def consume(meter: _harness.Meter, options: argparse.Namespace) -> None:
    decode, tick = ub.decode, meter.tick
    async with websockets_connector()(options.url, []) as wire:
        await wire.send(_harness.request(options.type, options.code))
        receive, receive_ready = wire.receive, wire.receive_ready
        while True:
            for frame in [await receive(), *receive_ready(63)]:
                for event in decode(frame):
                    tick(event.timestamp)


def main() -> None:
    options = _harness.args()
    meter = _harness.Meter(options, "bare upbit_stream wire", DECODES)
    _harness.run_guarded(meter, lambda: trio.run(consume, meter, options))


if __name__ == "__main__":
    main()
