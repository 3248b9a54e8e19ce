"""Both transports (bare loops and sessions), fan-out cost, latency and memory, in one run.

The fake exchange runs in another process (``upbit-stream serve``). Every figure printed is a
ratio or a measurement from this run; nothing is asserted. The transport comparison alternates
the two transports for ``ROUNDS`` rounds and keeps each one's best round (the machine is shared).

    python benchmarks/bench_pipeline.py [--quick]
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

import orjson
import trio
import trio_websocket
from _fake_process import fake_exchange
from websockets.trio.client import connect as websockets_connect

import upbit_stream as ub
from upbit_stream.testing import MARKETS

QUICK = "--quick" in sys.argv
SECONDS = 1.5 if QUICK else 4.0
ROUNDS = 1 if QUICK else 2
TRANSPORTS = ("trio-websocket", "websockets")
CODES = sorted(m.code for m in MARKETS)


def request(codes: list[str], types: tuple[str, ...] = ("ticker",)) -> str:
    body = [{"ticket": "bench"}, *({"type": t, "codes": codes, "is_only_realtime": True} for t in types)]
    return json.dumps(body)


async def bare_loop(url: str, decoder: str, transport: str = "trio-websocket") -> float:
    """Messages per second through the WebSocket library alone, decoding each frame."""
    decode = orjson.loads if decoder == "orjson" else ub.decode
    count = 0
    if transport == "websockets":
        # Left by cancellation: a close handshake behind a full queue would wait for close_timeout.
        with trio.CancelScope() as scope:
            async with websockets_connect(url, compression=None, ping_interval=None, max_size=1 << 22,
                                          max_queue=64) as ws:
                await ws.send(request(CODES))
                await ws.recv()
                start = trio.current_time()
                with trio.move_on_after(SECONDS):
                    while True:
                        decode(await ws.recv())
                        count += 1
                elapsed = trio.current_time() - start
                scope.cancel()
        return count / elapsed
    async with trio_websocket.open_websocket_url(url, message_queue_size=64, max_message_size=1 << 22) as ws:
        await ws.send_message(request(CODES))
        await ws.get_message()
        start = trio.current_time()
        with trio.move_on_after(SECONDS):
            while True:
                decode(await ws.get_message())
                count += 1
    return count / (trio.current_time() - start)


DEFAULT_TRANSPORT = ub.Settings().connection.transport


def settings(url: str, transport: str = DEFAULT_TRANSPORT) -> ub.Settings:
    return ub.Settings().evolve(connection={"public_url": url, "transport": transport}, heartbeat={"stale_after": 0})


async def pipeline(url: str, subscribers: int = 1, spread: int = 0, transport: str = DEFAULT_TRANSPORT) -> tuple[float, float]:
    """(messages per second read from the wire, events per second delivered) through the session."""
    rng = random.Random(5)
    delivered = 0
    async with ub.open_upbit_session(config=settings(url, transport)) as session:
        async with trio.open_nursery() as nursery:
            async def consume(codes: list[str]) -> None:
                nonlocal delivered
                async with session.ticker(codes, mode="realtime", buffer=4096) as events:
                    async for _ in events:
                        delivered += 1

            for _ in range(subscribers):
                nursery.start_soon(consume, rng.sample(CODES, spread) if spread else CODES)
            await trio.sleep(0.5)
            def wire_count() -> int:
                return sum(session.stats().connections["public"].messages.values())

            wire_before, delivered_before = wire_count(), delivered
            start = trio.current_time()
            await trio.sleep(SECONDS)
            elapsed = trio.current_time() - start
            wire = wire_count() - wire_before
            nursery.cancel_scope.cancel()
    return wire / elapsed, (delivered - delivered_before) / elapsed


async def latency(url: str) -> tuple[float, float, float]:
    """(offered msg/s, p50 ms, p99 ms) from each event's server timestamp to the consumer."""
    samples: list[float] = []
    async with ub.open_upbit_session(config=settings(url)) as session:
        spec = [ub.ticker(CODES, mode="realtime"), ub.trade(CODES, mode="realtime"), ub.orderbook(CODES, mode="realtime")]
        async with session.subscribe(*spec, buffer=4096, overflow="latest") as events:
            await trio.sleep(0.5)
            while True:  # drop what queued up while warming up: it is not latency
                try:
                    events.receive_nowait()
                except trio.WouldBlock:
                    break
            start = trio.current_time()
            with trio.move_on_after(SECONDS):
                async for event in events:
                    samples.append(time.time() * 1000 - event.timestamp)
            elapsed = trio.current_time() - start
        at_reader = session.stats().connections["public"]
    samples.sort()
    print(f"  (the same, measured in the reader before fan-out: p50 {at_reader.latency_p50_ms:.2f} ms, "
          f"p99 {at_reader.latency_p99_ms:.2f} ms)")
    return len(samples) / elapsed, samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def memory(url: str, total: int) -> tuple[float, float, float]:
    """RSS (MB) after 10 % and after all of ``total`` messages, with one stalled subscriber too."""
    seen = 0
    marks: list[float] = []
    async with ub.open_upbit_session(config=settings(url)) as session:
        async with session.ticker(CODES, mode="realtime", buffer=256), session.ticker(
            CODES, mode="realtime", buffer=4096
        ) as events:  # the first one is never read: a stalled consumer
            async for _ in events:
                seen += 1
                if seen == total // 10:
                    marks.append(rss_mb())
                if seen >= total:
                    marks.append(rss_mb())
                    break
            stalled = session.stats().subscriptions[0]
    return marks[0], marks[1], float(stalled.queued)


