"""The relay end to end on loopback: the fake exchange, a real nats-server, relay sessions."""

from __future__ import annotations

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit

from relay_helpers import nats_server, needs_nats, relay_on

pytestmark = needs_nats


async def test_a_relay_session_gets_the_trades_the_fake_made(tmp_path):
    with trio.fail_after(20):
        async with open_fake_upbit(seed=1, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [ub.trade("KRW-BTC", mode="realtime")]) as relay:
                async with ub.open_relay_session(server.url) as remote:
                    async with remote.trade("KRW-BTC", mode="realtime") as trades:
                        await trio.sleep(0.3)
                        made = fake.tick(5, code="KRW-BTC")
                        got = [await trades.receive() for _ in range(5)]
            assert [t.sequential_id for t in got] == [t.sequential_id for t in made]
            assert [t.trade_price for t in got] == [t.trade_price for t in made]
