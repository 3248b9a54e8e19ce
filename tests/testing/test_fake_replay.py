"""Replay answers like live (#15): the connection's format, depth, level and snapshot flags; verbatim mode; bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import attrs
import pytest
import trio

import upbit_stream as ub
from upbit_stream._core.encode import encode_event
from upbit_stream._core.enums import StreamType
from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._market import MarketSim

from ._helpers import connect, no_frame, recv, send

START = 1_750_000_000_000


def _recording(path: Path, fmt: str = "DEFAULT", snapshot_first: bool = False) -> list[ub.Event]:
    """Write a recording of KRW-BTC trades and 30-level books (in ``fmt``); return its events in order."""
    sim = MarketSim(seed=4, now_ms=START)
    events: list[ub.Event] = []
    if snapshot_first:
        events.append(sim.last_trade("KRW-BTC", START, StreamType.SNAPSHOT))
    for i in range(3):
        trade, _, book = sim.step(START + 100 * i, "KRW-BTC")
        events += [trade, book]
    lines = [{"t": 1.0 + i / 10, "endpoint": "public", "frame": encode_event(e, ub.Format(fmt)).decode()}
             for i, e in enumerate(events)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return events


async def _replayed(path: Path, request: list[object], count: int, *, verbatim: bool = False) -> list[object]:
    """Subscribe with ``request`` (the replay starts with it) and return frames until they carry ``count`` events
    (a list frame may carry several; then: nothing more)."""
    async with open_fake_upbit(rate=0, replay=str(path), pace="fast", verbatim=verbatim) as fake:
        with trio.fail_after(20):
            async with connect(fake) as ws:
                await send(ws, request)
                frames: list[object] = []
                while sum(len(f) if isinstance(f, list) else 1 for f in frames) < count:
                    frames.append(await recv(ws))
                await no_frame(ws)
    return frames


async def test_a_simple_request_gets_simple_frames_and_a_list_request_lists(tmp_path):
    events = _recording(tmp_path / "rec.jsonl")
    trades = [e for e in events if isinstance(e, ub.Trade)]
    frames = await _replayed(tmp_path / "rec.jsonl", [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"],
                             "is_only_realtime": True}, {"format": "SIMPLE"}], 3)
    assert frames == [json.loads(encode_event(t, ub.Format.SIMPLE)) for t in trades]
    listed = await _replayed(tmp_path / "rec.jsonl", [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"],
                             "is_only_realtime": True}, {"format": "JSON_LIST"}], 3)
    listed_ids = [event["sequential_id"] for frame in listed for event in frame]  # a list frame may carry several
    assert listed_ids == [t.sequential_id for t in trades]


async def test_depth_is_cut_and_level_groups_the_recorded_book(tmp_path):
    events = _recording(tmp_path / "rec.jsonl", fmt="SIMPLE")
    books = [e for e in events if isinstance(e, ub.Orderbook)]
    five = await _replayed(tmp_path / "rec.jsonl", [{"ticket": "t"}, {"type": "orderbook", "codes": ["KRW-BTC.5"],
                           "is_only_realtime": True}], 3)
    for frame, book in zip(five, books):
        assert len(frame["orderbook_units"]) == 5 and frame["level"] == 0
        assert [u["ask_price"] for u in frame["orderbook_units"]] == [int(u.ask_price) for u in book.orderbook_units[:5]]
        assert Decimal(str(frame["total_ask_size"])) == sum(u.ask_size for u in book.orderbook_units[:5])
    grouped = await _replayed(tmp_path / "rec.jsonl", [{"ticket": "t"}, {"type": "orderbook", "codes": ["KRW-BTC"],
                              "level": 10000, "is_only_realtime": True}], 3)
    for frame, book in zip(grouped, books):
        units = frame["orderbook_units"]
        assert frame["level"] == 10000 and 0 < len(units) < 30
        assert all(u["ask_price"] % 10000 == 0 and u["bid_price"] % 10000 == 0 for u in units)
        best_ask = book.orderbook_units[0].ask_price
        first = [u.ask_size for u in book.orderbook_units
                 if (u.ask_price / 10000).to_integral_value(ROUND_CEILING) * 10000 == units[0]["ask_price"]]
        assert units[0]["ask_price"] >= best_ask and Decimal(str(units[0]["ask_size"])) == sum(first)
    # a level that is not a multiple of the tick streams nothing, as live
    assert await _replayed(tmp_path / "rec.jsonl", [{"ticket": "t"}, {"type": "orderbook", "codes": ["KRW-BTC"],
                           "level": 7, "is_only_realtime": True}], 0) == []


async def test_recorded_snapshots_reach_only_requests_that_ask_for_a_snapshot(tmp_path):
    events = _recording(tmp_path / "rec.jsonl", snapshot_first=True)
    realtime = [e for e in events if isinstance(e, ub.Trade) and e.stream_type is StreamType.REALTIME]
    frames = await _replayed(tmp_path / "rec.jsonl", [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"],
                             "is_only_realtime": True}], 3)
    assert [f["stream_type"] for f in frames] == ["REALTIME"] * 3
    assert [f["sequential_id"] for f in frames] == [t.sequential_id for t in realtime]
    # verbatim: the recorded SNAPSHOT frame goes out as it was recorded
    raw = await _replayed(tmp_path / "rec.jsonl", [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"],
                          "is_only_realtime": True}], 4, verbatim=True)
    assert [f["stream_type"] for f in raw] == ["SNAPSHOT", "REALTIME", "REALTIME", "REALTIME"]


async def test_a_snapshot_request_after_replay_gets_the_latest_book_shaped_as_asked(tmp_path):
    events = _recording(tmp_path / "rec.jsonl")
    last_book = [e for e in events if isinstance(e, ub.Orderbook)][-1]
    async with open_fake_upbit(rate=0, replay=str(tmp_path / "rec.jsonl"), pace="fast") as fake:
        with trio.fail_after(20):
            await fake.replay(str(tmp_path / "rec.jsonl"))
            async with connect(fake) as ws:
                await send(ws, [{"ticket": "t"}, {"type": "orderbook", "codes": ["KRW-BTC.15"], "level": 10000,
                                                  "is_only_snapshot": True}, {"format": "SIMPLE"}])
                snapshot = await recv(ws)
    assert snapshot["st"] == "SNAPSHOT" and snapshot["lv"] == 10000 and snapshot["tms"] == last_book.timestamp
    assert all(u["ap"] % 10000 == 0 for u in snapshot["obu"]) and len(snapshot["obu"]) <= 15


async def test_a_file_without_a_recording_line_fails_at_start_naming_it(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("not json\n{\"t\": 1}\n\n")
    with pytest.raises(ValueError, match=r"empty\.jsonl: no recording line \(2 lines skipped"):
        async with open_fake_upbit(rate=0, replay=str(path)):
            raise AssertionError("never reached")


async def test_skipped_lines_are_counted(tmp_path):
    _recording(tmp_path / "rec.jsonl")
    with open(tmp_path / "rec.jsonl", "a") as file:
        file.write("garbage\n{\"frame\": 3}\n[1, 2]\n\n")
    async with open_fake_upbit(rate=0, replay=str(tmp_path / "rec.jsonl")) as fake:
        assert (fake.replay_frame_count, fake.replay_skipped) == (6, 3)


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "upbit_stream", "serve", *args], capture_output=True, text=True,
                          timeout=30)


def test_serve_refuses_a_file_without_a_recording_line_in_one_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("hello\n")
    proc = _serve("--replay", str(path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "bad.jsonl: no recording line (1 lines skipped" in proc.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
def test_serve_reports_skipped_lines(tmp_path):
    import os
    import signal

    _recording(tmp_path / "rec.jsonl")
    with open(tmp_path / "rec.jsonl", "a") as file:
        file.write("garbage\n")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "upbit_stream", "serve", "--replay", str(tmp_path / "rec.jsonl"),
                             "--verbatim"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert "replay" in lines[0] and lines[1].split() == ["replay:", "6", "frames", "verbatim,", "1", "lines",
                                                         "skipped", "(not", "recording", "entries)"]
    assert proc.returncode == 0 and "Traceback" not in err


RSI = ub.rsi(14)
OVERBOUGHT = ub.signal(RSI, "overbought", threshold=70)


@pytest.mark.parametrize("verbatim", [False, True])
async def test_recorded_announcements_indicators_and_signals_replay_to_their_own_endpoints(tmp_path, verbatim,
                                                                                         autojump_clock):
    async with open_fake_upbit(seed=2, rate=0) as maker:  # nobody listens: it only makes the events
        notice = maker.publish_announcement("[거래] 신규 거래지원 안내", "trade", body="본문")
        value = maker.inject_indicator("KRW-BTC", "5m", RSI, ub.RsiValue(rsi=Decimal("71.5")))
        fired = maker.force_signal("KRW-BTC", "5m", OVERBOUGHT, ub.RsiValue(rsi=Decimal("72.5")))
    lines = [{"t": 1.0, "endpoint": "private", "frame": encode_event(notice).decode()},
             {"t": 1.1, "endpoint": "info", "frame": encode_event(value).decode()},
             {"t": 1.2, "endpoint": "info", "frame": encode_event(fired).decode()}]
    (tmp_path / "rec.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    async with open_fake_upbit(seed=2, rate=0) as fake, \
            ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                  secret_key=fake.secret_key) as session:
        async with session.announcement("trade") as notices, session.indicator("KRW-BTC", "5m", [RSI]) as values, \
                session.indicator_signal("KRW-BTC", "5m", OVERBOUGHT) as signals:
            with trio.fail_after(60):
                for endpoint in ("private", "info"):
                    await fake.wait_for_request(lambda r, e=endpoint: r.endpoint == e and r.request is not None)
                assert await fake.replay(tmp_path / "rec.jsonl", verbatim=verbatim) == 3
                got = (await notices.receive(), await values.receive(), await signals.receive())
    recorded = ub.decode(encode_event(notice))[0]
    assert recorded.body == "본문"
    assert got == (attrs.evolve(recorded, body=None), value, fired)  # a subscriber that did not ask for the body
