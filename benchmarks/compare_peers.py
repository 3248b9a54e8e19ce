"""upbit_stream side by side with the Upbit clients users would otherwise pick, on the same frames.

Every client runs in its own process (and, for the peers, its own virtual environment under
``.peers/<name>/``, created here on first use) against a fresh fake exchange in blast mode
(``python -m upbit_stream serve --blast``), one after another, rounds interleaved. Two phases each:

* throughput: the fake sends as fast as TCP takes it; messages per second decoded and reaching
  the consumer, CPU seconds per million messages (client process tree, user + system), peak RSS;
* latency: the fake paces ``--rate`` frames per second stamped with their send time; p50 / p99
  from that stamp to the consumer (1 ms resolution, same host clock).

    python benchmarks/compare_peers.py [--quick] [--only NAME ...] [--rounds N] [--transport NAME]

Figures are medians over the rounds; ratios are upbit_stream ÷ peer, from this run only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _fake_process
from peers import _venvs

HERE = Path(__file__).resolve().parent / "peers"
PROJECT_PYTHON = _venvs.ROOT / ".venv" / "bin" / "python"


@dataclass
class Client:
    key: str  # what --only takes
    label: str
    script: str
    venv: str | None  # None: the project's own .venv
    ours: bool = False
    ceiling: bool = False  # a bare transport loop: a bound for upbit_stream, not a peer
    python: Path | None = None
    versions: str = ""
    failure: str = ""
    runs: list[dict] = field(default_factory=list)


def clients(transport: str) -> list[Client]:
    found = [
        Client("upbit_stream", "upbit_stream", "upbit_stream_client.py", None, ours=True),
        Client("upbit-sdk", "upbit-sdk (official)", "upbit_sdk_client.py", "upbit-sdk"),
        Client("ccxt", "ccxt.pro", "ccxt_client.py", "ccxt"),
        Client("pyupbit", "pyupbit", "pyupbit_client.py", "pyupbit"),
        Client("trio-websocket", "bare trio-websocket + ub.decode", "bare_trio_websocket.py", None,
               ceiling=True),
        Client("websockets-trio", "bare websockets.trio + ub.decode", "bare_websockets_trio.py",
               "websockets-trio", ceiling=True),
    ]
    if transport:  # the same client again, asking for another transport; it needs websockets >= 17
        found.insert(1, Client(f"upbit_stream:{transport}", f"upbit_stream [{transport}]", "upbit_stream_client.py",
                               "websockets-trio", ours=True))
    return found


def fake_exchange(*args: str) -> contextlib.AbstractContextManager[str]:
    """The fake exchange in its own process, on the project's interpreter; yields its public URL."""
    return _fake_process.fake_exchange(*args, python=PROJECT_PYTHON, cwd=_venvs.ROOT)


