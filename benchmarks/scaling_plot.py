"""Plots of ``scaling.py``'s results: one PNG per curve, beside the JSON (needs matplotlib only).

    .peers/bench-plot/bin/python benchmarks/scaling_plot.py benchmarks/results/scaling.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402


def plot(path: Path) -> None:
    result = json.loads(path.read_text())
    info = result["machine"]
    loads = [p["load1"] for curve in result["curves"].values() for p in curve]
    where = (f"{info['cpus']}-core {info['cpu_model'] or 'machine'}, shared with other jobs: noisy "
             f"(1-min load {min(loads):.1f}–{max(loads):.1f}); one run {result['date'][:10]}, "
             f"{result['seconds_per_point']:g} s per point; ticker frames of ~900 B")
    curves = result["curves"]
    plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")

    def axis(ax: Any, xlabel: str, ylabel: str, title: str, *, ylog: bool = False, ylim: Any = None,
             xsubs: tuple[float, ...] = (1.0, 2.0, 5.0)) -> None:
        ax.set(xscale="log", xlabel=xlabel, ylabel=ylabel, title=title)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=xsubs))
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(NullFormatter())
        if ylog:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.yaxis.set_major_formatter(plain)
            ax.set_ylim(ylim if ylim is not None else (0, None))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)

    def save(fig: Any, title: str, name: str) -> None:
        fig.suptitle(f"{title}\n{where}", fontsize=10)
        fig.tight_layout()
        fig.savefig(path.parent / name, dpi=110)
        plt.close(fig)

    def latency(ax: Any, xs: list[float], points: list[dict[str, Any]], color: str, label: str) -> None:
        ax.plot(xs, [p["latency_p50_ms"] for p in points], "o-", color=color, label=f"p50{label}")
        ax.plot(xs, [p["latency_p99_ms"] for p in points], "s--", color=color, label=f"p99{label}")

    rate = result["fixed_rate"]
    blue, orange, grey = "tab:blue", "tab:orange", "tab:grey"

    # 1. codes
    points = curves["codes"]
    xs = [p["codes"] for p in points]
    xlabel = "codes subscribed (ticker, one subscriber)"
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    axes[0].plot(xs, [p["delivered_rate"] for p in points], "o-", color=blue, label="delivered to the consumer")
    axes[0].axhline(rate, color=grey, ls=":", label="offered")
    axis(axes[0], xlabel, "messages / s", "throughput", ylim=(0, rate * 1.25))
    latency(axes[1], xs, points, blue, "")
    axis(axes[1], xlabel, "send → consumer latency (ms, log)", "latency", ylog=True)
    axes[2].plot(xs, [p["cpu_us_per_delivery"] for p in points], "o-", color=blue, label="client CPU per message")
    axis(axes[2], xlabel, "client CPU µs / message", "cost per message")
    save(fig, f"upbit_stream session vs number of codes: {rate:,.0f} msg/s offered, round-robin over the codes",
         "scaling_codes.png")

    # 2. subscribers
    distinct, same = curves["subscribers_distinct"], curves["subscribers_same"]
    xs = [p["subscribers"] for p in distinct]
    xlabel = "registered subscribers"
    own_label, same_label = "each on its own code (1 receives each frame)", "all on one code (all receive)"
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    axes[0].plot(xs, [p["cpu_us_per_frame"] for p in distinct], "o-", color=blue, label=own_label)
    axes[0].plot(xs, [p["cpu_us_per_frame"] for p in same], "s-", color=orange, label=same_label)
    axis(axes[0], xlabel, "client CPU µs / frame from the wire (log)", "cost per frame", ylog=True, xsubs=(1.0,))
    axes[1].plot(xs, [p["cpu_us_per_delivery"] for p in distinct], "o-", color=blue, label=own_label)
    axes[1].plot(xs, [p["cpu_us_per_delivery"] for p in same], "s-", color=orange, label=same_label)
    axis(axes[1], xlabel, "client CPU µs / delivery", "cost per delivery", xsubs=(1.0,))
    latency(axes[2], xs, distinct, blue, ", own code")
    latency(axes[2], xs, same, orange, ", one code")
    axis(axes[2], xlabel, "send → consumer latency (ms, log)", "latency of every delivery", ylog=True,
         xsubs=(1.0,))
    save(fig, f"upbit_stream session vs number of subscribers: own code = {rate:,.0f} frames/s on one of the N codes; "
              f"one code = {rate:,.0f}/N frames/s, each to all N", "scaling_subscribers.png")

    # 3. offered rate
    def paced(name: str) -> list[dict[str, Any]]:
        return [p for p in curves[name] if p["offered_rate"]]

    def unpaced(name: str) -> dict[str, Any] | None:
        return next((p for p in curves[name] if not p["offered_rate"]), None)

    session_points, bare_points = paced("rate"), paced("rate_bare")
    xs = [p["offered_rate"] for p in session_points]
    xlabel = "offered msg/s (paced)"
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    axes[0].plot(xs, xs, color=grey, ls=":", label="offered")
    axes[0].plot(xs, [p["delivered_rate"] for p in session_points], "o-", color=blue, label="session → consumer")
    axes[0].plot(xs, [p["delivered_rate"] for p in bare_points], "^-", color=orange, alpha=0.8,
                 label="bare trio-websocket + ub.decode")
    for name, color, what in (("rate", blue, "session"), ("rate_bare", orange, "bare")):
        top = unpaced(name)
        if top:
            axes[0].axhline(top["delivered_rate"], color=color, ls="--", alpha=0.5,
                            label=f"{what}, unpaced sender: {top['delivered_rate']:,.0f}/s")
    axis(axes[0], xlabel, "messages / s (log)", "throughput", ylog=True)
    latency(axes[1], xs, session_points, blue, ", session")
    latency(axes[1], xs, bare_points, orange, ", bare")
    axis(axes[1], xlabel, "send → consumer latency (ms, log)", "latency", ylog=True)
    axes[2].plot(xs, [p["client_cpu_percent"] for p in session_points], "o-", color=blue, label="session client")
    axes[2].plot(xs, [p["client_cpu_percent"] for p in bare_points], "^-", color=orange, alpha=0.8,
                 label="bare client")
    axes[2].axhline(100, color=grey, ls=":", label="one core")
    axis(axes[2], xlabel, "client process CPU (% of one core)", "client CPU", ylim=(0, 110))
    save(fig, f"upbit_stream session vs offered rate: one subscriber, ticker on {result['rate_codes']} codes",
         "scaling_rate.png")


if __name__ == "__main__":
    plot(Path(sys.argv[1]))
