"""Throughput of the websockets connector as it is against earlier versions of it, measured in one run.

A blaster in another process answers the upgrade by hand and then writes pre-encoded binary
trade frames (Upbit's JSON, 400-odd bytes) as fast as the socket takes them, so the client is
the bottleneck. Each connector reads ``MESSAGES`` messages through ``wire.receive()`` (and, as
the session does, through ``receive()`` + ``receive_ready()``); rounds alternate and each keeps
its best (the machine is shared). The earlier versions are loaded from git (``via_websockets.py``
and, where the commit has them, ``websockets_wire.py`` and ``frame_split.py``): by default
``045b50d`` (websockets' own ``websockets.trio`` connection) and ``1141681`` (the sans-I/O wire
before its fast path for plain data frames). "now" is the working tree.

    python benchmarks/bench_transport.py [--quick] [--before <commit> ...]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

import upbit_stream._transports as transports
from upbit_stream._transports.via_trio_websocket import trio_websocket_connector
from upbit_stream._transports.via_websockets import websockets_connector

ROOT = Path(__file__).resolve().parents[1]
BEFORE = ("045b50d", "1141681")  # the last websockets.trio connector; the sans-I/O wire without the fast path
#: The connector's modules, in import order; each one a commit has is loaded from it.
MODULES = ("frame_split", "websockets_wire", "via_websockets")
TRADE = json.dumps({
    "type": "trade", "code": "KRW-BTC", "timestamp": 1730336862082, "trade_date": "2024-10-31",
    "trade_time": "01:07:42", "trade_timestamp": 1730336862047, "trade_price": 101000000.0,
    "trade_volume": 0.00012, "ask_bid": "BID", "prev_closing_price": 100500000.0, "change": "RISE",
    "change_price": 500000.0, "sequential_id": 17303368620470000, "best_ask_price": 101000000.0,
    "best_ask_size": 0.0123, "best_bid_price": 100990000.0, "best_bid_size": 0.2, "stream_type": "REALTIME",
}, separators=(",", ":")).encode()


# -- the blaster (run as a subprocess: ``bench_transport.py --blast``) ------------------------------


def _frame(payload: bytes) -> bytes:
    size = len(payload)
    head = bytes([0x82, size]) if size < 126 else bytes([0x82, 126]) + size.to_bytes(2, "big")
    return head + payload


def blast() -> None:
    """Accept connections on a free port (printed), answer 101, then write trade frames until the peer goes."""
    burst = _frame(TRADE) * ((1 << 20) // (len(TRADE) + 4))

    async def serve(stream: trio.SocketStream) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await stream.receive_some(65536)
            if not chunk:
                return
            head += chunk
        key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        await stream.send_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        try:
            while True:
                await stream.send_all(burst)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def main() -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        print(listeners[0].socket.getsockname()[1], flush=True)
        await trio.serve_listeners(serve, listeners)

    trio.run(main)


# -- the client -------------------------------------------------------------------------------------


def load_before(commit: str) -> Any:
    """``websockets_connector`` as of ``commit``: its connector modules, loaded as modules of the package."""
    renamed: dict[str, str] = {}
    module = None
    for stem in MODULES:
        shown = subprocess.run(["git", "show", f"{commit}:upbit_stream/_transports/{stem}.py"], cwd=ROOT,
                               capture_output=True, text=True, check=False)
        if shown.returncode != 0:
            continue  # not in that commit
        source = shown.stdout
        for old, new in renamed.items():  # its siblings from the same commit, not from the working tree
            source = source.replace(f"from .{old} import", f"from .{new} import")
        renamed[stem] = f"_{stem}_{commit}"
        name = f"{transports.__name__}.{renamed[stem]}"
        spec = importlib.util.spec_from_loader(name, loader=None)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        module.__package__ = transports.__name__
        sys.modules[name] = module
        exec(compile(source, f"{commit}:{stem}.py", "exec"), module.__dict__)  # noqa: S102 - our own file
    assert module is not None and "via_websockets" in renamed, f"{commit} has no via_websockets.py"
    return module.websockets_connector


async def rate(connector: Any, url: str, messages: int, batched: bool) -> float:
    """Messages per second read through one wire (left cancelled: no close handshake to wait for)."""
    with trio.CancelScope() as scope:
        async with connector(url, []) as wire:
            await wire.receive()
            count = 0
            start = time.perf_counter()
            if batched:
                while count < messages:
                    await wire.receive()
                    count += 1 + len(wire.receive_ready(63))
            else:
                while count < messages:
                    await wire.receive()
                    count += 1
            elapsed = time.perf_counter() - start
            scope.cancel()
    return count / elapsed


async def measure(url: str, befores: dict[str, Any], messages: int, rounds: int) -> dict[str, float]:
    contenders: dict[str, tuple[Any, bool]] = {}
    for batched, way in ((False, "receive()"), (True, "receive() + receive_ready()")):
        for commit, before in befores.items():
            contenders[f"websockets {commit}: {way}"] = (before(), batched)
        contenders[f"websockets now: {way}"] = (websockets_connector(), batched)
    contenders["trio-websocket (for scale): receive() + receive_ready()"] = (trio_websocket_connector(), True)
    best: dict[str, float] = {}
    for _ in range(rounds):
        for label, (connector, batched) in contenders.items():
            best[label] = max(best.get(label, 0.0), await rate(connector, url, messages, batched))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--before", action="append", metavar="COMMIT",
                        help=f"an earlier version to compare with (repeatable; default {' and '.join(BEFORE)})")
    parser.add_argument("--blast", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.blast:
        blast()
        return
    messages, rounds = (50_000, 1) if args.quick else (300_000, 3)
    befores = {commit: load_before(commit) for commit in args.before or BEFORE}
    server = subprocess.Popen([sys.executable, __file__, "--blast"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        best = trio.run(measure, f"ws://127.0.0.1:{port}/websocket/v1", befores, messages, rounds)
    finally:
        server.terminate()
        server.wait(5)
    print(f"{len(TRADE)}-byte binary trade frames, {messages} per round, best of {rounds} rounds:")
    for label, value in best.items():
        print(f"  {label:58} {value:>10,.0f} msg/s")
    for way in ("receive()", "receive() + receive_ready()"):
        for commit in befores:
            ratio = best[f"websockets now: {way}"] / best[f"websockets {commit}: {way}"]
            print(f"  now / {commit}, {way:28} {ratio:5.2f}x")


if __name__ == "__main__":
    main()