def measure(client: Client, url: str, opts: argparse.Namespace) -> dict:
    """One fresh client process; its JSON result line, or ``{"error": why}``."""
    assert client.python is not None
    command = [str(client.python), str(HERE / client.script), "--url", url, "--type", opts.type, "--code", opts.code,
               "--warmup", str(opts.warmup), "--seconds", str(opts.seconds)]
    if client.ours and client.venv:
        command += ["--transport", opts.transport]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tempfile.gettempdir(), start_new_session=True)  # no upbit_stream.toml there
    try:
        out, err = proc.communicate(timeout=60 + opts.warmup + opts.seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        return {"error": "timed out"}
    finally:
        try:
            os.killpg(proc.pid, 9)  # a child process the client left behind (pyupbit's), if any
        except ProcessLookupError:
            pass
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = " | ".join(err.strip().splitlines()[-3:])
    return {"error": f"exit {proc.returncode}: {tail or 'no output'}"}


def phase(client: Client, opts: argparse.Namespace, *fake_args: str) -> dict:
    """Measure ``client`` against a fresh fake exchange started with ``fake_args``."""
    try:
        with fake_exchange(*fake_args) as url:
            return measure(client, url, opts)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return {"error": f"fake exchange: {exc}"}


def one_round(chosen: list[Client], opts: argparse.Namespace, number: int) -> None:
    order = chosen[number % len(chosen):] + chosen[:number % len(chosen)]  # rotate: interleave rounds
    for client in order:
        if client.failure:
            continue
        blast = phase(client, opts, "--blast")
        paced = phase(client, opts, "--blast", "--blast-rate", str(opts.rate)) if "error" not in blast else blast
        if "error" in paced:
            client.failure = f"{'throughput' if paced is blast else 'latency'} run failed: {paced['error']}"
            print(f"  round {number + 1} {client.label:<34} FAILED: {client.failure}", flush=True)
            continue
        client.runs.append({"blast": blast, "paced": paced})
        decoded = parsed_per_second(blast)
        fallback = " (transport fallback!)" if "asked for" in blast.get("transport", "") else ""
        print(f"  round {number + 1} {client.label:<34} {decoded:>9,.0f} msg/s decoded, {blast['rate']:>9,.0f} to "
              f"consumer, {blast['cpu_seconds'] / (decoded * blast['seconds']) * 1e6:>6.1f} CPU s/1M; "
              f"p99 {paced.get('p99', float('nan')):>7.2f} ms at {parsed_per_second(paced):,.0f}/s{fallback}",
              flush=True)


def median(client: Client, phase: str, key: str) -> float:
    values = [run[phase][key] for run in client.runs if run[phase].get(key) is not None]
    return statistics.median(values) if values else float("nan")


def parsed_per_second(result: dict) -> float:
    """Messages the client decoded per second; pull-based clients hand every one to the consumer."""
    return result.get("parsed", result["messages"]) / result["seconds"]


def figures(client: Client) -> dict[str, float]:
    decoded = statistics.median(parsed_per_second(r["blast"]) for r in client.runs)
    cpu = statistics.median(r["blast"]["cpu_seconds"] / (parsed_per_second(r["blast"]) * r["blast"]["seconds"]) * 1e6
                            for r in client.runs)
    return {
        "delivered": median(client, "blast", "rate"),
        "decoded": decoded,
        "cpu": cpu,
        "rss": max(max(r["blast"]["peak_rss_mb"], r["paced"]["peak_rss_mb"]) for r in client.runs),
        "paced_delivered": median(client, "paced", "rate"),
        "paced_decoded": statistics.median(parsed_per_second(r["paced"]) for r in client.runs),
        "paced_cpu": median(client, "paced", "cpu_percent"),
        "p50": median(client, "paced", "p50"),
        "p99": median(client, "paced", "p99"),
        "procs": max(r["blast"]["processes"] for r in client.runs),
    }


def report(chosen: list[Client], opts: argparse.Namespace) -> None:
    done = [c for c in chosen if c.runs and not c.failure]
    table = {c.key: figures(c) for c in done}
    print()
    print(f"#### {opts.type} frames for {opts.code}, DEFAULT format; {len(done[0].runs) if done else 0} round(s), "
          f"{opts.seconds:g} s measured after {opts.warmup:g} s warm-up; latency at {opts.rate:,.0f} msg/s offered")
    print()
    print("| client | msg/s decoded (blast) | msg/s to consumer (blast) | CPU s per 1M msgs | p50 ms | p99 ms | "
          "msg/s to consumer at offered rate | CPU at offered rate | peak RSS MB | processes |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for c in done:
        f = table[c.key]
        print(f"| {c.label} | {f['decoded']:,.0f} | {f['delivered']:,.0f} | {f['cpu']:.1f} | {f['p50']:.2f} | "
              f"{f['p99']:.2f} | {f['paced_delivered']:,.0f} | {f['paced_cpu']:.0f} % | {f['rss']:.0f} | {f['procs']} |")
    for c in chosen:
        if c.failure or not c.runs:
            print(f"| {c.label} | failed: {c.failure or 'not run'} | | | | | | | | |")
    ours = [c for c in done if c.ours]
    peers = [c for c in done if not c.ours]
    for us in ours if peers else ():
        mine = table[us.key]
        print()
        print(f"Ratios, {us.label} ÷ peer. Throughput (msgs decoded per second at full speed): higher is better; "
              "CPU per message, p99 latency, peak RSS: lower is better. Target: >= 2x every peer's throughput "
              "with a lower p99.")
        print()
        print("| peer | throughput | CPU per msg | p99 latency | peak RSS | target met? |")
        print("|---|--:|--:|--:|--:|---|")
        for peer in peers:
            theirs = table[peer.key]
            speed, p99 = mine["decoded"] / theirs["decoded"], mine["p99"] / theirs["p99"]
            misses = [f"throughput {speed:.2f}x < 2x" if speed < 2 else "", "p99 not lower" if p99 >= 1 else ""]
            verdict = "yes" if not any(misses) else "no: " + ", ".join(m for m in misses if m)
            if peer.ceiling:
                verdict = "(a bare transport loop: the bound, not a peer)"
            print(f"| {peer.label} | {speed:.2f}x | {mine['cpu'] / theirs['cpu']:.2f}x | {p99:.2f}x | "
                  f"{mine['rss'] / theirs['rss']:.2f}x | {verdict} |")
    print()
    print("Notes:")
    for c in done:
        notes = c.runs[-1]["blast"]
        extra = f" Transport used: {notes['transport']}." if "transport" in notes else ""
        print(f"- **{c.label}** ({c.versions}): {notes['decodes']}.{extra}")
    for c in done:
        f = table[c.key]
        if f["delivered"] < 0.97 * f["decoded"]:
            print(f"- {c.label} decoded {f['decoded']:,.0f} msg/s but handed only {f['delivered']:,.0f}/s to the "
                  "consumer: the rest were conflated or dropped by its cache. Its CPU figure is per message decoded.")
        if f["paced_decoded"] < 0.97 * opts.rate:
            print(f"- {c.label} did not keep up with {opts.rate:,.0f} msg/s offered ({f['paced_decoded']:,.0f}/s "
                  "decoded), so its latency includes a growing backlog.")
    print("- msg/s decoded counts what the client parsed (ccxt.pro: its handle_* calls; upbit_stream: the session's "
          "reader); clients that only decode when the consumer asks (upbit-sdk, pyupbit, the bare loops) count "
          "what reached the consumer.")
    print("- Latency: the fake stamps each frame's `timestamp` with its send time (1 ms resolution, so figures "
          "carry up to 1 ms of truncation); the consumer subtracts it from time.time().")
    print("- Each client runs in a fresh process against a fresh fake exchange process, one client at a time; "
          "on a loaded machine msg/s follows the CPU share a process gets, and CPU s per 1M msgs is the steadier "
          "figure.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run: 1 round, 1.5 s per phase")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="run only this client (repeatable; upbit_stream, upbit-sdk, ccxt, pyupbit, "
                             "trio-websocket, websockets-trio)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3; 1 with --quick)")
    parser.add_argument("--type", choices=("trade", "ticker"), default="trade", help="stream type (default trade)")
    parser.add_argument("--code", default="KRW-BTC", help="market code (default KRW-BTC)")
    parser.add_argument("--rate", type=float, default=5000.0, help="offered msg/s in the latency phase (default 5000)")
    parser.add_argument("--transport", default="",
                        help="also run upbit_stream with [connection] transport = NAME (in the websockets-trio venv)")
    opts = parser.parse_args()
    opts.rounds = opts.rounds or (1 if opts.quick else 3)
    opts.warmup, opts.seconds = (0.5, 1.5) if opts.quick else (1.0, 4.0)

    chosen = clients(opts.transport)
    if opts.only:
        unknown = [name for name in opts.only if name not in {c.key for c in chosen}]
        if unknown:
            parser.error(f"unknown client {', '.join(unknown)}; choose from {', '.join(c.key for c in chosen)}")
        chosen = [c for c in chosen if c.key in opts.only]
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; Python {sys.version.split()[0]}; "
          f"fresh fake exchange process per client per phase")
    for client in chosen:
        try:
            if client.venv is None:
                if not PROJECT_PYTHON.exists():
                    raise RuntimeError(f"{PROJECT_PYTHON} is missing: run ./scripts/dev.sh true first")
                client.python = PROJECT_PYTHON
                names: tuple[str, ...] = ("upbit-stream", "websockets", "trio-websocket", "wsproto", "msgspec")
            else:
                venv = _venvs.VENVS[client.venv]
                client.python = _venvs.ensure(venv)
                names = venv.show
            client.versions = _venvs.versions(client.python, names)
            print(f"  {client.label:<34} {client.versions}")
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            client.failure = f"could not install: {exc}"
            print(f"  {client.label:<34} SKIPPED, {client.failure}")
    for number in range(opts.rounds):
        one_round(chosen, opts, number)
    report(chosen, opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
