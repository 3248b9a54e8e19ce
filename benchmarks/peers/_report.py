"""The tables compare_peers prints: per-round figures, medians, and ratios upbit_stream ÷ peer with their spread."""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

NAN = float("nan")
#: (upbit_stream client, peer): the least consumer-visible throughput ratio issue #12 asks for.
THROUGHPUT_TARGETS = {("upbit_stream", "ccxt"): 2.0, ("upbit_stream", "pyupbit"): 2.0,
                      ("upbit_stream:batches", "ccxt"): 2.5, ("upbit_stream:batches", "pyupbit"): 2.5}
#: (upbit_stream client, peer): the largest CPU-per-message ratio asked for.
CPU_TARGETS = {("upbit_stream", "ccxt"): 0.5}
#: The session against the bare loop of its own transport, at least.
SESSION_SHARE = 0.90
#: p99 exchange-to-consumer at the offered rate, at most (ms).
P99_LIMIT = 1.5
OWN_WIRE = "upbit_stream-wire"


@dataclass
class Client:
    key: str  # what --only takes
    label: str
    script: str
    venv: str | None  # None: the project's own .venv
    ours: bool = False
    ceiling: bool = False  # a bare transport loop: a bound for upbit_stream, not a peer
    args: tuple[str, ...] = ()  # extra arguments for the client script
    python: Path | None = None
    versions: str = ""
    failure: str = ""
    runs: dict[int, dict] = field(default_factory=dict)  # round number -> {"blast": ..., "paced": ...}


@dataclass
class Round:
    number: int
    load: float  # 1-minute load average at the start (includes this benchmark's previous round)
    idle: float  # cores other processes kept busy in a 1 s sample at the start
    others: float  # mean cores used outside this benchmark's process tree during the round

    def flagged(self, cores: int) -> str:
        """Why this round's figures are not meaningful, or ``""``."""
        if self.load > 0.75 * cores:
            return f"load average {self.load:.2f} > 0.75 x {cores} cores at its start"
        if self.others > 0.25 * cores:
            return f"other processes used {self.others:.2f} cores (> 0.25 x {cores}) during it"
        return ""


def parsed_per_second(result: dict) -> float:
    """Messages the client decoded per second; pull-based clients hand every one to the consumer."""
    return result.get("parsed", result["messages"]) / result["seconds"]


