"""Record raw trade frames to a JSONL file that the fake exchange can replay (see backtest_replay.py).

A plain WebSocket client (no session: a recording keeps the frames exactly as the server sent
them) subscribes to the trades of a few codes and writes one line per frame:
``{"t": <unix seconds>, "endpoint": "public", "frame": "<raw frame text>"}`` — gzipped when FILE
ends in ``.gz``. This is the format ``upbit-stream record`` writes and ``upbit_stream.testing``
replays. With ``--fake`` it records the fake exchange (its market made busy), so the whole
record → replay → backtest loop runs offline.

Run it:
    python examples/record_sample.py --fake --seconds 3 -o /tmp/sample.jsonl
    python examples/record_sample.py --seconds 600 KRW-BTC KRW-ETH -o btc-eth.jsonl.gz   # real Upbit
    upbit-stream record trade:KRW-BTC,KRW-ETH -o btc.jsonl.gz   # the command-line recorder, same format
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
import uuid

import _common
import trio
import trio_websocket

from upbit_stream.testing import open_fake_upbit

UPBIT_PUBLIC_URL = "wss://api.upbit.com/websocket/v1"
DEFAULT_CODES = ["KRW-BTC", "KRW-ETH"]


async def record(url: str, codes: list[str], path: str, seconds: float) -> int:
    """Write every trade frame of ``codes`` from ``url`` to ``path`` for ``seconds``; return the count."""
    request = [{"ticket": f"record-{uuid.uuid4()}"}, {"type": "trade", "codes": codes}, {"format": "DEFAULT"}]
    written = 0
    opener = gzip.open if path.endswith(".gz") else open
    connection = trio_websocket.open_websocket_url(url, connect_timeout=10, disconnect_timeout=2)
    with opener(path, "wt", encoding="utf-8") as file:
        async with connection as ws, trio.open_nursery() as nursery:
            nursery.start_soon(keep_alive, ws)
            await ws.send_message(json.dumps(request))
            with trio.move_on_after(seconds):  # counted from the subscription, not the connect
                while True:
                    message = await ws.get_message()
                    frame = message.decode() if isinstance(message, bytes) else message
                    if frame.startswith('{"status"'):  # the answer to our PING, not market data
                        continue
                    file.write(json.dumps({"t": time.time(), "endpoint": "public", "frame": frame},
                                          ensure_ascii=False) + "\n")
                    written += 1
            nursery.cancel_scope.cancel()
    return written


async def keep_alive(ws: trio_websocket.WebSocketConnection) -> None:
    """Upbit closes a connection after 120 s without traffic from the client."""
    while True:
        await trio.sleep(60)
        await ws.send_message("PING")


async def record_from_fake(codes: list[str], path: str, seconds: float, rate: float = 600.0) -> int:
    """Record the fake exchange's market, ``rate`` simulated trades per second (KRW-BTC gets ~7 %)."""
    async with open_fake_upbit(rate=rate, seed=2) as fake:
        return await record(fake.public_url, codes, path, seconds)


async def record_to_file(args: argparse.Namespace) -> None:
    codes = args.codes or DEFAULT_CODES
    where = "the fake exchange" if args.fake else UPBIT_PUBLIC_URL
    seconds = 3.0 if args.fake and math.isinf(args.seconds) else args.seconds
    print(f"recording the trades of {', '.join(codes)} from {where} into {args.output} "
          f"{'until Ctrl-C' if math.isinf(seconds) else f'for {seconds:g} s'} …")
    if args.fake:
        written = await record_from_fake(codes, args.output, seconds)
    else:
        written = await record(UPBIT_PUBLIC_URL, codes, args.output, seconds)
    print(f"recorded {written} frames; replay them with: python examples/backtest_replay.py {args.output}")


def main() -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("codes", nargs="*", metavar="CODE", help=f"market codes (default {' '.join(DEFAULT_CODES)})")
    parser.add_argument("-o", "--output", required=True, help="file to write (.gz: gzipped), e.g. sample.jsonl")
    args = parser.parse_args()
    return _common.run(lambda: record_to_file(args))  # the recorder stops itself after --seconds


if __name__ == "__main__":
    sys.exit(main())
