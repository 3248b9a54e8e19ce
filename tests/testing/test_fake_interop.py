"""Clients nobody here wrote: the official upbit-sdk (own venv, subprocess) and a plain ``websockets`` client."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
import trio
import websockets

from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._auth import make_token

#: upbit-sdk pins ``websockets<16``, so it lives in its own venv (made by ./scripts/dev.sh).
SDK_VENV = Path(__file__).resolve().parents[2] / ".peers" / "upbit-sdk"
needs_sdk = pytest.mark.skipif(
    not (SDK_VENV / ".ready").is_file(),
    reason=f"no upbit-sdk venv at {SDK_VENV} (./scripts/dev.sh creates it: pip install upbit-sdk==1.1.0)",
)

SDK_PUBLIC = """
import asyncio, json, sys, upbit

async def main():
    sdk = upbit.AsyncUpbit(websocket_base_url=sys.argv[1])
    out = {}
    async with sdk.ws_stream.ticker(["KRW-BTC"], format="SIMPLE") as conn:
        out["snapshot"] = (await asyncio.wait_for(conn.recv(), 5)).to_dict(mode="json")
        out["realtime"] = (await asyncio.wait_for(conn.recv(), 5)).to_dict(mode="json")
    async with sdk.ws_stream.orderbook(["KRW-ETH.5"]) as conn:
        out["book"] = (await asyncio.wait_for(conn.recv(), 5)).to_dict(mode="json")
    print(json.dumps(out))

asyncio.run(main())
"""

SDK_PRIVATE = """
import asyncio, json, os, sys, upbit

async def main():
    sdk = upbit.AsyncUpbit(access_key=os.environ["FAKE_ACCESS_KEY"], secret_key=os.environ["FAKE_SECRET_KEY"],
                           websocket_base_url=sys.argv[1])
    async with sdk.ws_stream.subscribe_private(my_order=["KRW-BTC"], my_asset=True) as conn:
        events = [(await asyncio.wait_for(conn.recv(), 5)).to_dict(mode="json") for _ in range(5)]
    print(json.dumps(events))

