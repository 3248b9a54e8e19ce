"""``upbit-stream record``: argument parsing, the file writer, and whole recordings against the fake exchange."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

import upbit_stream as ub
from upbit_stream._cli.args import parse_duration, parse_size, parse_targets
from upbit_stream._cli.record_file import RecordingWriter
from upbit_stream.testing import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, load_replay

from cli_helpers import Concurrently, TerminalScreen, run_cli, run_in_pty, serve, start_cli, stop
from event_helpers import sample_wire

TARGETS = ("ticker:KRW-BTC,KRW-ETH", "trade:KRW-BTC,KRW-ETH", "orderbook:KRW-BTC")


# -- arguments ------------------------------------------------------------------------------------


def test_targets_become_specs():
    specs = parse_targets(["ticker:KRW-ETH,KRW-BTC", "orderbook:KRW-BTC", "candle.5m:KRW-XRP", "my_order",
                           "myOrder:KRW-BTC", "my_asset"], depth=5, realtime_only=True)
    assert specs == (
        ub.ticker(["KRW-BTC", "KRW-ETH"], mode="realtime"),
        ub.orderbook("KRW-BTC", depth=5, mode="realtime"),
        ub.candle("KRW-XRP", "5m", mode="realtime"),
        ub.my_order(),
        ub.my_order("KRW-BTC"),
        ub.my_asset(),
    )
    assert parse_targets(["trade:KRW-BTC"]) == (ub.trade("KRW-BTC"),)


@pytest.mark.parametrize(("words", "message"), [
    (["tickr:KRW-BTC"], "unknown type 'tickr'"),
    (["candle.2m:KRW-BTC"], "unknown type 'candle.2m'"),
    (["ticker"], "ticker needs market codes"),
    (["ticker:"], "names no codes"),
    (["ticker:krw-btc"], "upper-case"),
    (["my_asset:KRW-BTC"], "my_asset takes no codes"),
    ([], "at least one"),
])
def test_bad_targets_say_what_is_wrong(words, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_targets(words)


def test_sizes_and_durations():
    assert parse_size("100MB") == 100_000_000
    assert parse_size("1.5GiB") == 3 * 2**29
    assert parse_size("512k") == 512_000
    assert parse_size("4096") == 4096
    assert parse_size("2 KiB") == 2048
    for bad in ("100XB", "MB", "-1", "0", "1iB", ""):
        with pytest.raises(ValueError):
            parse_size(bad)
    assert parse_duration("90") == 90
    assert parse_duration("15m") == 900
    assert parse_duration("1h") == 3600
    assert parse_duration("1d") == 86400
    assert parse_duration("0.5s") == 0.5
    for bad in ("1w", "0", "soon", "-5s", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)


# -- the writer -----------------------------------------------------------------------------------

FRAME = json.dumps({**sample_wire(ub.Trade, code="KRW-BTC"), "note": "원화 ✓"}, ensure_ascii=False)


@pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
def test_writer_output_is_what_replay_reads(tmp_path, name):
    writer = RecordingWriter(tmp_path / name)
    writer.write(100.25, "public", FRAME.encode())
    writer.write(101.5, "private", FRAME)
    writer.close()
    frames = load_replay(tmp_path / name)
    assert [(f.t, f.endpoint, f.frame) for f in frames] == [(100.25, "public", FRAME), (101.5, "private", FRAME)]
    assert frames[0].keys == (("trade", "KRW-BTC"),)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(tmp_path / name, "rt", encoding="utf-8") as file:
        first = json.loads(file.readline())
    assert list(first) == ["t", "endpoint", "frame"]
    assert writer.files == [tmp_path / name] and writer.frames == 2


def test_writer_rotates_by_size_without_splitting_lines(tmp_path):
    writer = RecordingWriter(tmp_path / "rot.jsonl", rotate_size=1000)
    for i in range(40):
        writer.write(1000.0 + i, "public", FRAME)
    writer.close()
    assert [p.name for p in writer.files[:3]] == ["rot-0001.jsonl", "rot-0002.jsonl", "rot-0003.jsonl"]
    assert not (tmp_path / "rot.jsonl").exists()
    lines = []
    for path in writer.files:
        assert 0 < path.stat().st_size <= 1000
        lines += path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["t"] for line in lines] == [1000.0 + i for i in range(40)]
    assert writer.size == sum(p.stat().st_size for p in writer.files)


def test_writer_rotates_on_interval_boundaries(tmp_path):
    writer = RecordingWriter(tmp_path / "rot.jsonl.gz", rotate_every=3600)
    times = [7100.0, 7199.0, 7200.0, 10799.9, 10800.0, 20000.0]  # hours 1, 1, 2, 2, 3, 5
    for t in times:
        writer.write(t, "public", FRAME)
    writer.close()
    assert [p.name for p in writer.files] == [f"rot-000{i}.jsonl.gz" for i in (1, 2, 3, 4)]
    per_file = [[f.t for f in load_replay(p)] for p in writer.files]
    assert per_file == [[7100.0, 7199.0], [7200.0, 10799.9], [10800.0], [20000.0]]


def test_writer_gzip_rotation_by_compressed_size(tmp_path):
    writer = RecordingWriter(tmp_path / "big.jsonl", compress=True, rotate_size=20_000, compresslevel=1)
    for i in range(200):  # incompressible enough: about 64 KB of gzip in all
        noise = "".join(hashlib.sha256(f"{i}-{j}".encode()).hexdigest() for j in range(10))
        writer.write(float(i), "public", json.dumps({"type": "trade", "code": "KRW-BTC", "noise": noise}))
    writer.close()
    assert len(writer.files) > 1 and writer.files[0].name == "big-0001.jsonl.gz"  # compressed: named .gz
    assert sum(len(load_replay(p)) for p in writer.files) == 200  # every file decompresses completely


def test_writer_refuses_to_replace_files_unless_told(tmp_path):
    (tmp_path / "a.jsonl").write_text("keep\n")
    writer = RecordingWriter(tmp_path / "a.jsonl")
    assert writer.existing() == [tmp_path / "a.jsonl"]
    with pytest.raises(FileExistsError):
        writer.write(1.0, "public", FRAME)
    assert (tmp_path / "a.jsonl").read_text() == "keep\n"
    (tmp_path / "b-0003.jsonl.gz").write_bytes(b"")
    assert RecordingWriter(tmp_path / "b.jsonl.gz", rotate_size=10).existing() == [tmp_path / "b-0003.jsonl.gz"]
    assert RecordingWriter(tmp_path / "b.jsonl.gz").existing() == []
    replacing = RecordingWriter(tmp_path / "a.jsonl", overwrite=True)
    replacing.write(1.0, "public", FRAME)
    replacing.close()
    assert len(load_replay(tmp_path / "a.jsonl")) == 1


# -- whole recordings -----------------------------------------------------------------------------


def _round_trip(here: Path, live_url: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    """Record 80 frames from the live fake, replay them with ``serve --replay --pace fast``, record again
    (in the same format: replay re-encodes each event as the recorder asks, and gets the same bytes)."""
    first = run_cli("record", *TARGETS, "--realtime-only", "--format", "simple", "--count", "80",
                    "-o", "first.jsonl", "--url", live_url, "--seconds", "30", cwd=here)
    if first.returncode != 0:
        return (first,)
    with serve("--replay", "first.jsonl", "--pace", "fast", cwd=here) as replay_url:
        second = run_cli("record", *TARGETS, "--realtime-only", "--format", "simple", "--count", "80",
                         "-o", "second.jsonl.gz", "--url", replay_url, "--seconds", "30", cwd=here)
    return first, second


def _record_until(signum: int, name: str, here: Path, url: str) -> tuple[int, str, str]:
    """Record until the file appears, half a second more, then send ``signum``."""
    proc = start_cli("record", *TARGETS, "-o", name, "--url", url, cwd=here)
    deadline = time.monotonic() + 20
    while not (here / name).exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    out, err = stop(proc, signum)
    return proc.returncode, out, err


def _private(here: Path, url: str) -> dict[str, subprocess.CompletedProcess[str]]:
    results = {}
    for secret in (DEFAULT_SECRET_KEY, "not-the-secret"):
        results[secret] = run_cli("record", "my_asset", "my_order", "ticker:KRW-BTC", "-o", f"{len(results)}.jsonl",
                                  "--seconds", "1", "--url", url, cwd=here,
                                  UPBIT_ACCESS_KEY=DEFAULT_ACCESS_KEY, UPBIT_SECRET_KEY=secret)
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The recordings of this module, started at once; each opens one connection to the shared fake."""
    folders = {name: tmp_path_factory.mktemp(name) for name in ("serve", "trip", "term", "int", "rot", "private", "tty")}
    with serve("--rate", "300", "--seed", "5", cwd=folders["serve"]) as url:
        jobs = Concurrently(workers=5)  # four on the shared fake, one on its own
        jobs.folders = folders
        jobs.start("round trip", _round_trip, folders["trip"], url)
        jobs.start("SIGTERM", _record_until, signal.SIGTERM, "data.jsonl.gz", folders["term"], url)
        jobs.start("SIGINT", _record_until, signal.SIGINT, "data.jsonl", folders["int"], url)
        jobs.start("rotation", run_cli, "record", *TARGETS, "-o", "rot.jsonl", "--rotate-size", "4KB",
                   "--seconds", "1.5", "--url", url, cwd=folders["rot"])
        jobs.start("tty progress", run_in_pty, ["record", *TARGETS, "-o", "a-recording-with-a-long-name.jsonl",
                                                "--url", url, "--seconds", "2.5"], folders["tty"], size=(10, 40))
        try:
            with serve("--rate", "100", cwd=folders["private"]) as private_url:  # two connections per run
                jobs.start("private", _private, folders["private"], private_url)
                jobs.result("private")
            yield jobs
        finally:
            jobs.close()


