"""Scaling curves of the session (codes, subscribers, offered rate): throughput, latency and client CPU.

A purpose-built sender runs in its own process (this file with ``--sender``): a WebSocket server that
streams pre-encoded ticker frames, paced at the ``rate`` given in the connection URL, round-robin
over the ticker codes the client requested (only the first ``hot`` of them when ``hot`` > 0). The
fake exchange's blast cannot do this: it only knows its 47 listed markets and rejects other codes.
Each batch is stamped just before it is written: ``timestamp`` with the send time in ms (what the
library's own latency window sees) and ``acc_trade_price`` with the send time in s to the µs (what
this benchmark reads in each consumer). Client CPU is this process's CPU time over the window.

    .venv/bin/python benchmarks/scaling.py [--quick] [--no-plot]

writes ``benchmarks/results/scaling.json`` (``--quick``: a temporary folder instead), prints a markdown
table, and draws ``scaling_{codes,subscribers,rate}.png`` beside it with matplotlib from a venv it
creates (``.peers/bench-plot``; matplotlib is a benchmark-only dependency) by running
``scaling_plot.py``. Figures are from one run
on a shared machine: compare points within a run, not across machines.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import attrs
import orjson
import trio
import trio_websocket

import upbit_stream as ub
from upbit_stream._core.encode import encode_event
from upbit_stream.testing._market import MarketSim
from upbit_stream.testing._connection import ws_frame

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
QUICK_RESULTS = Path(tempfile.gettempdir()) / "upbit-stream-scaling-quick"  # --quick never overwrites RESULTS
PLOT_VENV = ROOT / ".peers" / "bench-plot"
QUICK = "--quick" in sys.argv
SECONDS = 1.0 if QUICK else 3.0  # measured window per point
WARMUP = 0.5 if QUICK else 1.0  # after the first delivery, before the window opens
CODES = tuple(f"KRW-S{i:04d}" for i in range(1000))  # synthetic market codes
FIXED_RATE = 5000.0  # offered msg/s for the codes and subscribers curves
BUFFER = 4096  # each subscriber's channel

CODE_POINTS = [1, 50, 500] if QUICK else [1, 10, 50, 100, 250, 500]
SUBSCRIBER_POINTS = [1, 100, 1000] if QUICK else [1, 10, 100, 1000]
RATE_POINTS = [1000, 5000, 20000] if QUICK else [1000, 2000, 5000, 10000, 20000]
RATE_CODES = 50

# -- the sender (its own process) --------------------------------------------------------------------

STAMP_S = b"9999999999.999999"  # placeholder for the send time in s, µs digits (17 bytes)
STAMP_MS = b"9999999999999"  # placeholder for the send time in ms (13 bytes)
CHUNK = 64 * 1024


class _Frames:
    """One pre-framed ticker frame per code, split around its two stamps."""

    def __init__(self) -> None:
        now_ms = int(time.time() * 1000)
        sim = MarketSim(seed=7, now_ms=now_ms)
        for i in range(200):
            sim.step_trade(now_ms + i)
        self._template = sim.ticker("KRW-BTC", now_ms)
        self._cache: dict[str, tuple[bytes, bytes, bytes]] = {}

    def pieces(self, code: str) -> tuple[bytes, bytes, bytes]:
        """(a, b, c) with ``a + send_s + b + send_ms + c`` the complete WebSocket frame."""
        found = self._cache.get(code)
        if found is None:
            event = attrs.evolve(self._template, code=code, acc_trade_price=Decimal(STAMP_S.decode()),
                                 timestamp=int(STAMP_MS))
            frame = ws_frame(encode_event(event))
            s_at = frame.index(STAMP_S)
            ms_at = frame.index(b'"timestamp":' + STAMP_MS) + len(b'"timestamp":')
            assert s_at < ms_at, "ticker field order changed"
            found = self._cache[code] = (frame[:s_at], frame[s_at + 17:ms_at], frame[ms_at + 13:])
        return found


class _LockedStream:
    """The accepted TCP stream (duck-typed), shared by trio-websocket (pongs) and the raw frame writer."""

    def __init__(self, inner: trio.SocketStream) -> None:
        self.inner = inner
        self._lock = trio.Lock()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        async with self._lock:
            await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return await self.inner.receive_some(max_bytes)

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()


def _requested_codes(message: str | bytes) -> list[str]:
    """Ticker codes of a subscription request, sorted (depth suffixes dropped)."""
    codes: set[str] = set()
    for obj in orjson.loads(message):
        if isinstance(obj, dict) and obj.get("type") == "ticker":
            codes.update(code.partition(".")[0] for code in obj.get("codes", ()))
    return sorted(codes)


async def _serve_connection(stream: trio.SocketStream, frames: _Frames) -> None:
    locked = _LockedStream(stream)
    try:
        async with trio.open_nursery() as nursery:
            request = await trio_websocket.wrap_server_stream(nursery, locked, message_queue_size=8,
                                                              max_message_size=1 << 22)
            query = parse_qs(urlsplit(request.path).query)
            rate = float(query.get("rate", ["0"])[0])
            hot = int(query.get("hot", ["0"])[0])
            ws = await request.accept()
            wanted: list[list[str]] = [[]]  # replaced by every request
            changed = trio.Event()

            async def receive() -> None:
                nonlocal changed
                while True:
                    wanted[0] = _requested_codes(await ws.get_message())
                    changed.set()
                    changed = trio.Event()

            nursery.start_soon(receive)
            while True:
                if not wanted[0]:
                    await changed.wait()
                    continue
                codes = wanted[0][:hot] if hot else wanted[0]
                with trio.CancelScope() as scope:
                    nursery.start_soon(_cancel_on, changed, scope)
                    await _send_frames(locked, [frames.pieces(c) for c in codes], rate)
    except Exception:  # the client went away (possibly wrapped in a group): one connection never ends the server
        pass
    finally:
        await trio.aclose_forcefully(stream)


async def _cancel_on(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _send_frames(stream: _LockedStream, pieces: list[tuple[bytes, bytes, bytes]], rate: float) -> None:
    """Frames round-robin over ``pieces``: ``rate`` per second (batched per ≥1 ms), or as fast as TCP takes them."""
    per_chunk = max(1, CHUNK // (sum(len(a) + len(b) + len(c) + 30 for a, b, c in pieces) // len(pieces)))
    start = last = trio.current_time()
    sent = index = 0
    while True:
        if rate:
            last = max(start + (sent + 1) / rate, last + 0.001)
            await trio.sleep_until(last)
            count = int((trio.current_time() - start) * rate) - sent  # catches up after a late wake-up
            if count <= 0:
                continue
        else:
            count = per_chunk
        now = time.time()
        send_s, send_ms = b"%.6f" % now, b"%d" % round(now * 1000)
        parts: list[bytes] = []
        for _ in range(count):
            a, b, c = pieces[index]
            index = (index + 1) % len(pieces)
            parts += (a, send_s, b, send_ms, c)
        await stream.send_all(b"".join(parts))
        sent += count


async def run_sender() -> None:
    frames = _Frames()
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    print(f"sender ws://127.0.0.1:{port}", flush=True)
    await trio.serve_listeners(lambda stream: _serve_connection(stream, frames), listeners)


@contextmanager
def sender() -> Iterator[tuple[str, int]]:
    """Run the sender in its own process; yield its URL and process id."""
    proc = subprocess.Popen([sys.executable, __file__, "--sender"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        found = re.search(r"sender (\S+)", proc.stdout.readline())
        if not found:
            raise RuntimeError("the sender did not start")
        yield found.group(1), proc.pid
    finally:
        proc.terminate()
        proc.wait(5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the client: one measured point --------------------------------------------------------------------

def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


class Window:
    """Counters of one measured window: frames off the wire, deliveries, latency samples, CPU of both sides."""

    def __init__(self, sender_pid: int) -> None:
        gc.collect()  # the previous point's garbage, before any frame is in flight
        self.sender_pid = sender_pid
        self.wire = 0  # frames read from the socket (counted by whoever reads them)
        self.delivered = 0  # events taken by consumers
        self.samples: list[float] = []  # send → consumer, seconds, while recording
        self.recording = False
        self.opened = trio.current_time()

    def take(self, event: Any) -> None:
        """Count one event taken by a consumer (and its latency, inside the window)."""
        self.delivered += 1
        if self.recording:
            self.samples.append(time.time() - float(event.acc_trade_price))

    async def run(self, wire: Callable[[], int]) -> dict[str, Any]:
        """Wait for data, warm up, then measure for ``SECONDS``; ``wire()`` reads the frame counter."""
        with trio.fail_after(20):
            while not self.delivered:
                await trio.sleep(0.005)
        first = trio.current_time() - self.opened
        await trio.sleep(WARMUP)
        wire_0, delivered_0 = wire(), self.delivered
        cpu_0, sender_0, wall_0 = time.process_time(), cpu_seconds(self.sender_pid), trio.current_time()
        self.recording = True
        await trio.sleep(SECONDS)
        self.recording = False
        frames, deliveries = wire() - wire_0, self.delivered - delivered_0
        cpu, sender = time.process_time() - cpu_0, cpu_seconds(self.sender_pid) - sender_0
        wall = trio.current_time() - wall_0
        ms = sorted(s * 1000 for s in self.samples)
        return {
            "seconds": round(wall, 3), "wire_rate": frames / wall, "delivered_rate": deliveries / wall,
            "deliveries_per_frame": deliveries / frames if frames else None,
            "latency_p50_ms": _percentile(ms, 0.5), "latency_p99_ms": _percentile(ms, 0.99),
            "latency_max_ms": ms[-1] if ms else None, "latency_samples": len(ms),
            "client_cpu_percent": 100 * cpu / wall, "sender_cpu_percent": 100 * sender / wall,
            "cpu_us_per_frame": 1e6 * cpu / frames if frames else None,
            "cpu_us_per_delivery": 1e6 * cpu / deliveries if deliveries else None,
            "load1": os.getloadavg()[0], "first_delivery_s": round(first, 3),
        }


def _url(url: str, rate: float, hot: int) -> str:
    return f"{url}/?rate={rate:g}&hot={hot}"


async def measure(url: str, pid: int, subscribers: list[list[str]], *, rate: float, hot: int = 0) -> dict[str, Any]:
    """One point: ``subscribers`` (each a list of ticker codes) on one session."""
    config = ub.Settings().evolve(connection={"public_url": _url(url, rate, hot)}, heartbeat={"stale_after": 0})
    window = Window(pid)
    async with ub.open_upbit_session(config=config) as session:
        async with trio.open_nursery() as nursery:
            async def consume(codes: list[str]) -> None:
                async with session.ticker(codes, mode="realtime", buffer=BUFFER) as events:
                    async for event in events:
                        window.take(event)

            for codes in subscribers:
                nursery.start_soon(consume, codes)
            point = await window.run(lambda: sum(session.stats().connections["public"].messages.values()))
            conflated = sum(s.conflated for s in session.stats().subscriptions)
            nursery.cancel_scope.cancel()
    codes = {c for codes in subscribers for c in codes}
    return {"subscribers": len(subscribers), "codes": len(codes), "offered_rate": rate or None,
            "hot_codes": hot or None, **point, "conflated": conflated}


async def measure_bare(url: str, pid: int, codes: list[str], *, rate: float) -> dict[str, Any]:
    """The same point through trio-websocket alone: ``get_message`` + ``ub.decode`` in one loop."""
    window = Window(pid)
    wire = 0
    request = orjson.dumps([{"ticket": "scaling"}, {"type": "ticker", "codes": codes, "is_only_realtime": True}])
    async with trio_websocket.open_websocket_url(_url(url, rate, 0), message_queue_size=64,
                                                 max_message_size=1 << 22) as ws:
        await ws.send_message(request.decode())
        async with trio.open_nursery() as nursery:
            async def consume() -> None:
                nonlocal wire
                while True:
                    frame = await ws.get_message()
                    wire += 1
                    for event in ub.decode(frame):
                        window.take(event)

            nursery.start_soon(consume)
            point = await window.run(lambda: wire)
            nursery.cancel_scope.cancel()
    return {"subscribers": 1, "codes": len(codes), "offered_rate": rate or None, "hot_codes": None, **point,
            "conflated": 0}


def _show(label: str, point: dict[str, Any]) -> None:
    print(f"  {label:<30} wire {point['wire_rate']:7,.0f}/s  delivered {point['delivered_rate']:7,.0f}/s  "
          f"p50 {point['latency_p50_ms'] or 0:6.2f} ms  p99 {point['latency_p99_ms'] or 0:7.2f} ms  "
          f"CPU {point['client_cpu_percent']:3.0f} % (sender {point['sender_cpu_percent']:3.0f} %)  "
          f"{point['cpu_us_per_delivery'] or 0:5.1f} µs/delivery", flush=True)


async def run_curves(url: str, pid: int) -> dict[str, Any]:
    curves: dict[str, Any] = {"codes": [], "subscribers_distinct": [], "subscribers_same": [], "rate": [],
                              "rate_bare": []}
    print(f"codes: one consumer, ticker on N codes, {FIXED_RATE:,.0f} msg/s offered round-robin over them")
    for n in CODE_POINTS:
        point = await measure(url, pid, [list(CODES[:n])], rate=FIXED_RATE)
        curves["codes"].append(point)
        _show(f"{n} codes", point)
    print(f"subscribers, each on its own code, {FIXED_RATE:,.0f} msg/s offered on one of those codes")
    for n in SUBSCRIBER_POINTS:
        point = await measure(url, pid, [[code] for code in CODES[:n]], rate=FIXED_RATE, hot=1)
        curves["subscribers_distinct"].append(point)
        _show(f"{n} subscribers, distinct", point)
    print(f"subscribers, all on the same code, {FIXED_RATE:,.0f}/N msg/s offered (N deliveries per frame)")
    for n in SUBSCRIBER_POINTS:
        point = await measure(url, pid, [[CODES[0]]] * n, rate=FIXED_RATE / n)
        curves["subscribers_same"].append(point)
        _show(f"{n} subscribers, same code", point)
    print(f"offered rate: one consumer, ticker on {RATE_CODES} codes; session, then bare trio-websocket + ub.decode")
    for rate in [*RATE_POINTS, 0]:
        name = f"{rate:,} msg/s" if rate else "unpaced (as fast as TCP)"
        point = await measure(url, pid, [list(CODES[:RATE_CODES])], rate=rate)
        curves["rate"].append(point)
        _show(name, point)
        point = await measure_bare(url, pid, list(CODES[:RATE_CODES]), rate=rate)
        curves["rate_bare"].append(point)
        _show(f"{name}, bare", point)
    return curves


# -- output --------------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "commit": commit}


def _f(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def markdown(result: dict[str, Any]) -> str:
    head = ("| point | offered msg/s | wire msg/s | delivered/s | deliveries/frame | p50 ms | p99 ms | "
            "client CPU % | CPU µs/frame | CPU µs/delivery | load |")
    rows = [head, "|" + "---|" * 11]
    labels = {"codes": "{codes} codes, 1 subscriber", "subscribers_distinct": "{subscribers} subs, distinct codes",
              "subscribers_same": "{subscribers} subs, same code", "rate": "rate, {codes} codes",
              "rate_bare": "rate, {codes} codes, bare trio-websocket"}
    for curve, label in labels.items():
        for p in result["curves"][curve]:
            offered = _f(p["offered_rate"], ",.0f") if p["offered_rate"] else "unpaced"
            rows.append(
                f"| {label.format(**p)} | {offered} | {p['wire_rate']:,.0f} | {p['delivered_rate']:,.0f} | "
                f"{_f(p['deliveries_per_frame'], '.0f')} | {_f(p['latency_p50_ms'], '.2f')} | "
                f"{_f(p['latency_p99_ms'], '.2f')} | {p['client_cpu_percent']:.0f} | "
                f"{_f(p['cpu_us_per_frame'], '.1f')} | {_f(p['cpu_us_per_delivery'], '.1f')} | {p['load1']:.1f} |")
    return "\n".join(rows)


# -- plots -------------------------------------------------------------------------------------------

def ensure_plot_python() -> Path:
    """The plotting venv's interpreter, creating the venv with matplotlib on first use."""
    python = PLOT_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PLOT_VENV.relative_to(ROOT)} with matplotlib (benchmark-only dependency)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PLOT_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "matplotlib"], check=True)
    return python


# -- entry point -------------------------------------------------------------------------------------

async def run() -> dict[str, Any]:
    load_before = os.getloadavg()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with sender() as (url, pid):
        curves = await run_curves(url, pid)
    return {
        "date": started, "quick": QUICK, "seconds_per_point": SECONDS, "warmup_seconds": WARMUP,
        "fixed_rate": FIXED_RATE, "rate_codes": RATE_CODES, "buffer": BUFFER,
        "machine": machine(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "curves": curves,
    }


def main() -> None:
    if "--sender" in sys.argv:
        trio.run(run_sender)
        return
    print(f"sender in another process; {SECONDS:g} s per point after {WARMUP:g} s warm-up; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    result = trio.run(run)
    folder = QUICK_RESULTS if QUICK else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "scaling.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print()
    print(markdown(result))
    print(f"\nwrote {out}")
    if "--no-plot" not in sys.argv:
        subprocess.run([str(ensure_plot_python()), str(Path(__file__).with_name("scaling_plot.py")), str(out)],
                       check=True)
        print(f"wrote {', '.join(str(folder / f'scaling_{n}.png') for n in ('codes', 'subscribers', 'rate'))}")


if __name__ == "__main__":
    main()
