"""Foreign clients against ``upbit-stream serve`` in its own process: the official SDK (public, private driven
through ``--control``, and over ``--tls``), and ccxt.pro and pyupbit when their environments exist."""

from __future__ import annotations

import json
import os
import textwrap
from typing import Any

import pytest
import trio

from cli_helpers import REPO
from serve_helpers import control, served

from .test_fake_interop import SDK_PRIVATE, SDK_PUBLIC, needs_sdk, run_sdk

PEERS = REPO / ".peers"


def needs_peer(name: str, what: str) -> pytest.MarkDecorator:
    venv = PEERS / name
    return pytest.mark.skipif(not (venv / ".ready").is_file(),
                              reason=f"no {what} venv at {venv} (benchmarks/compare_peers.py builds it)")


async def run_peer(name: str, script: str, *args: str, timeout: float = 40, **env: str) -> Any:
    """Run ``script`` with the Python of ``.peers/<name>``; return what it printed last, JSON-decoded."""
    with trio.fail_after(timeout):
        done = await trio.run_process([str(PEERS / name / "bin" / "python"), "-c", textwrap.dedent(script), *args],
                                      capture_stdout=True, capture_stderr=True, check=False,
                                      env={**os.environ, **env})
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


# -- the official SDK -----------------------------------------------------------------------------------


@needs_sdk
async def test_upbit_sdk_public_streams_from_serve(tmp_path):
    with served("--rate", "50", "--seed", "2", cwd=tmp_path) as fake:
        with trio.fail_after(30):
            out = await run_sdk(SDK_PUBLIC, fake.base_url)
    assert out["snapshot"]["cd"] == "KRW-BTC" and out["snapshot"]["st"] == "SNAPSHOT"
    assert out["realtime"]["st"] == "REALTIME"
    assert out["book"]["code"] == "KRW-ETH" and len(out["book"]["orderbook_units"]) == 5


@needs_sdk
@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
async def test_upbit_sdk_private_streams_driven_through_control(tmp_path, tls):
    """The SDK subscribes to myOrder/myAsset; a place and a fill sent to --control reach it (over wss:// the
    SDK trusts the printed CA through SSL_CERT_FILE, its only change besides the URL)."""
    with served("--rate", "0", "--control", "0", *(["--tls"] if tls else []), cwd=tmp_path) as fake:
        assert fake.control_port is not None and fake.base_url.startswith("wss://" if tls else "ws://")
        env = {"SSL_CERT_FILE": fake.ca_path} if fake.ca_path else {}
        got: dict[str, Any] = {}

        async def client() -> None:
            got["events"] = await run_sdk(SDK_PRIVATE, fake.base_url, FAKE_ACCESS_KEY=_key(fake.lines, 0),
                                          FAKE_SECRET_KEY=_key(fake.lines, 1), **env)

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client)
                ok, placed = await control(fake.control_port, "wait-request myOrder 20",
                                           "place KRW-BTC bid limit 90000000 0.002")
                assert ok == "ok" and placed.startswith("ok ")
                assert await control(fake.control_port, f"fill {placed.split()[1]}") == ["ok"]
    kinds = [(e["type"], e.get("state")) for e in got["events"]]
    assert kinds == [("myOrder", "wait"), ("myAsset", None), ("myOrder", "trade"), ("myOrder", "done"),
                     ("myAsset", None)]
    assert got["events"][0]["uuid"] == placed.split()[1]


def _key(lines: list[str], index: int) -> str:
    """The printed test key (0: access, 1: secret)."""
    words = next(line for line in lines if "test keys:" in line).split()
    return words[-2 + index].partition("=")[2]


# -- ccxt.pro -------------------------------------------------------------------------------------------

CCXT = """
import asyncio, json, os, sys
import ccxt.pro

MARKET = {"id": "KRW-BTC", "symbol": "BTC/KRW", "base": "BTC", "quote": "KRW", "baseId": "BTC", "quoteId": "KRW",
          "type": "spot", "spot": True, "active": True, "precision": {}, "limits": {}}

async def main():
    exchange = ccxt.pro.upbit({"enableRateLimit": False, "apiKey": os.environ["FAKE_ACCESS_KEY"],
                               "secret": os.environ["FAKE_SECRET_KEY"]})
    exchange.urls["api"]["ws"] = sys.argv[1]
    exchange.set_markets([MARKET])
    out = {}
    try:
        ticker = await asyncio.wait_for(exchange.watch_ticker("BTC/KRW"), 10)
        out["ticker"] = [ticker["symbol"], ticker["last"] is not None]
        trades = await asyncio.wait_for(exchange.watch_trades("BTC/KRW"), 10)
        out["trades"] = sorted({t["symbol"] for t in trades})
        orders = await asyncio.wait_for(exchange.watch_orders("BTC/KRW"), 20)
        out["orders"] = [[o["id"], o["status"], o["side"]] for o in orders]
    finally:
        await exchange.close()
    print(json.dumps(out))

asyncio.run(main())
"""


@needs_peer("ccxt", "ccxt.pro")
async def test_ccxt_pro_public_and_private_from_serve(tmp_path):
    with served("--rate", "50", "--control", "0", cwd=tmp_path) as fake:
        got: dict[str, Any] = {}

        async def client() -> None:
            got["out"] = await run_peer("ccxt", CCXT, fake.public_url, FAKE_ACCESS_KEY=_key(fake.lines, 0),
                                        FAKE_SECRET_KEY=_key(fake.lines, 1))

        with trio.fail_after(40):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client)
                ok, placed = await control(fake.control_port, "wait-request myOrder 30",
                                           "place KRW-BTC bid limit 90000000 0.002", timeout=35)
                assert ok == "ok" and placed.startswith("ok ")
    out = got["out"]
    assert out["ticker"] == ["BTC/KRW", True] and out["trades"] == ["BTC/KRW"]
    assert out["orders"] == [[placed.split()[1], "open", "buy"]]


# -- pyupbit --------------------------------------------------------------------------------------------

PYUPBIT = """
import importlib.util, json, os, sys

def main():
    package = importlib.util.find_spec("pyupbit")
    path = os.path.join(next(iter(package.submodule_search_locations)), "websocket_api.py")
    spec = importlib.util.spec_from_file_location("pyupbit_websocket_api", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    url = sys.argv[1]

    class Local(module.WebSocketManager):  # pyupbit hard-codes Upbit's URL: only that is changed
        def run(self):
            import websockets
            original = websockets.connect
            websockets.connect = lambda uri, **kw: original(url, **kw)
            super().run()

    manager = Local("ticker", ["KRW-BTC"])
    try:
        got = [manager.get() for _ in range(3)]
    finally:
        manager.terminate()
    print(json.dumps([[d["type"], d["code"], d["stream_type"]] for d in got]))

main()
"""


@needs_peer("pyupbit", "pyupbit")
async def test_pyupbit_ticker_from_serve(tmp_path):
    with served("--rate", "50", cwd=tmp_path) as fake:
        got = await run_peer("pyupbit", PYUPBIT, fake.public_url)
    assert [row[:2] for row in got] == [["ticker", "KRW-BTC"]] * 3
    assert {row[2] for row in got} <= {"SNAPSHOT", "REALTIME"} and got[-1][2] == "REALTIME"