def _recorded(stdout: str) -> int:
    match = re.search(r"recorded ([\d,]+) frames", stdout)
    assert match, stdout
    return int(match.group(1).replace(",", ""))


def _lines(paths: list[Path]) -> list[dict]:
    entries = []
    for path in paths:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as file:  # gzip raises EOFError if the trailer is missing
            text = file.read()
        assert text.endswith("\n")
        entries += [json.loads(line) for line in text.splitlines()]
    return entries


def test_record_then_replay_round_trips_every_frame(runs):
    here = runs.folders["trip"]
    first, *rest = runs.result("round trip")
    assert first.returncode == 0, first.stderr
    assert _recorded(first.stdout) == 80
    recorded = _lines([here / "first.jsonl"])
    assert len(recorded) == 80 and {e["endpoint"] for e in recorded} == {"public"}
    assert all(isinstance(e["t"], float) for e in recorded)
    assert [e["t"] for e in recorded] == sorted(e["t"] for e in recorded)
    kinds = {(ev.type, ev.code) for e in recorded for ev in ub.decode(e["frame"])}
    assert kinds <= {("ticker", "KRW-BTC"), ("ticker", "KRW-ETH"), ("trade", "KRW-BTC"), ("trade", "KRW-ETH"),
                     ("orderbook", "KRW-BTC")}
    assert all(json.loads(e["frame"]).get("st") == "REALTIME" for e in recorded)  # SIMPLE keys, no snapshots
    (second,) = rest
    assert second.returncode == 0, second.stderr
    assert _recorded(second.stdout) == 80
    assert [e["frame"] for e in _lines([here / "second.jsonl.gz"])] == [e["frame"] for e in recorded]


