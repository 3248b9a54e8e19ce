"""Robustness (fuzzing), replay of recordings, blast mode and the ``serve`` command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import trio
import trio_websocket
from event_helpers import sample_wire
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._requests import parse_request

from ._helpers import connect, recv, send, sync

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["ticket", "type", "codes", "format", "method", "level", "is_only_snapshot",
                         "isOnlyRealtime", "x"]), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_parse_request_never_raises(value):
    for endpoint in ("public", "private"):
        parse_request(json.dumps(value), endpoint, {"KRW-BTC"})


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=64))
def test_parse_request_bytes_never_raises(raw):
    parse_request(raw, "public", {"KRW-BTC"})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(st.one_of(st.binary(max_size=40), json_values.map(json.dumps)), min_size=1, max_size=6))
async def test_server_survives_anything_a_client_sends(messages):
    async with open_fake_upbit(rate=0, requests_per_second=None, requests_per_minute=None) as fake:
        with trio.fail_after(10):
            async with connect(fake) as bystander:
                await send(bystander, [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True}])
                await sync(bystander)
                try:
                    async with connect(fake) as ws:
                        for message in messages:
                            await ws.send_message(message)
                        await sync(ws)  # every message answered (or silently accepted), PING still works
                except trio_websocket.ConnectionClosed:
                    pass
                fake.tick(code="KRW-BTC")
                assert (await recv(bystander))["type"] == "trade"
        assert fake.server_errors == []


async def test_verbatim_replay_serves_matching_frames_as_recorded(tmp_path, autojump_clock):
    path = tmp_path / "rec.jsonl"
    third = sample_wire(ub.Trade, "JSON_LIST", code="KRW-BTC", trade_price=3)
    lines = [
        {"t": 10.0, "endpoint": "public", "frame": json.dumps(sample_wire(ub.Trade, code="KRW-BTC", trade_price=1))},
        {"t": 10.5, "endpoint": "public", "frame": json.dumps(sample_wire(ub.Trade, "SIMPLE", code="KRW-ETH", trade_price=2))},
        {"t": 12.0, "endpoint": "public", "frame": json.dumps(third)},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    async with open_fake_upbit(rate=0, replay=str(path), verbatim=True) as fake:  # frames as recorded
        with trio.fail_after(100):
            async with connect(fake) as ws:
                await send(ws, [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True}])
                start = trio.current_time()
                first = await recv(ws)
                assert first["trade_price"] == 1
                second = await recv(ws)
                assert second == third
                assert 1.9 <= trio.current_time() - start <= 2.5  # recorded pace
                assert await fake.replay(str(path), pace="fast") == 2


def test_a_gzip_recording_is_recognised_by_its_content_not_its_name(tmp_path):
    import gzip

    from upbit_stream.testing import load_replay

    line = {"t": 1.0, "endpoint": "public", "frame": json.dumps(sample_wire(ub.Trade, code="KRW-BTC"))}
    path = tmp_path / "recording.jsonl"  # compressed, but no .gz suffix
    path.write_bytes(gzip.compress((json.dumps(line) + "\n").encode()))
    [frame] = load_replay(path)
    assert frame.keys == (("trade", "KRW-BTC"),) and frame.t == 1.0


async def test_replay_snapshots_come_from_the_recording_not_the_simulation(tmp_path, autojump_clock):
    path = tmp_path / "rec.jsonl"
    trade = sample_wire(ub.Trade, code="KRW-BTC", trade_price=1000)
    path.write_text(json.dumps({"t": 1.0, "endpoint": "public", "frame": json.dumps(trade)}) + "\n")
    async with open_fake_upbit(rate=0, replay=str(path), pace="fast") as fake:
        with trio.fail_after(100):
            async with connect(fake) as ws:
                await send(ws, [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC", "KRW-ETH"]}])
                assert await recv(ws) == trade  # nothing replayed yet: no snapshot, just the recording
                await send(ws, [{"ticket": "u"}, {"type": "trade", "codes": ["KRW-BTC", "KRW-ETH"], "is_only_snapshot": True}])
                snapshot = await recv(ws)
                assert snapshot["trade_price"] == 1000 and snapshot["stream_type"] == "SNAPSHOT"
                with trio.move_on_after(5):  # KRW-ETH was never recorded: no invented snapshot
                    assert await recv(ws) is None


async def test_blast_mode_streams_subscribed_frames_only():
    async with open_fake_upbit(blast=True, blast_ring_size=500) as fake:
        with trio.fail_after(20):
            async with connect(fake) as ws:
                await send(ws, [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC", "KRW-ETH"], "is_only_realtime": True},
                                {"format": "SIMPLE"}])
                frames = [await recv(ws) for _ in range(300)]
                assert {f["ty"] for f in frames} == {"trade"} and {f["cd"] for f in frames} <= {"KRW-BTC", "KRW-ETH"}
        assert fake.blast_frames_sent >= 300


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
def test_cli_serve_prints_urls_and_exits_cleanly_on_ctrl_c():
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "upbit_stream", "serve", "--rate", "5", "--keys", "ak:sk"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = [proc.stdout.readline() for _ in range(6)]
        assert "ws://127.0.0.1:" in lines[1] and lines[1].strip().endswith("/websocket/v1")
        assert lines[2].strip().endswith("/websocket/v1/private") and lines[3].strip().endswith("/websocket/v1/info")
        assert "UPBIT_ACCESS_KEY=ak" in lines[4]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err


def test_cli_bad_arguments_exit_2():
    proc = subprocess.run([sys.executable, "-m", "upbit_stream", "serve", "--port", "x"], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2 and "expected a whole number from 0 to 65535" in proc.stderr
