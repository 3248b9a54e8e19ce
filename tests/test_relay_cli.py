"""``upbit-stream relay`` as a separate process: another process reads its events through NATS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import trio

import upbit_stream as ub
from upbit_stream._cli.args import build_parser
from upbit_stream._relay.server import free_port
from upbit_stream.testing import open_fake_upbit

from relay_helpers import needs_nats


def test_relay_arguments_take_record_targets_and_fall_back_to_the_relay_section(tmp_path):
    args = build_parser().parse_args(["relay", "--embedded-nats", "d", "trade:KRW-BTC", "my_order", "--max-age", "2h"])
    assert args.command == "relay" and args.max_age == 7200 and args.targets == ["trade:KRW-BTC", "my_order"]
    assert args.window is None and args.region is None  # None: the [relay] section decides
    with pytest.raises(SystemExit):
        build_parser().parse_args(["relay", "--nats", "http://x", "trade:KRW-BTC"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["relay", "--nats", "nats://x", "--embedded-nats", "d"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPBIT_STREAM_")}
    nothing = subprocess.run([sys.executable, "-m", "upbit_stream", "relay", "trade:KRW-BTC"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=30)
    assert nothing.returncode == 2 and "name a NATS server" in nothing.stderr
    (tmp_path / "upbit_stream.toml").write_text('[relay]\nnats_url = "nats://127.0.0.1:1"\nstreams = ["tickr:KRW-BTC"]\n')
    bad = subprocess.run([sys.executable, "-m", "upbit_stream", "relay"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "unknown type 'tickr'" in bad.stderr and "([relay] streams)" in bad.stderr


@needs_nats[0]
@needs_nats[1]
async def test_a_second_process_gets_the_relays_events_through_one_upbit_connection(tmp_path):
    port = free_port()
    with trio.fail_after(30):
        async with open_fake_upbit(seed=1, rate=0) as fake:
            command = [sys.executable, "-m", "upbit_stream", "relay", "--embedded-nats", str(tmp_path / "store"),
                       "--port", str(port), "--url", fake.public_url, "trade:KRW-BTC"]
            async with trio.open_nursery() as nursery:
                process = await nursery.start(lambda task_status: trio.run_process(
                    command, check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"}, task_status=task_status))
                url = f"nats://127.0.0.1:{port}"
                while True:  # the relay's catalog appears once it is up
                    try:
                        async with ub.open_relay_session(url) as remote:
                            async with remote.trade("KRW-BTC", mode="realtime") as trades:
                                await trio.sleep(0.3)
                                made = fake.tick(3, code="KRW-BTC")
                                got = [await trades.receive() for _ in range(3)]
                        break
                    except (ub.ConnectError, ub.UpbitStreamError):
                        await trio.sleep(0.2)
                process.send_signal(signal.SIGTERM)
            assert [t.sequential_id for t in got] == [t.sequential_id for t in made]
            assert len([r for r in fake.requests if r.kind == "handshake"]) == 1