@pytest.mark.parametrize(("name", "folder", "file", "status"), [
    ("SIGTERM", "term", "data.jsonl.gz", 0),
    ("SIGINT", "int", "data.jsonl", 130),
])
def test_a_signal_stops_recording_with_every_line_complete(runs, name, folder, file, status):
    returncode, out, err = runs.result(name)
    assert returncode == status, err
    assert "Traceback" not in err
    count = _recorded(out)
    entries = _lines([runs.folders[folder] / file])
    assert count == len(entries) > 0
    stream_types = [json.loads(e["frame"]).get("stream_type") for e in entries]
    assert stream_types[0] == "SNAPSHOT"  # default mode: a snapshot per code first, then realtime


def test_record_rotates_by_size(runs):
    done = runs.result("rotation")
    assert done.returncode == 0, done.stderr
    files = sorted(runs.folders["rot"].glob("rot-*.jsonl"))
    assert len(files) >= 2 and files[0].name == "rot-0001.jsonl"
    for f in files:  # at most SIZE, unless one frame alone is larger
        assert f.stat().st_size <= 4000 or len(_lines([f])) == 1
    assert f"{len(files)} files" in done.stdout
    assert len(_lines(files)) == _recorded(done.stdout)


def test_the_progress_line_on_a_terminal_is_redrawn_in_place_cut_to_its_width_then_erased(runs):
    status, output = runs.result("tty progress")  # 40 columns
    assert status == 0, output
    assert output.count("recording ") >= 3
    last_shown = TerminalScreen(output[:output.rindex("\x1b[?25h")], 10, 40)  # just before it is erased
    assert last_shown.wrapped == 0
    progress = [row for row in last_shown.text() if row]
    assert len(progress) == 1 and re.fullmatch(r"recording [\d,]+ frames +[\d,]+/s .*…", progress[0])
    assert len(progress[0]) == 40
    final = TerminalScreen(output, 10, 40)
    assert final.text()[0].startswith("recorded ") and final.cursor_visible
    assert not any(row.startswith("recording") for row in final.text())


