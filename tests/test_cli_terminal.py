"""The views as a terminal shows them (rich, driven through a Console of a chosen size) and as a pipe gets them."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
import trio
from rich.console import Console

import upbit_stream as ub
from upbit_stream._cli.main import DEMO_CODES
from upbit_stream._cli.terminal import Terminal
from upbit_stream._cli.watch import watch_tickers
from upbit_stream._cli.watch_book import watch_orderbook
from upbit_stream._cli.watch_info import render_announcement
from upbit_stream._cli.watch_tape import TAPE_HEADER, watch_trades
from upbit_stream.testing import FakeUpbit, open_fake_upbit

from cli_helpers import REPO, TerminalScreen, colours

NOTICE = ub.Announcement(event_type=ub.AnnouncementEventType.CREATED, uuid="1", title="[거래] 신규 거래 지원 안내",
                         category=ub.AnnouncementCategory.TRADE, url="https://upbit.com/n?id=1",
                         first_listed_at="2026-07-14T16:36:34+09:00", listed_at="2026-07-14T16:36:34+09:00",
                         timestamp=1, stream_type=ub.StreamType.REALTIME)


@pytest.fixture(autouse=True)
def _colour_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich reads these when a Console is made; a test that wants one sets it."""
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)


def terminal(width: int, height: int = 24) -> Console:
    """A colour terminal of ``width`` × ``height`` that writes into memory."""
    return Console(file=io.StringIO(), force_terminal=True, force_interactive=True, width=width, height=height,
                   color_system="standard")


def written(console: Console) -> str:
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


@pytest.fixture
async def market() -> AsyncIterator[FakeUpbit]:
    async with open_fake_upbit(rate=300, seed=1) as fake:
        yield fake


def settings(fake: FakeUpbit) -> ub.Settings:
    return ub.Settings().evolve(connection={"public_url": fake.public_url})


def test_import_upbit_stream_leaves_rich_out() -> None:
    probe = "import upbit_stream, sys; assert 'rich' not in sys.modules; import upbit_stream._cli.main; " \
            "assert 'rich' not in sys.modules, 'the command line imports rich before drawing'"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


async def test_the_ticker_table_fits_a_40_column_terminal_in_korean_colours(market: FakeUpbit) -> None:
    console = terminal(40)
    assert await watch_tickers(DEMO_CODES, settings(market), seconds=1.5, out=console, title="a title " * 10) == 0
    output = written(console)
    screen = TerminalScreen(output, 24, 40)
    shown = screen.text()
    assert screen.wrapped == 0 and screen.scrolled == [] and screen.cursor_visible
    assert shown[0].startswith("a title a title") and shown[0].endswith("…") and len(shown[0]) == 40
    assert shown[1].split()[:3] == ["code", "price", "change"]
    assert [row.split()[0] for row in shown[2:9]] == list(DEMO_CODES)  # cut, never wrapped onto a second line
    assert re.fullmatch(r"\d+ tickers received; healthy — Ctrl-C.*…", shown[9]) and len(shown[9]) == 40
    assert colours(output) == {"red", "blue"}  # rises red, falls blue
    assert output.count("tickers received") > 2  # repainted, over the last frame (one frame on the screen)


async def test_a_frame_taller_than_the_terminal_keeps_its_header_on_screen(market: FakeUpbit) -> None:
    console = terminal(60, height=6)  # title, header, 7 codes and the status need 10 lines
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: watch_tickers(DEMO_CODES, settings(market), out=console, title="the title"))
        with trio.fail_after(10):
            while written(console).count("\x1b[1A") < 20:  # a few repaints
                await trio.sleep(0.05)
        running = written(console)
        nursery.cancel_scope.cancel()
    for output in (running, written(console)):  # while it runs, and the last frame, left on the screen at exit
        screen = TerminalScreen(output, 6, 60)
        assert screen.scrolled == [] and screen.wrapped == 0
        shown = screen.text()
        assert shown[0] == "the title" and shown[1].split()[:2] == ["code", "price"] and shown[-1].strip() == "..."
    assert TerminalScreen(written(console), 6, 60).cursor_visible  # given back when cancelled


async def test_no_color_takes_the_colours_away_but_not_the_layout(market: FakeUpbit,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    console = terminal(80)
    assert await watch_orderbook("KRW-BTC", settings(market), depth=5, seconds=1.2, out=console) == 0
    output = written(console)
    assert colours(output) == set()
    shown = TerminalScreen(output).text()
    assert "ask size" in shown[0] and "spread" in shown[6] and shown[-1].endswith("— Ctrl-C to quit")


async def test_a_piped_view_is_plain_text_frame_after_frame(market: FakeUpbit) -> None:
    out = io.StringIO()  # not a terminal
    assert not Terminal.for_output(out).live
    assert await watch_orderbook("KRW-BTC", settings(market), depth=5, seconds=2.2, out=out, title="book") == 0
    text = out.getvalue()
    assert "\x1b" not in text
    frames = text.split("\n\n")
    assert len(frames) >= 3 and frames[-1] == ""
    for frame in frames[:-1]:
        lines = frame.split("\n")
        assert lines[0] == "book" and lines[1].split() == ["ask", "size", "price", "bid", "size"]
        assert all(line == line.rstrip() for line in lines)  # no padding to a terminal's width


async def test_the_tape_cuts_each_trade_to_the_width_and_repeats_its_header_every_screenful(market: FakeUpbit) -> None:
    console = terminal(40, height=8)
    assert await watch_trades(["KRW-BTC", "KRW-ETH"], settings(market), seconds=1.5, out=console) == 0
    output = written(console)
    screen = TerminalScreen(output, 8, 40)
    assert screen.wrapped == 0 and colours(output) == {"red", "blue"}
    lines = screen.scrolled + screen.text()
    header = TAPE_HEADER[:39] + "…"
    assert lines[0] == header and all(len(line) <= 40 for line in lines)
    trades = [line for line in lines if line != header]
    assert len(trades) > 14 and all(line.endswith("…") for line in trades)
    runs = "".join("h" if line == header else "t" for line in lines).split("h")[1:]
    assert all(run == "t" * 7 for run in runs[:-1]) and len(runs[-1]) <= 7  # the screen's height less one


def test_an_announcement_is_cut_to_the_width_counting_korean_characters_as_two() -> None:
    console = terminal(52)
    Terminal.for_output(console).lines(render_announcement(NOTICE))
    output = written(console)
    screen = TerminalScreen(output, 24, 52)
    title, url = screen.text()
    assert screen.wrapped == 0 and title.endswith("CREATED  [거래] 신…")
    assert sum(2 if "가" <= char <= "힣" else 1 for char in title) == 52  # each syllable takes two cells
    assert url.strip() == "https://upbit.com/n?id=1"
    assert "\x1b[1m" in output and "\x1b[2m" in output  # the new notice bold, its URL dimmed