def run_figures(run: dict) -> dict[str, float]:
    """One client's figures in one round."""
    blast, paced = run["blast"], run["paced"]
    decoded = parsed_per_second(blast)
    return {
        "rate": blast["rate"],
        "decoded": decoded,
        "cpu_us": blast["cpu_seconds"] / (decoded * blast["seconds"]) * 1e6,
        "rss": max(blast["peak_rss_mb"], paced["peak_rss_mb"]),
        "rss_start": blast.get("rss_start_mb", NAN),
        "rss_end": blast.get("rss_end_mb", NAN),
        "total": blast.get("total_messages", NAN),
        "paced_rate": paced["rate"],
        "paced_decoded": parsed_per_second(paced),
        "paced_cpu": paced["cpu_percent"],
        "p50": paced.get("p50", NAN),
        "p99": paced.get("p99", NAN),
        "procs": blast["processes"],
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else NAN


def _spread(values: list[float], digits: str = ".2f") -> str:
    return f"{min(values):{digits}}–{max(values):{digits}}" if values else "–"


def report(chosen: list[Client], rounds: list[Round], opts: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    flags = {r.number: r.flagged(cores) for r in rounds}
    counted = [r.number for r in rounds if not flags[r.number]] or [r.number for r in rounds]
    done = [c for c in chosen if c.runs and not c.failure]
    per_round = {c.key: {n: run_figures(run) for n, run in c.runs.items()} for c in done}

    def values(key: str, name: str, numbers: list[int] = counted) -> list[float]:
        return [per_round[key][n][name] for n in numbers if n in per_round[key]]

    print()
    print(f"#### {opts.type} frames for {opts.code}; {len(rounds)} round(s), {opts.seconds:g} s measured after "
          f"{opts.warmup:g} s warm-up; latency at {opts.rate:,.0f} msg/s offered; {cores} cores")
    print()
    print("| round | load average at start | others' cores at start (1 s sample) | others' cores during | counted |")
    print("|--:|--:|--:|--:|---|")
    for r in rounds:
        verdict = "yes" if r.number in counted and not flags[r.number] else f"no: {flags[r.number]}"
        if flags[r.number] and r.number in counted:
            verdict = f"yes, every round was flagged ({flags[r.number]})"
        print(f"| {r.number + 1} | {r.load:.2f} | {r.idle:.2f} | {r.others:.2f} | {verdict} |")
    for r in rounds:
        print()
        print(f"Round {r.number + 1}{' (flagged: ' + flags[r.number] + ')' if flags[r.number] else ''}:")
        print()
        print("| client | msg/s to consumer | msg/s decoded | CPU µs/msg | p50 ms | p99 ms | peak RSS MB |")
        print("|---|--:|--:|--:|--:|--:|--:|")
        for c in done:
            f = per_round[c.key].get(r.number)
            if f is not None:
                print(f"| {c.label} | {f['rate']:,.0f} | {f['decoded']:,.0f} | {f['cpu_us']:.2f} | {f['p50']:.2f} | "
                      f"{f['p99']:.2f} | {f['rss']:.0f} |")

    print()
    print(f"Medians over round(s) {', '.join(str(n + 1) for n in counted)}:")
    print()
    print("| client | msg/s to consumer | msg/s decoded | CPU µs per msg decoded | p50 ms | p99 ms | "
          "msg/s to consumer at offered rate | CPU at offered rate | peak RSS MB | RSS MB, window start→end | "
          "processes |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for c in done:
        m = {name: _median(values(c.key, name)) for name in per_round[c.key][next(iter(per_round[c.key]))]}
        rss = max(values(c.key, "rss") or [NAN])
        print(f"| {c.label} | {m['rate']:,.0f} | {m['decoded']:,.0f} | {m['cpu_us']:.2f} | {m['p50']:.2f} | "
              f"{m['p99']:.2f} | {m['paced_rate']:,.0f} | {m['paced_cpu']:.0f} % | {rss:.0f} | "
              f"{m['rss_start']:.1f}→{m['rss_end']:.1f} | {m['procs']:.0f} |")
    for c in chosen:
        if c.failure or not c.runs:
            print(f"| {c.label} | failed: {c.failure or 'not run'} | | | | | | | | | |")

    ours = [c for c in done if c.ours]
    peers = [c for c in done if not c.ours and not c.ceiling]
    ceilings = [c for c in done if c.ceiling]

    def ratio_table(title: str, name: str, pairs: list[tuple[Client, Client]], targets: dict[tuple[str, str], float],
                    better: Callable[[float, float], bool], digits: str = ".2f") -> None:
        if not pairs:
            return
        print()
        print(title)
        print()
        heads = " | ".join(f"round {n + 1}" for n in counted)
        print(f"| upbit_stream ÷ | {heads} | median | spread (min–max) | target | met? |")
        print("|---|" + "--:|" * (len(counted) + 2) + "--:|---|")
        for us, them in pairs:
            ratios = [per_round[us.key][n][name] / per_round[them.key][n][name] for n in counted
                      if n in per_round[us.key] and n in per_round[them.key]]
            cells = " | ".join(
                f"{per_round[us.key][n][name] / per_round[them.key][n][name]:{digits}}x"
                if n in per_round[us.key] and n in per_round[them.key] else "–" for n in counted)
            target = targets.get((us.key, them.key))
            med = _median(ratios)
            met = "" if target is None else ("yes" if better(med, target) and all(better(x, target) for x in ratios)
                                             else "median only" if better(med, target) else "no")
            print(f"| {us.label} ÷ {them.label} | {cells} | {med:{digits}}x | {_spread(ratios, digits)} | "
                  f"{'' if target is None else f'{target:g}x'} | {met} |")

    pairs = [(us, them) for us in ours for them in peers]
    at_least, at_most = (lambda x, t: x >= t), (lambda x, t: x <= t)
    ratio_table("Consumer-visible throughput (msg/s reaching the consumer at full speed), upbit_stream ÷ peer, "
                "per round: higher is better.", "rate", pairs, THROUGHPUT_TARGETS, at_least)
    ratio_table("CPU µs per message decoded, upbit_stream ÷ peer, per round: lower is better.", "cpu_us", pairs,
                CPU_TARGETS, at_most)
    ratio_table("p99 latency at the offered rate, upbit_stream ÷ peer, per round: lower is better.", "p99", pairs,
                {}, at_most)
    ratio_table("Peak RSS, upbit_stream ÷ peer, per round: lower is better.", "rss", pairs, {}, at_most)
    own = [c for c in ceilings if c.key == OWN_WIRE]
    ratio_table(f"The session against bare loops (consumer-visible msg/s), per round; the target is "
                f"{SESSION_SHARE:.0%} of the bare loop over its own transport (upbit_stream's websockets wire).",
                "rate", [(us, them) for us in ours for them in ceilings],
                {(us.key, own[0].key): SESSION_SHARE for us in ours} if own else {}, at_least)

    if ours:
        print()
        print("upbit_stream alone:")
        print()
        for us in ours:
            p99 = values(us.key, "p99")
            grew = [per_round[us.key][n]["rss_end"] - per_round[us.key][n]["rss_start"] for n in counted
                    if n in per_round[us.key]]
            total = max(values(us.key, "total") or [NAN])
            print(f"- {us.label}: p99 {_median(p99):.2f} ms at {opts.rate:,.0f} msg/s (spread {_spread(p99)}; "
                  f"limit ≈ {P99_LIMIT} ms: {'met' if _median(p99) <= P99_LIMIT else 'NOT met'}); RSS change over "
                  f"the measured window {_spread(grew, '+.1f')} MB, up to {total:,.0f} messages since start")
        simple = per_round.get("upbit_stream:simple")
        default = per_round.get("upbit_stream")
        if simple and default:
            both = [simple[n]["rate"] / default[n]["rate"] for n in counted if n in simple and n in default]
            print(f"- SIMPLE ÷ DEFAULT session throughput: {_median(both):.2f}x (spread {_spread(both)})")

    print()
    print("Notes:")
    for c in done:
        notes = c.runs[max(c.runs)]["blast"]
        extra = f" Transport used: {notes['transport']}." if "transport" in notes else ""
        extra += f" Reading: {notes['reading']}." if "reading" in notes else ""
        print(f"- **{c.label}** ({c.versions}): {notes['decodes']}.{extra}")
    for c in done:
        rate, decoded = _median(values(c.key, "rate")), _median(values(c.key, "decoded"))
        if rate < 0.97 * decoded:
            print(f"- {c.label} decoded {decoded:,.0f} msg/s but handed only {rate:,.0f}/s to the consumer: the rest "
                  "were conflated or dropped by its cache. Its CPU figure is per message decoded.")
        if _median(values(c.key, "paced_decoded")) < 0.97 * opts.rate:
            print(f"- {c.label} did not keep up with {opts.rate:,.0f} msg/s offered, so its latency includes a "
                  "growing backlog.")
    print("- msg/s decoded counts what the client parsed (ccxt.pro: its handle_* calls; upbit_stream: the session's "
          "reader); clients that only decode when the consumer asks (upbit-sdk, pyupbit, the bare loops) count "
          "what reached the consumer. Ratios use msg/s to the consumer.")
    print("- Latency: the fake stamps each frame's `timestamp` with its send time (1 ms resolution, so figures "
          "carry up to 1 ms of truncation); the consumer subtracts it from time.time().")
    print("- Each client runs in a fresh process against a fresh fake exchange process, one client at a time. "
          "The load average at a round's start includes this benchmark's previous round (about one core); "
          "\"others' cores\" exclude it. On a shared machine msg/s follows the CPU share a process gets, and "
          "virtual-machine steal time can be charged to the running process, inflating CPU µs/msg.")
