"""A fast ``latest`` consumer's latency alone and beside a CPU-heavy sibling, in one run (issue #11, item 7).

Frames arrive over a local socket from another process that writes frame ``n`` at
``start + n / RATE``, its ``timestamp`` set to the real send time in microseconds (length-prefixed,
so the figure is the session's and not a WebSocket library's), so any delay in the loop — the
reader's or a consumer's — counts. The fast consumer takes ticker events
of every market (``overflow="latest"``) and records ``now - timestamp``; the sibling subscribes
the same streams and burns 0.3 ms of CPU per event. Target: the fast consumer's p50 with the
sibling within 1.5× of its p50 alone. Rounds alternate the two cases; the machine is shared, so
the ratio of each round is printed with the median.

    python benchmarks/bench_sibling.py [--quick] [--fake]
"""

from __future__ import annotations

import multiprocessing
import socket
import statistics
import struct
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import attrs
import trio

import _fake_process
import upbit_stream as ub
from upbit_stream._core.encode import encode_event
from upbit_stream.testing import MARKETS
from upbit_stream.testing._market import MarketSim

QUICK = "--quick" in sys.argv
#: ``--fake``: the bundled fake exchange in another process (blast paced at RATE, 1 ms stamps) over
#: the default websockets transport, as the issue measured, instead of the µs-stamped local socket.
FAKE = "--fake" in sys.argv
RATE = 4000
SECONDS = 1.5 if QUICK else 4.0
ROUNDS = 2 if QUICK else 5
SIBLING_CPU = 0.000_3
CODES = sorted(m.code for m in MARKETS)[:20]
PLACEHOLDER = 1_000_000_000_000_000  # 16 digits, replaced by each frame's scheduled time in µs


def templates() -> list[tuple[bytes, bytes]]:
    """One ticker frame per code, split around its timestamp digits."""
    market = MarketSim(seed=1)
    out = []
    for code in CODES:
        event = attrs.evolve(market.ticker(code, 1_700_000_000_000), timestamp=PLACEHOLDER)
        head, _, tail = encode_event(event).partition(str(PLACEHOLDER).encode())
        out.append((head, tail))
    return out


def paced_writer(sock: socket.socket, frames: Sequence[tuple[bytes, bytes]], seconds: float) -> None:
    """(Another process.) Write frame ``n`` at ``start + n / RATE``, stamped with the real send time in µs."""
    sock.setblocking(True)
    start = time.perf_counter()
    n = 0
    try:
        while True:
            due = start + n / RATE
            now = time.perf_counter()
            if now - start > seconds:
                return
            if due > now:
                time.sleep(max(0.0, due - now - 0.000_2))
                while time.perf_counter() < due:
                    pass
            head, tail = frames[n % len(frames)]
            frame = head + str(int(time.time() * 1_000_000)).encode() + tail
            sock.sendall(struct.pack("!I", len(frame)) + frame)
            n += 1
    except OSError:
        return


class SocketWire:
    """Length-prefixed frames from a local socket, as a wire with ``receive_ready`` (no WebSocket cost)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._frames: deque[bytes] = deque()  # bounded: what one 64 KiB read holds

    def _split(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 4:
            size = struct.unpack_from("!I", buffer)[0]
            if len(buffer) < 4 + size:
                break
            self._frames.append(bytes(buffer[4:4 + size]))
            del buffer[:4 + size]

    async def send(self, message: str | bytes) -> None:
        await trio.lowlevel.checkpoint()

    async def receive(self) -> bytes:
        if self._frames:
            await trio.lowlevel.checkpoint()
        while not self._frames:  # receive_some is the checkpoint
            data = await self._stream.receive_some(65536)
            if not data:
                await trio.sleep_forever()
            self._buffer += data
            self._split()
        return self._frames.popleft()

    def receive_ready(self, limit: int) -> list[bytes]:
        return [self._frames.popleft() for _ in range(min(limit, len(self._frames)))]

    async def ping(self) -> None:
        await trio.lowlevel.checkpoint()


async def one_case(with_sibling: bool) -> list[float]:
    """Latencies (µs) the fast consumer saw over ``SECONDS``, after a warm-up."""
    if FAKE:
        with _fake_process.fake_exchange("--blast", "--blast-rate", str(RATE)) as url:
            settings = ub.Settings().evolve(connection={"public_url": url}, heartbeat={"stale_after": 0})
            return await measure(with_sibling, settings, None, unit=1_000.0)
    ours, theirs = socket.socketpair()
    writer = multiprocessing.get_context("fork").Process(
        target=paced_writer, args=(theirs, templates_cache, SECONDS + 1.5), daemon=True)
    writer.start()
    theirs.close()
    wire = SocketWire(trio.SocketStream(trio.socket.from_stdlib_socket(ours)))

    @asynccontextmanager
    async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[SocketWire]:
        yield wire

    try:
        return await measure(with_sibling, None, connect, unit=1.0)
    finally:
        writer.kill()
        writer.join()


async def measure(with_sibling: bool, settings: ub.Settings | None, connect: ub.Connector | None, *,
                  unit: float) -> list[float]:
    """The fast consumer's latencies in µs (``unit``: µs per timestamp unit)."""
    stamp_now = (lambda: time.time() * 1_000) if unit != 1.0 else (lambda: time.time() * 1_000_000)
    samples: list[float] = []
    async with ub.open_upbit_session(config=settings, connector=connect) as session, \
            trio.open_nursery() as nursery:
        if with_sibling:
            async def sibling() -> None:
                async with session.ticker(CODES, mode="realtime", overflow="latest") as events:
                    async for _ in events:
                        until = time.perf_counter() + SIBLING_CPU
                        while time.perf_counter() < until:
                            pass
            nursery.start_soon(sibling)
        async with session.ticker(CODES, mode="realtime", overflow="latest") as fast:
            warm_until = trio.current_time() + 0.5
            end = warm_until + SECONDS
            async for event in fast:
                now = trio.current_time()
                if now >= end:
                    break
                if now >= warm_until:
                    samples.append((stamp_now() - event.timestamp) * unit)
        nursery.cancel_scope.cancel()
    return samples


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    source = "the fake exchange (1 ms stamps)" if FAKE else "a local socket (µs stamps)"
    print(f"fast 'latest' consumer, ticker frames at {RATE:,}/s from {source}, {len(CODES)} codes; "
          f"sibling burns {SIBLING_CPU * 1e3:.1f} ms per event; {ROUNDS} rounds of {SECONDS:g} s")
    ratios = []
    for round_ in range(ROUNDS):
        alone = await one_case(False)
        beside = await one_case(True)
        a50, b50 = pct(alone, 0.5), pct(beside, 0.5)
        ratios.append(b50 / a50)
        print(f"  round {round_ + 1}: alone p50 {a50:7.0f} µs p99 {pct(alone, 0.99):7.0f} µs ({len(alone):,} events)"
              f" | with sibling p50 {b50:7.0f} µs p99 {pct(beside, 0.99):7.0f} µs ({len(beside):,} events)"
              f" | ratio {b50 / a50:.2f}")
    print(f"p50 with sibling / alone: median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}); target ≤ 1.5")


templates_cache = templates()

if __name__ == "__main__":
    trio.run(main)
