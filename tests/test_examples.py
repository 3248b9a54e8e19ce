"""Every example runs against the fake exchange in a subprocess and shows what its docstring promises."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 90  # generous: all runs share two cores with the rest of the suite

PARALLEL = 4  # examples running at once: enough to finish fast, few enough not to starve each other
# name -> argv after the script. The module fixture queues them all; each test awaits its own.
RUNS = {
    "ticker": ["ticker_printer.py", "--fake", "--seconds", "2"],
    "shared": ["shared_session.py", "--fake", "--seconds", "3"],
    "orderbook": ["orderbook_monitor.py", "--fake", "--seconds", "2"],
    "bars": ["trade_bars.py", "--fake", "--seconds", "3.5", "--drop-at", "1.2"],
    "private": ["private_account.py", "--fake", "--seconds", "3"],
    "snapshot": ["snapshot_prices.py", "--fake", "--seconds", "10"],
    "snapshot_slow": ["snapshot_prices.py", "--fake", "--timeout", "0.3", "--fake-delay", "0.6", "KRW-BTC", "KRW-ETH"],
    "record": ["record_sample.py", "--fake", "--seconds", "2", "-o", "recorded.jsonl"],
    "backtest": ["backtest_replay.py", "--fake-record", "2"],
    "no_keys": ["private_account.py", "--seconds", "5"],  # real Upbit path: fails before any network use
    "listing": ["listing_alert.py", "--fake", "--seconds", "3"],
    "rsi": ["rsi_signal.py", "--fake", "--seconds", "6"],
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UPBIT_", "PYTHONSTARTUP"))}
    return env


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(EXAMPLES / argv[0]), *argv[1:]], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    proc = _start(argv, cwd)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("examples")


@pytest.fixture(scope="module")
def runs(cwd: Path):
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures: dict[str, Future[tuple[int, str, str]]] = {
            name: pool.submit(_run, argv, cwd) for name, argv in RUNS.items()}
        yield futures
        for future in futures.values():
            future.cancel()


def ok(runs, name: str) -> str:
    code, out, err = runs[name].result()
    assert code == 0, f"{RUNS[name]} exited {code}\nstdout:\n{out}\nstderr:\n{err}"
    assert "Traceback" not in err, err
    return out


def test_ticker_printer_prints_a_snapshot_then_live_prices(runs):
    out = ok(runs, "ticker")
    rows = re.findall(r"^\S+  (KRW-\w+)\s+([\d,.]+)\s+[+-]\d+\.\d\d%.*\[(SNAPSHOT|REALTIME)\]$", out, re.MULTILINE)
    snapshots = [code for code, _, kind in rows if kind == "SNAPSHOT"]
    assert sorted(snapshots) == ["KRW-BTC", "KRW-ETH", "KRW-SOL", "KRW-XRP"]
    assert sum(kind == "REALTIME" for *_, kind in rows) >= 5
    first_realtime = next(i for i, row in enumerate(rows) if row[2] == "REALTIME")
    assert all(kind == "SNAPSHOT" for *_, kind in rows[:first_realtime])


def test_ctrl_c_stops_cleanly_without_a_traceback(tmp_path):
    proc = _start(["ticker_printer.py", "--fake", "--seconds", "60"], tmp_path)
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if "[REALTIME]" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "stopped (Ctrl-C)" in err and "Traceback" not in err, err


def test_sigterm_stops_like_ctrl_c_but_exits_0_after_the_summary(tmp_path):
    proc = _start(["trade_bars.py", "--fake", "--seconds", "60s"], tmp_path)  # durations as the CLI takes them
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("bar "):
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped (SIGTERM)" in err and "Traceback" not in err, err


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    code, out, err = _run(["ticker_printer.py", "--fake", "krw-btc"], tmp_path)
    assert code == 2 and err.strip() == "error: codes are upper-case, like 'KRW-BTC': got 'krw-btc'", err
    code, out, err = _run(["ticker_printer.py", "--seconds", "soon"], tmp_path)
    assert code == 2 and "not a duration: 'soon'" in err and "Traceback" not in err


def test_two_components_share_one_public_connection(runs):
    out = ok(runs, "shared")
    assert re.search(r"^chart   KRW-BTC [▁▂▃▄▅▆▇█]+ +[\d,]+  1s candle \d\d:\d\d:\d\d O [\d,]+ H", out, re.MULTILINE)
    assert re.search(r"^stats   2 subscriptions, connections: public connected, private idle, info idle;", out, re.MULTILINE)
    streamed = re.search(r"^server  streams on that one connection: (.*)$", out, re.MULTILINE)
    assert streamed and sorted(streamed[1].split("; ")) == ["candle.1s KRW-BTC", "ticker KRW-BTC", "trade KRW-BTC"]
    assert "fake    public connections open at the exchange: 1" in out


def test_orderbook_monitor_computes_spread_and_imbalance(runs):
    out = ok(runs, "orderbook")
    rows = re.findall(r"^(KRW-\w+)\s+bid\s+([\d,]+) \| ask\s+([\d,]+)\s+spread ([\d,]+) \(([\d.]+) bp\)"
                      r"\s+imbalance ([+-][\d.]+)\s+depth 15:", out, re.MULTILINE)
    assert {row[0] for row in rows} == {"KRW-BTC", "KRW-ETH", "KRW-XRP"}
    for _, bid, ask, spread, bps, imbalance in rows:
        bid, ask, spread = (Decimal(x.replace(",", "")) for x in (bid, ask, spread))
        assert ask - bid == spread > 0
        assert Decimal(bps) == (spread / ((ask + bid) / 2) * 10_000).quantize(Decimal("0.01"))
        assert -1 <= Decimal(imbalance) <= 1


def test_trade_bars_are_consistent_and_flag_the_reconnect(runs):
    out = ok(runs, "bars")
    bars = re.findall(r"^bar (KRW-\w+)\s+(\d\d:\d\d:\d\d)  O ([\d,]+) H ([\d,]+) L ([\d,]+) C ([\d,]+)  "
                      r"V ([\d.]+)  n=(\d+)  VWAP ([\d,.]+)(.*)$", out, re.MULTILINE)
    assert len(bars) >= 3, out
    for _code, _second, *prices, volume, count, vwap, _flags in bars:
        open_, high, low, close, vwap = (Decimal(x.replace(",", "")) for x in (*prices, vwap))
        assert low <= min(open_, close) and max(open_, close) <= high and low <= vwap <= high
        assert Decimal(volume) > 0 and int(count) >= 1
    assert len({(code, second) for code, second, *_ in bars}) == len(bars)  # one bar per code and second
    assert out.count("(not counted)") == 4  # a SNAPSHOT per code at the start and after the reconnect
    assert re.search(r"^gap: trades may be missing", out, re.MULTILINE)
    assert any("incomplete: reconnected during it" in rest for *_, rest in bars)


def test_private_streams_show_orders_and_assets(runs):
    out = ok(runs, "private")
    lines = [line for line in out.splitlines() if line.startswith(("myOrder", "myAsset"))]
    states = [line.split()[4] for line in lines if line.startswith("myOrder")]
    assert states == ["wait", "trade", "trade", "done", "wait", "cancel"]
    assert "filled 0.0005 @ " in out and "filled 0.0015 @ " in out
    assert lines[0] == "myAsset KRW 101,000,000 (locked 0)"  # the fake's 100,000,000 plus the deposit
    assert lines[-1] == "myAsset BTC 1.002 (locked 0)"  # the fake's 1 BTC plus the 0.002 bought


def test_private_streams_without_keys_fail_with_a_clear_message(runs):
    code, _, err = runs["no_keys"].result()
    assert code == 1
    assert "UPBIT_ACCESS_KEY" in err and "Traceback" not in err


def test_snapshot_gives_every_price_in_one_call(runs):
    out = ok(runs, "snapshot")
    rows = re.findall(r"^([A-Z]+-[A-Z]+)\s+([\d,.]+)\s+[+-]\d+\.\d\d%", out, re.MULTILINE)
    assert len(rows) == 14 and {"KRW-BTC", "BTC-ETH", "USDT-BTC"} <= {code for code, _ in rows}


def test_snapshot_timeout_is_explained_and_retried(runs):
    out = ok(runs, "snapshot_slow")
    assert "no snapshot within 0.3 s for KRW-BTC, KRW-ETH; keeping the 0 that came, retrying the rest" in out
    assert len(re.findall(r"^KRW-(BTC|ETH)\s+[\d,]+", out, re.MULTILINE)) == 2


def _summary(out: str) -> tuple[int, int, int]:
    found = re.search(r"^summary: (\d+) of (\d+) trades replayed; MA 5/20, (\d+) fills$", out, re.MULTILINE)
    assert found, out
    return int(found[1]), int(found[2]), int(found[3])


def test_recording_replays_into_a_backtest(runs, cwd, tmp_path):
    out = ok(runs, "record")
    path = cwd / "recorded.jsonl"
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert entries and f"recorded {len(entries)} frames" in out
    assert all(set(e) == {"t", "endpoint", "frame"} and e["endpoint"] == "public" for e in entries)
    live = sum('"stream_type":"REALTIME"' in e["frame"] for e in entries)
    code, out, err = _run(["backtest_replay.py", str(path)], tmp_path)
    assert code == 0, err
    assert _summary(out)[:2] == (live, live) and live > 20


def test_backtest_records_the_fake_itself_and_counts_exact_pnl(runs):
    out = ok(runs, "backtest")
    seen, recorded, fills = _summary(out)
    assert seen == recorded > 20
    per_code = re.findall(r"^  (KRW-\w+)\s+(\d+) fills  fees ([\d,.]+)  P&L ([+-][\d,.]+)", out, re.MULTILINE)
    assert sum(int(n) for _, n, *_ in per_code) == fills
    total = re.search(r"^  total P&L ([+-][\d,.]+) KRW, exact", out, re.MULTILINE)
    assert total and sum(Decimal(p.replace(",", "")) for *_, p in per_code) == Decimal(total[1].replace(",", ""))


def test_every_example_is_listed_documented_and_tested():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
    readme = (EXAMPLES / "README.md").read_text()
    tested = {argv[0] for argv in RUNS.values()}
    for name in scripts:
        source = (EXAMPLES / name).read_text()
        command = f"pytest examples/{name}" if name.startswith("test_") else f"python examples/{name}"
        assert source.startswith('"""') and command in source, name
        assert command in readme, name
        assert name in tested or name == "test_my_strategy.py", name  # that one: the test below


