"""upbit_stream side by side with the Upbit clients users would otherwise pick, on the same frames.

Every client runs in its own process (and, for the peers, its own virtual environment under
``.peers/<name>/``, created here on first use) against a fresh fake exchange in blast mode
(``python -m upbit_stream serve --blast``), one after another, rounds interleaved. Two phases each:

* throughput: the fake sends as fast as TCP takes them; messages per second reaching the consumer
  (and decoded), CPU microseconds per message decoded (client process tree, user + system), peak RSS;
* latency: the fake paces ``--rate`` frames per second stamped with their send time; p50 / p99
  from that stamp to the consumer (1 ms resolution, same host clock).

upbit_stream runs three ways: ``async for event in subscription`` (DEFAULT format), the batch API
(``async for batch in subscription.batches()``) and ``async for`` on SIMPLE-format frames. The
bare loops (upbit_stream's own websockets wire, trio-websocket, websockets.trio, each with
``ub.decode``) are ceilings, not peers.

Each round starts with the machine's load average and a 1 s sample of what other processes keep
busy; during the round, a sampler measures the CPU used outside this benchmark's process tree.
A round with a load average over 0.75 × cores at its start, or with other processes using more
than 0.25 × cores during it, is flagged and left out of the medians (unless every round is).

    python benchmarks/compare_peers.py [--quick] [--only NAME ...] [--rounds N] [--transport NAME]

Per round: each client's figures and each ratio upbit_stream ÷ peer; then medians over the rounds
with their spread (min–max). Ratios come from this run only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _fake_process
from peers import _load, _report, _venvs
from peers._report import Client, Round

HERE = Path(__file__).resolve().parent / "peers"
PROJECT_PYTHON = _venvs.ROOT / ".venv" / "bin" / "python"


def clients(transport: str) -> list[Client]:
    found = [
        Client("upbit_stream", "upbit_stream, async for", "upbit_stream_client.py", None, ours=True),
        Client("upbit_stream:batches", "upbit_stream, batches()", "upbit_stream_client.py", None, ours=True,
               args=("--batch",)),
        Client("upbit_stream:simple", "upbit_stream, async for, SIMPLE", "upbit_stream_client.py", None, ours=True,
               args=("--format", "SIMPLE")),
        Client("upbit-sdk", "upbit-sdk (official)", "upbit_sdk_client.py", "upbit-sdk"),
        Client("ccxt", "ccxt.pro", "ccxt_client.py", "ccxt"),
        Client("pyupbit", "pyupbit", "pyupbit_client.py", "pyupbit"),
        Client("upbit_stream-wire", "bare upbit_stream wire + ub.decode", "bare_upbit_stream_wire.py", None,
               ceiling=True),
        Client("trio-websocket", "bare trio-websocket + ub.decode", "bare_trio_websocket.py", None,
               ceiling=True),
        Client("websockets-trio", "bare websockets.trio + ub.decode", "bare_websockets_trio.py",
               "websockets-trio", ceiling=True),
    ]
    if transport:  # the same client again, asking for another transport; it needs websockets >= 17
        found.insert(3, Client(f"upbit_stream:{transport}", f"upbit_stream [{transport}], async for",
                               "upbit_stream_client.py", "websockets-trio", ours=True,
                               args=("--transport", transport)))
    return found


def fake_exchange(*args: str) -> contextlib.AbstractContextManager[str]:
    """The fake exchange in its own process, on the project's interpreter; yields its public URL."""
    return _fake_process.fake_exchange(*args, python=PROJECT_PYTHON, cwd=_venvs.ROOT)


def measure(client: Client, url: str, opts: argparse.Namespace, latency: bool) -> dict:
    """One fresh client process; its JSON result line, or ``{"error": why}``."""
    assert client.python is not None
    command = [str(client.python), str(HERE / client.script), "--url", url, "--type", opts.type, "--code", opts.code,
               "--warmup", str(opts.warmup), "--seconds", str(opts.seconds), *client.args]
    if latency:
        command.append("--latency")
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
    """Measure ``client`` against a fresh fake exchange started with ``fake_args`` (paced: with latencies)."""
    try:
        with fake_exchange(*fake_args) as url:
            return measure(client, url, opts, latency="--blast-rate" in fake_args)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return {"error": f"fake exchange: {exc}"}


def one_round(chosen: list[Client], opts: argparse.Namespace, number: int) -> Round:
    load, idle = os.getloadavg()[0], _load.idle_busy(1.0)
    print(f"round {number + 1}: load average {load:.2f} at start ({os.cpu_count()} cores); other processes "
          f"keep {idle:.2f} cores busy", flush=True)
    order = chosen[number % len(chosen):] + chosen[:number % len(chosen)]  # rotate: interleave rounds
    with _load.OthersSampler() as others:
        for client in order:
            if client.failure:
                continue
            blast = phase(client, opts, "--blast")
            paced = phase(client, opts, "--blast", "--blast-rate", str(opts.rate)) if "error" not in blast else blast
            if "error" in paced:
                client.failure = f"{'throughput' if paced is blast else 'latency'} run failed: {paced['error']}"
                print(f"  round {number + 1} {client.label:<36} FAILED: {client.failure}", flush=True)
                continue
            client.runs[number] = {"blast": blast, "paced": paced}
            f = _report.run_figures(client.runs[number])
            fallback = " (transport fallback!)" if "asked for" in blast.get("transport", "") else ""
            print(f"  round {number + 1} {client.label:<36} {f['rate']:>9,.0f} msg/s to consumer, "
                  f"{f['decoded']:>9,.0f} decoded, {f['cpu_us']:>5.1f} CPU µs/msg; p99 {f['p99']:>6.2f} ms at "
                  f"{f['paced_rate']:,.0f}/s; peak RSS {f['rss']:.0f} MB{fallback}", flush=True)
    done = Round(number, load, idle, others.cores)
    flag = done.flagged(os.cpu_count() or 1)
    print(f"  round {number + 1}: other processes used {done.others:.2f} cores meanwhile"
          f"{f'; WARNING: {flag}' if flag else ''}", flush=True)
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run: 1 round, 1.5 s per phase")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="run only this client (repeatable; upbit_stream, upbit_stream:batches, "
                             "upbit_stream:simple, upbit-sdk, ccxt, pyupbit, upbit_stream-wire, trio-websocket, "
                             "websockets-trio)")
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
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; Python {sys.version.split()[0]}; "
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
            print(f"  {client.label:<36} {client.versions}")
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            client.failure = f"could not install: {exc}"
            print(f"  {client.label:<36} SKIPPED, {client.failure}")
    rounds = [one_round(chosen, opts, number) for number in range(opts.rounds)]
    _report.report(chosen, rounds, opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