def test_private_types_record_with_keys_from_the_environment(runs):
    here = runs.folders["private"]
    good, bad = runs.result("private").values()
    for done in (good, bad):
        assert DEFAULT_SECRET_KEY not in done.stdout + done.stderr and "not-the-secret" not in done.stderr
    entries = _lines([here / "0.jsonl"])
    assert good.returncode == 0, good.stderr
    assert _recorded(good.stdout) == len(entries) > 0  # authenticated; the account is quiet, the ticker flows
    assert {e["endpoint"] for e in entries} == {"public"}
    entries = _lines([here / "1.jsonl"])  # a wrong secret: the server's INVALID_AUTH is recorded, and reported
    assert bad.returncode == 1
    assert any(e["endpoint"] == "private" and "INVALID_AUTH" in e["frame"] for e in entries)
    assert "INVALID_AUTH" in bad.stderr and "Traceback" not in bad.stderr


def test_record_refuses_to_overwrite_without_force(tmp_path):
    (tmp_path / "old.jsonl").write_text("precious\n")
    done = run_cli("record", "ticker:KRW-BTC", "-o", "old.jsonl", "--url", "ws://127.0.0.1:9/websocket/v1",
                   cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == "upbit-stream record: old.jsonl exists; use --force to replace it"
    assert (tmp_path / "old.jsonl").read_text() == "precious\n"


def test_private_types_without_keys_fail_with_advice(tmp_path):
    done = run_cli("record", "my_asset", "-o", "mine.jsonl", "--url", "ws://127.0.0.1:9/websocket/v1", cwd=tmp_path)
    assert done.returncode == 1
    assert "UPBIT_ACCESS_KEY" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "mine.jsonl").exists()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:  # bound, never listening: connections to it are refused
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("argv", [
    ["record", "trade:KRW-BTC", "-o", "never.jsonl"],
    ["watch", "ticker", "KRW-BTC"],
    ["watch", "trade", "KRW-BTC"],
])
def test_a_command_that_never_connects_fails_and_says_why_on_stderr(tmp_path: Path, argv: list[str]) -> None:
    port = _closed_port()
    done = run_cli(*argv, "--url", f"ws://127.0.0.1:{port}/websocket/v1", "--seconds", "2", cwd=tmp_path)
    assert done.returncode == 1, done
    assert "nothing received: public: " in done.stderr and f"127.0.0.1:{port}" in done.stderr
    assert not (tmp_path / "never.jsonl").exists()