def test_the_offline_testing_example_runs_and_is_the_readme_section():
    path = EXAMPLES / "test_my_strategy.py"
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- examples/test_my_strategy.py: start -->\n```python\n", "```\n<!-- examples/test_my_strategy.py: end -->"
    assert readme[readme.index(start) + len(start):readme.index(end)] == path.read_text(encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
                         capture_output=True, text=True, timeout=TIMEOUT, env=_env(), cwd=EXAMPLES.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_listing_alert_prints_trade_notices_only_new_then_updated(runs):
    out = ok(runs, "listing")
    alerts = [line for line in out.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] + "]" for line in alerts] == ["[NEW]", "[UPDATED]"], out
    assert all("[거래]" in line for line in alerts) and "[입출금]" not in out  # the wallet notice is filtered out
    assert re.search(r"received [\d,]+ ms after Upbit", out)


def test_rsi_signal_fires_once_per_crossing_with_the_value_of_that_close(runs):
    out = ok(runs, "rsi")
    values = [float(m[1]) for m in re.finditer(r"^value  KRW-BTC 5m candle \S+: RSI +([\d.]+)$", out, re.MULTILINE)]
    signals = re.findall(r"^SIGNAL KRW-BTC 5m candle (\S+): (\w+) \(RSI +([\d.]+)\)$", out, re.MULTILINE)
    assert [trigger for _, trigger, _ in signals] == ["overbought", "oversold"], out
    assert max(values) > 80 and min(values) < 30  # no repeat while RSI stayed past the threshold
    for candle, trigger, rsi in signals:  # each signal comes with its close's value, which crossed the line
        assert f"value  KRW-BTC 5m candle {candle}: RSI {float(rsi):6.2f}" in out
        assert (float(rsi) >= 70) if trigger == "overbought" else (float(rsi) <= 30)