async def compare_transports(url: str) -> None:
    """Bare loop and session of each transport, alternated, best of ``ROUNDS``; printed as ratios."""
    bare: dict[str, float] = dict.fromkeys(TRANSPORTS, 0.0)
    session: dict[str, float] = dict.fromkeys(TRANSPORTS, 0.0)
    for _ in range(ROUNDS):
        for transport in TRANSPORTS:
            bare[transport] = max(bare[transport], await bare_loop(url, "ub.decode", transport))
            session[transport] = max(session[transport], (await pipeline(url, transport=transport))[1])
    print(f"transports (best of {ROUNDS} alternated rounds; default: {DEFAULT_TRANSPORT}):")
    for transport in TRANSPORTS:
        print(f"  bare {transport:15} + ub.decode {bare[transport]:10,.0f} msg/s   "
              f"session -> one consumer {session[transport]:10,.0f} msg/s "
              f"({session[transport] / bare[transport]:.0%} of its bare loop)")
    new, old = TRANSPORTS[1], TRANSPORTS[0]
    print(f"  {new} / {old}: bare {bare[new] / bare[old]:.2f}x, session {session[new] / session[old]:.2f}x")


async def main() -> None:
    print(f"fake exchange in another process; {SECONDS:g} s per measurement; ticker frames, DEFAULT format")
    with fake_exchange("--blast") as url:
        await compare_transports(url)
        bare_orjson = await bare_loop(url, "orjson", DEFAULT_TRANSPORT)
        bare_ours = await bare_loop(url, "ub.decode", DEFAULT_TRANSPORT)
        wire_1, delivered_1 = await pipeline(url)
        print(f"default transport ({DEFAULT_TRANSPORT}):")
        print(f"bare {DEFAULT_TRANSPORT} + orjson.loads {bare_orjson:10,.0f} msg/s")
        print(f"bare {DEFAULT_TRANSPORT} + ub.decode    {bare_ours:10,.0f} msg/s")
        share = delivered_1 / bare_ours
        print(f"session -> one consumer                 {delivered_1:10,.0f} msg/s  "
              f"= {share:.0%} of bare+ub.decode, {delivered_1 / bare_orjson:.0%} of bare+orjson "
              f"(target >= 60 %: {'met' if share >= 0.6 else 'MISSED'})")
        print("  (above 100 % is possible: the bare loop reads through websockets.trio's own reader, the session "
              "through its faster sans-I/O wire)")
        wire_100, delivered_100 = await pipeline(url, subscribers=100, spread=1)
        print(f"100 subscribers x 1 of {len(CODES)} codes: wire {wire_100:,.0f} msg/s, delivered {delivered_100:,.0f} ev/s "
              f"({delivered_100 / wire_100:.1f} subscribers per event)")
        cost_1, cost_100 = 1 / wire_1, 1 / wire_100
        print(f"per-message cost, 100 subscribers / 1 subscriber: {cost_100 / cost_1:.2f}x "
              f"(target <= 2x: {'met' if cost_100 / cost_1 <= 2 else 'MISSED'})")
        total = 100_000 if QUICK else 1_000_000
        before, after, queued = await memory(url, total)
        print(f"RSS after {total // 10:,} msgs {before:.1f} MB, after {total:,} {after:.1f} MB: "
              f"+{after - before:.1f} MB (target flat within 10 MB: {'met' if after - before <= 10 else 'MISSED'}); "
              f"stalled consumer holds {queued:.0f} events")
    with fake_exchange("--blast", "--blast-rate", "6000") as url:  # paced, stamped with the send time
        offered, p50, p99 = await latency(url)
        print(f"latency at {offered:,.0f} msg/s offered: p50 {p50:.2f} ms, p99 {p99:.2f} ms (target p99 < 5 ms "
              f"at 5,000 msg/s: {'met' if p99 < 5 else 'MISSED'}; timestamps have 1 ms resolution)")

if __name__ == "__main__":
    trio.run(main)
