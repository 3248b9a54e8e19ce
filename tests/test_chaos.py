"""The chaos run, short and seeded, in virtual time: hundreds of faults and every promise still holds."""

from __future__ import annotations

import trio

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._chaos import FAULTS
from upbit_stream.testing._chaos_watch import run_chaos

from session_helpers import memory_connector, settings_for

CODES = [
    "KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA", "KRW-TRX", "KRW-AVAX", "KRW-LINK",
    "KRW-DOT", "KRW-BCH", "KRW-ETC", "KRW-XLM", "KRW-NEAR", "KRW-SUI", "KRW-HBAR", "KRW-SHIB", "KRW-ATOM",
]


async def test_chaos_200_faults(autojump_clock):
    async with open_fake_upbit(seed=11, rate=0, idle_timeout=120.0) as fake:
        async with ub.open_upbit_session(
            config=settings_for(fake), access_key=fake.access_key, secret_key=fake.secret_key,
            connector=memory_connector(fake),
        ) as session:
            with trio.fail_after(10 * 24 * 3600):
                report = await run_chaos(fake, session, seed=11, faults=200, codes=CODES, market_rate=0.5)
    assert report.violations() == []
    assert sum(report.injected.values()) == 200 and set(report.injected) == set(FAULTS)
    assert report.reconnects["public"] >= 100 and report.reconnects["private"] >= 100
    assert report.longest_outage > 30  # outages of up to 60 s, cooldowns of 60 and 600 s
    assert report.server_counters.refused_handshakes > 0 and report.server_counters.stalls > 0
    assert report.events_delivered > 1000
