"""Measurement harness shared by the client scripts: stdlib only, so it runs in every peer's venv.

A client script parses ``args()``, makes a ``Meter``, calls ``meter.start()`` and then, in its
consumer loop, ``meter.tick(timestamp_ms)`` once per market message it receives. A timer thread
does the rest: it waits for the first message, lets ``--warmup`` pass, measures ``--seconds``
(messages, CPU of the whole process tree, latencies), prints one JSON line, stops any child
processes and exits the process. The consumer loop never returns.

Latency is ``time.time()`` at the consumer minus the message's ``timestamp`` field, which the fake
exchange's paced blast mode overwrites with its send time (1 ms resolution, same host clock).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable

FIRST_MESSAGE_TIMEOUT = 30.0
_TICK = os.sysconf("SC_CLK_TCK")


def args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="public endpoint, ws://host:port/websocket/v1")
    parser.add_argument("--type", choices=("trade", "ticker"), default="trade")
    parser.add_argument("--code", default="KRW-BTC")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--transport", default="", help="upbit_stream only: [connection] transport")
    parser.add_argument("--format", choices=("DEFAULT", "SIMPLE"), default="DEFAULT",
                        help="upbit_stream only: [connection] format")
    parser.add_argument("--batch", action="store_true", help="upbit_stream only: read with batches(), not async for")
    parser.add_argument("--latency", action="store_true",
                        help="record each message's latency (paced phase; off at full speed, where the list of "
                             "samples would be most of the RSS growth)")
    return parser.parse_args()


def request(type_: str, code: str) -> str:
    """The subscription the bare loops send: realtime only, DEFAULT format."""
    return json.dumps([{"ticket": "bench"}, {"type": type_, "codes": [code], "is_only_realtime": True},
                       {"format": "DEFAULT"}])


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == pid]
        found += kids
        frontier += kids
    return found


def _cpu_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _peak_rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_cpu() -> float:
    """User + system CPU seconds of this process and every live descendant.

    The slow part comes first: scanning ``/proc`` from the meter thread waits for the GIL at every
    file while the client's loop keeps it busy, which took whole seconds. This process's own time is
    one ``getrusage`` call at the end, so that the caller's timestamp right after pairs with it.
    """
    descendants = sum(_cpu_of(pid) for pid in _descendants(os.getpid()))
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + descendants


def rss_mb() -> float:
    """Current RSS of this process (VmRSS), MB."""
    try:
        with open(f"/proc/{os.getpid()}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_peak_rss_mb() -> float:
    """Peak RSS of this process plus each live descendant's peak (shared pages count in each)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    waited = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + sum(_peak_rss_kb(pid) for pid in _descendants(os.getpid())) + waited) / 1024


class Meter:
    """Counts messages at the consumer; records latencies while the measured window is open."""

    def __init__(self, options: argparse.Namespace, client: str, decodes: str) -> None:
        self.options = options
        self.seen = 0
        self.recording = False
        self.samples: list[float] = []
        self.parsed: int | None = None  # set by clients that can count messages parsed before delivery
        self.info = {"client": client, "decodes": decodes}

    def tick(self, timestamp_ms: float | str) -> None:
        self.seen += 1
        if self.recording and self.options.latency:
            self.samples.append(time.time() * 1000.0 - float(timestamp_ms))  # type: ignore[arg-type]

    def note(self, key: str, value: object) -> None:
        """Extra facts to print with the result (e.g. the transport actually used)."""
        self.info[key] = value

    def start(self) -> None:
        threading.Thread(target=self._measure, name="meter", daemon=True).start()

    def fail(self, reason: str) -> None:
        self._finish({"error": reason})

    def _measure(self) -> None:
        deadline = time.monotonic() + FIRST_MESSAGE_TIMEOUT
        while self.seen == 0:
            if time.monotonic() > deadline:
                self.fail(f"no message within {FIRST_MESSAGE_TIMEOUT:g} s")
            time.sleep(0.01)
        time.sleep(self.options.warmup)
        rss0 = rss_mb()
        cpu0, t0, n0, parsed0 = self._snapshot()
        self.recording = True
        time.sleep(self.options.seconds)
        self.recording = False
        cpu1, t1, n1, parsed1 = self._snapshot()
        rss1 = rss_mb()
        samples = sorted(self.samples)
        messages = n1 - n0
        result: dict[str, object] = {
            "messages": messages,
            "seconds": t1 - t0,
            "rate": messages / (t1 - t0),
            "cpu_seconds": cpu1 - cpu0,
            "cpu_per_million": (cpu1 - cpu0) / messages * 1e6 if messages else None,
            "cpu_percent": (cpu1 - cpu0) / (t1 - t0) * 100,
            "peak_rss_mb": tree_peak_rss_mb(),
            "rss_start_mb": rss0,  # this process only, when the measured window opens and closes
            "rss_end_mb": rss1,
            "total_messages": n1,  # since the first, warm-up included
            "processes": 1 + len(_descendants(os.getpid())),
        }
        if parsed0 is not None and parsed1 is not None:
            result["parsed"] = parsed1 - parsed0
        if samples:
            result.update(p50=samples[len(samples) // 2], p99=samples[min(len(samples) - 1, int(len(samples) * 0.99))],
                          max=samples[-1], latency_samples=len(samples))
        self._finish(result)

    def _snapshot(self) -> tuple[float, float, int, int | None]:
        """CPU seconds, then at once the time and the counts (a window's CPU and its span must match)."""
        cpu = tree_cpu()
        return cpu, time.monotonic(), self.seen, self.parsed

    def _finish(self, result: dict[str, object]) -> None:
        print(json.dumps({**self.info, **result}), flush=True)
        for pid in _descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        sys.stderr.flush()
        os._exit(0)


def run_guarded(meter: Meter, body: Callable[[], object]) -> None:
    """Run the client's consumer loop; an exception becomes the result's error, not a traceback."""
    meter.start()
    try:
        body()
    except BaseException as exc:  # noqa: BLE001 - reported, then the process exits
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        meter.fail(f"{type(exc).__name__}: {exc}"[:300])
    meter.fail("the consumer loop ended")