asyncio.run(main())
"""


async def run_sdk(script: str, base_url: str, **env: str) -> Any:
    """Run ``script`` with the upbit-sdk venv's Python; return what it printed, JSON-decoded."""
    result = await trio.run_process(
        [str(SDK_VENV / "bin" / "python"), "-c", textwrap.dedent(script), base_url],
        capture_stdout=True, capture_stderr=True, check=False, env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    return json.loads(result.stdout)


def _is_request(type_):
    return lambda r: r.kind == "message" and r.request is not None and any(t.type == type_ for t in r.request.types)


@needs_sdk
async def test_upbit_sdk_ticker_simple_and_orderbook_depth():
    async with open_fake_upbit(rate=50, seed=2) as fake:
        with trio.fail_after(30):
            out = await run_sdk(SDK_PUBLIC, fake.base_url)
        assert out["snapshot"]["cd"] == "KRW-BTC" and out["snapshot"]["st"] == "SNAPSHOT"
        assert out["realtime"]["st"] == "REALTIME"
        assert out["book"]["code"] == "KRW-ETH" and len(out["book"]["orderbook_units"]) == 5
        assert not any(r.error for r in fake.requests)
        # the SDK's websockets offers permessage-deflate, so it inflates here as it would on Upbit
        agreed = [r.deflate for r in fake.requests if r.kind == "handshake"]
        assert agreed == ["permessage-deflate; client_max_window_bits=15"] * 2


@needs_sdk
async def test_upbit_sdk_private_my_order_and_my_asset():
    async with open_fake_upbit(rate=0) as fake:
        got: dict[str, list] = {}

        async def client():
            got["events"] = await run_sdk(SDK_PRIVATE, fake.base_url, FAKE_ACCESS_KEY=fake.access_key,
                                          FAKE_SECRET_KEY=fake.secret_key)

        async def exchange():
            await fake.wait_for_request(_is_request("myOrder"))
            await trio.sleep(0.05)
            uuid = fake.place_order("KRW-BTC", "bid", "limit", price="90000000", volume="0.002")
            fake.fill(uuid)

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(exchange)
                await client()
        kinds = [(e["type"], e.get("state")) for e in got["events"]]
        assert kinds == [("myOrder", "wait"), ("myAsset", None), ("myOrder", "trade"), ("myOrder", "done"),
                         ("myAsset", None)]
        handshake = [r for r in fake.requests if r.kind == "handshake"][0]
        assert handshake.endpoint == "private" and handshake.detail is None


DOC_EXAMPLES = [
    '[{"ticket":"3e2c4a9f-f0a7-457f-945e-4b57bde9f1ec"},{"type":"ticker","codes":["KRW-BTC"]}]',
    '[{"ticket":"9a65cd93-8786-4202-9b13-bd90e0c8b64b"},{"type":"trade","codes":["KRW-BTC","BTC-BCH"]},'
    '{"type":"orderbook","codes":["KRW-BTC","BTC-BCH"]},{"format":"SIMPLE"}]',
    '[{"ticket":"UNIQUE_TICKET"},{"type":"orderbook","codes":["KRW-BTC.3","BTC-XRP.5"]}]',
    '[{"ticket":"0e66c0ac-7e13-43ef-91fb-2a87c2956c49"},{"type":"orderbook","codes":["KRW-BTC"],"level":10000},'
    '{"type":"orderbook","codes":["KRW-BTT"],"level":0},{"format":"DEFAULT"}]',
    '[{"ticket":"0e66c0ac-7e13-43ef-91fb-2a87c2956c49"},{"method":"LIST_SUBSCRIPTIONS"}]',
    '[{"method":"LIST_SUBSCRIPTIONS"},{"ticket":"unique uuid"}]',
]


async def test_plain_websockets_client_with_documented_examples():
    async with open_fake_upbit(rate=0, requests_per_second=None, requests_per_minute=None) as fake:

        async def client():
            replies = []
            async with websockets.connect(fake.public_url) as ws:
                for example in DOC_EXAMPLES:
                    await ws.send(example)
                    await ws.send("PING")
                    frames = []
                    while (frame := json.loads(await asyncio.wait_for(ws.recv(), 5))) != {"status": "UP"}:
                        frames.append(frame)
                    replies.append(frames)
                await ws.ping()
            headers = {"Authorization": f"Bearer {make_token(fake.access_key, fake.secret_key, 'HS256')}"}
            async with websockets.connect(fake.private_url, additional_headers=headers) as ws:
                await ws.send('[{"ticket":"t"},{"type":"myAsset"},{"format":"JSON_LIST"}]')
                await ws.send('[{"ticket":"t"},{"method":"LIST_SUBSCRIPTIONS"}]')
                replies.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            return replies

        with trio.fail_after(20):
            replies = await trio.to_thread.run_sync(asyncio.run, client())
        ticker, trade_book, depth, level, listing, listing2, private = replies
        assert [(f["type"], f["stream_type"]) for f in ticker] == [("ticker", "SNAPSHOT")]
        assert sorted((f["ty"], f["cd"]) for f in trade_book) == [
            ("orderbook", "BTC-BCH"), ("orderbook", "KRW-BTC"), ("trade", "BTC-BCH"), ("trade", "KRW-BTC")]
        assert sorted((f["cd"], len(f["obu"])) for f in depth) == [("BTC-XRP", 5), ("KRW-BTC", 30)]
        assert sorted((f["code"], f["level"]) for f in level) == [("KRW-BTC", 10000), ("KRW-BTT", 0)]
        assert [f["ticket"] for f in listing + listing2] == ["0e66c0ac-7e13-43ef-91fb-2a87c2956c49", "unique uuid"]
        assert listing[0]["result"] == listing2[0]["result"] == [
            {"type": "orderbook", "codes": ["KRW-BTC"], "level": 10000},
            {"type": "orderbook", "codes": ["KRW-BTT"], "level": 0}]
        assert private == {"method": "LIST_SUBSCRIPTIONS", "result": [{"type": "myAsset"}], "ticket": "t"}
        assert not any(r.error for r in fake.requests)
        assert [r.deflate for r in fake.requests if r.kind == "handshake"] == [
            "permessage-deflate; client_max_window_bits=15"] * 2  # websockets' default: compressed both ways
