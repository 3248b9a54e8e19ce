"""``upbit-stream demo`` and ``watch ticker|orderbook|trade`` against the fake exchange, in a pipe and on a terminal."""

from __future__ import annotations

import re
import signal
from decimal import Decimal

import pytest

from cli_helpers import Concurrently, TerminalScreen, colours, interrupt_when_running, run_cli, run_in_pty, serve

PRICE = r"[\d,]+(?:\.\d+)?"
TAPE_LINE = re.compile(
    rf"(\d\d:\d\d:\d\d\.\d{{3}}) +(\S+) +(BUY|SELL) +({PRICE}) +({PRICE})(  \(last before start\))?$")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every scenario of this module, started at once against one fake exchange (``serve``)."""
    here = tmp_path_factory.mktemp("watch")
    with serve("--rate", "300", "--seed", "9", cwd=here) as url:
        jobs = Concurrently()
        jobs.url = url
        jobs.start("demo", run_cli, "demo", "--seconds", "1.5", cwd=here)
        jobs.start("ticker", run_cli, "watch", "ticker", "KRW-BTC", "KRW-ETH", "--url", url, "--seconds", "1.2",
                   cwd=here)
        jobs.start("orderbook", run_cli, "watch", "orderbook", "KRW-BTC", "--depth", "5", "--url", url,
                   "--seconds", "1.2", cwd=here)
        jobs.start("trade", run_cli, "watch", "trade", "KRW-BTC", "KRW-ETH", "--url", url, "--seconds", "1.5", cwd=here)
        jobs.start("tty orderbook", run_in_pty, ["watch", "orderbook", "KRW-BTC", "--depth", "5", "--url", url,
                                                 "--seconds", "1"], here)
        jobs.start("tty orderbook NO_COLOR", run_in_pty, ["watch", "orderbook", "KRW-BTC", "--depth", "5", "--url",
                                                          url, "--seconds", "1"], here, NO_COLOR="1")
        jobs.start("tty narrow ticker", run_in_pty, ["watch", "ticker", "KRW-BTC", "KRW-ETH", "--url", url,
                                                     "--seconds", "1"], here, size=(10, 40))
        jobs.start("tty narrow trade", run_in_pty, ["watch", "trade", "KRW-BTC", "--url", url, "--seconds", "1"], here,
                   size=(24, 40))
        jobs.start("tty dumb ticker", run_in_pty, ["watch", "ticker", "KRW-BTC", "--url", url, "--seconds", "1.2"],
                   here, TERM="dumb")
        jobs.start("tty trade NO_COLOR", run_in_pty, ["watch", "trade", "KRW-BTC", "--url", url, "--seconds", "1"],
                   here, NO_COLOR="1")
        jobs.start("tty ticker Ctrl-C", run_in_pty, ["watch", "ticker", "KRW-BTC", "--url", url], here,
                   signum=signal.SIGINT, once="KRW-BTC")
        jobs.start("demo Ctrl-C", interrupt_when_running, "demo", cwd=here)
        jobs.start("trade Ctrl-C", interrupt_when_running, "watch", "trade", "KRW-BTC", "--url", url, cwd=here)
        try:
            yield jobs
        finally:
            jobs.close()


def _last_frame(stdout: str) -> list[str]:
    """The last table printed (frames are separated by blank lines when not on a terminal)."""
    frames = [f for f in stdout.split("\n\n") if f.strip()]
    return frames[-1].splitlines()


def test_demo_runs_offline_and_stops_after_seconds(runs):
    done = runs.result("demo")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout  # not a terminal: no colours, no cursor movement
    lines = _last_frame(done.stdout)
    assert lines[0].startswith("upbit-stream demo — fake exchange at ws://127.0.0.1:")
    rows = {line.split()[0]: line.split() for line in lines[2:-1]}
    assert set(rows) == {"KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "BTC-ETH", "USDT-BTC"}
    for code, (_, price, change, volume, age) in rows.items():
        assert Decimal(price.replace(",", "")) > 0 and re.fullmatch(r"[+-]\d+\.\d\d%", change), code
        assert re.fullmatch(PRICE, volume) and re.fullmatch(r"\d+\.\ds", age), code
    assert re.fullmatch(r"\d+ tickers received; healthy", lines[-1])


def test_watch_ticker_shows_every_code(runs):
    done = runs.result("ticker")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    lines = _last_frame(done.stdout)
    assert lines[0] == f"upbit-stream watch ticker — {runs.url}"
    assert lines[1].split() == ["code", "price", "change", "24h", "volume", "age"]
    assert [line.split()[0] for line in lines[2:4]] == ["KRW-BTC", "KRW-ETH"]
    assert all(re.fullmatch(rf"\S+ +{PRICE} +[+-]\d+\.\d\d% +{PRICE} +\d+\.\ds", line) for line in lines[2:4]), lines
    assert re.fullmatch(r"\d+ tickers received; healthy", lines[-1])


def test_watch_orderbook_ladder(runs):
    done = runs.result("orderbook")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    lines = _last_frame(done.stdout)
    spread_at = next(i for i, line in enumerate(lines) if "spread" in line)
    asks, bids = lines[2:spread_at], lines[spread_at + 1: spread_at + 6]
    assert len(asks) == 5 and len(bids) == 5
    ask_prices = [Decimal(line.split()[-1].replace(",", "")) for line in asks]
    bid_prices = [Decimal(line.split()[0].replace(",", "")) for line in bids]
    assert ask_prices == sorted(ask_prices, reverse=True) and bid_prices == sorted(bid_prices, reverse=True)
    spread = Decimal(re.search(rf"spread +({PRICE})", lines[spread_at]).group(1).replace(",", ""))
    assert ask_prices[-1] - bid_prices[0] == spread > 0
    assert re.match(r"imbalance [+-]\d\.\d\d", lines[spread_at + 6])


def test_watch_trade_tape(runs):
    done = runs.result("trade")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    lines = done.stdout.splitlines()
    assert lines[1].split() == ["time", "code", "side", "price", "volume"]
    trades = [TAPE_LINE.match(line) for line in lines[2:]]
    assert all(trades), lines
    assert len(trades) >= 5 and {m.group(2) for m in trades} <= {"KRW-BTC", "KRW-ETH"}
    assert {m.group(3) for m in trades} == {"BUY", "SELL"}


def test_a_terminal_shows_one_frame_repainted_in_place_in_korean_colours(runs):
    status, output = runs.result("tty orderbook")
    assert status == 0
    assert colours(output) == {"red", "blue"}  # bids red, asks blue
    screen = TerminalScreen(output)
    shown = screen.text()
    assert shown[0].startswith("upbit-stream watch orderbook — ws://") and "ask size" in shown[1]
    assert sum("spread" in row for row in shown + screen.scrolled) == 1  # each frame over the last, none after it
    assert output.count("spread") > 2 and screen.cursor_visible and screen.wrapped == 0


def test_no_color_and_a_dumb_terminal_get_no_colours(runs):
    status, output = runs.result("tty orderbook NO_COLOR")
    assert status == 0 and "spread" in TerminalScreen(output).text()[7]
    assert colours(output) == set()
    status, output = runs.result("tty trade NO_COLOR")
    assert status == 0 and "KRW-BTC" in output
    assert colours(output) == set()
    status, output = runs.result("tty dumb ticker")  # cannot move the cursor: frame after frame, plain text
    assert status == 0 and "\x1b" not in output
    frames = [f for f in output.replace("\r\n", "\n").split("\n\n") if f.strip()]
    assert len(frames) >= 2 and all(f.splitlines()[2].startswith("KRW-BTC") for f in frames)


def test_a_narrow_terminal_cuts_lines_instead_of_wrapping_them(runs):
    status, output = runs.result("tty narrow ticker")  # 40 columns, 10 lines
    assert status == 0
    screen = TerminalScreen(output, 10, 40)
    shown = screen.text()
    assert screen.wrapped == 0 and screen.scrolled == [] and all(len(row) <= 40 for row in shown)
    assert shown[0].endswith("…") and shown[1].split()[:3] == ["code", "price", "change"]
    assert [row.split()[0] for row in shown[2:4]] == ["KRW-BTC", "KRW-ETH"]
    assert re.fullmatch(r"\d+ tickers received; healthy — Ctrl-C t…", shown[4])
    status, output = runs.result("tty narrow trade")
    screen = TerminalScreen(output, 24, 40)
    assert status == 0 and screen.wrapped == 0
    rows = [row for row in screen.scrolled + screen.text() if row.startswith(tuple("0123456789"))]
    assert len(rows) >= 3 and all(len(row) == 40 and row.endswith("…") for row in rows)  # cut in the volume
    assert colours(output) == {"red", "blue"}


def test_ctrl_c_on_a_terminal_exits_130_and_restores_the_cursor(runs):
    status, output = runs.result("tty ticker Ctrl-C")
    assert status == 130
    assert "KRW-BTC" in output and "Traceback" not in output
    assert "\x1b[?25l" in output and output.rstrip().endswith("\x1b[?25h")
    assert TerminalScreen(output).cursor_visible


@pytest.mark.parametrize("name", ["demo Ctrl-C", "trade Ctrl-C"])
def test_ctrl_c_in_a_pipe_exits_130_quietly(runs, name):
    status, out, err = runs.result(name)
    assert status == 130 and err == ""
    assert "KRW-BTC" in out
