"""Chaos run over real sockets: a session against the fake exchange on 127.0.0.1 while faults rain.

Real sockets and the real clock, on purpose: ``tests/test_chaos.py`` already runs the same seeded
chaos in virtual time over in-memory streams (fast, exact timings); this run exercises what that one
cannot — the production connector (trio-websocket over TCP), drops that are real socket closes,
stalls that are real half-open TCP connections with kernel buffers filling, and memory over real
time. Timings are compressed (heartbeat 2 s + 1 s, cooldowns 2 s / 5 s, outages and stalls up to
5 s) so hundreds of faults fit in a few minutes; Upbit's limits (5 requests/s, 100/min, 5
connects/s) are not compressed and are checked on the fake's own log.

    python benchmarks/chaos.py [--faults 300] [--seed 1] [--quick]

Prints the figures and every violation; exits 1 if any promise broke.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc

import attrs
import trio

import upbit_stream as ub
from upbit_stream._transports.via_trio_websocket import trio_websocket_connector
from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._chaos_watch import run_chaos

CODES = [
    "KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA", "KRW-TRX", "KRW-AVAX", "KRW-LINK",
    "KRW-DOT", "KRW-BCH", "KRW-ETC", "KRW-XLM", "KRW-NEAR", "KRW-SUI", "KRW-HBAR", "KRW-SHIB", "KRW-ATOM",
]
SETTINGS = {
    "connection": {"connect_timeout": 2.0},
    "heartbeat": {"interval": 2.0, "timeout": 1.0, "stale_after": 6.0},
    "reconnect": {"initial_delay": 0.1, "max_delay": 1.0, "throttled_cooldown": 2.0, "banned_cooldown": 5.0,
                  "healthy_after": 1.0},
}


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


_LIBRARY = tracemalloc.Filter(True, "*/upbit_stream/_*/*.py")  # the library's own modules, not the fake


async def sample_memory(samples: list[tuple[float, float, float, float]], every: float) -> None:
    """(seconds, traced MB, traced MB allocated in library modules, RSS MB) every ``every`` seconds."""
    start = trio.current_time()
    while True:
        library = sum(t.size for t in tracemalloc.take_snapshot().filter_traces([_LIBRARY]).traces)
        samples.append((trio.current_time() - start, tracemalloc.get_traced_memory()[0] / 2**20, library / 2**20,
                        rss_mb()))
        await trio.sleep(every)


async def main(faults: int, seed: int, market_rate: float) -> int:
    tracemalloc.start()
    samples: list[tuple[float, float, float, float]] = []
    async with open_fake_upbit(seed=seed, rate=0, idle_timeout=120.0, log_size=1_000_000) as fake:
        settings = ub.Settings().evolve(
            connection={"public_url": fake.public_url, "private_url": fake.private_url, **SETTINGS["connection"]},
            heartbeat=SETTINGS["heartbeat"], reconnect=SETTINGS["reconnect"])
        connector = trio_websocket_connector(connect_timeout=settings.connection.connect_timeout)
        async with ub.open_upbit_session(config=settings, access_key=fake.access_key,
                                         secret_key=fake.secret_key, connector=connector) as session:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sample_memory, samples, 5.0)
                wall = time.perf_counter()
                report = await run_chaos(
                    fake, session, seed=seed, faults=faults, codes=CODES, market_rate=market_rate,
                    settle=(0.0, 1.0), max_outage=5.0, max_stall=5.0, resume_timeout=120.0, live_timeout=120.0)
                wall = time.perf_counter() - wall
                nursery.cancel_scope.cancel()
    quarter = [s for s in samples if s[0] >= samples[-1][0] / 4] or samples
    figures = report.figures()
    figures["wall (s)"] = round(wall, 1)
    figures["server counters"] = {k: v for k, v in attrs.asdict(report.server_counters).items() if v}
    figures["memory"] = {
        "traced MB at 1/4 of the run": round(quarter[0][1], 2), "traced MB at the end": round(samples[-1][1], 2),
        "library-allocated MB at 1/4": round(quarter[0][2], 3), "library-allocated MB at the end":
        round(samples[-1][2], 3), "RSS MB at 1/4": round(quarter[0][3], 1), "RSS MB at the end": round(samples[-1][3], 1),
    }
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    violations = report.violations()
    growth = samples[-1][1] - quarter[0][1]
    if growth > 5.0:
        violations.append(f"traced memory grew {growth:.1f} MB from 1/4 of the run to its end")
    for violation in violations:
        print("VIOLATION:", violation)
    print(f"violations: {len(violations)}")
    return 1 if violations else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--market-rate", type=float, default=20.0, help="trades per second on the codes")
    parser.add_argument("--quick", action="store_true", help="40 faults")
    args = parser.parse_args()
    sys.exit(trio.run(main, 40 if args.quick else args.faults, args.seed, args.market_rate))
