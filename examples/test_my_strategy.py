"""Test your own trading code offline: the fake exchange in memory, under trio's virtual clock.

Copy this file next to your code and run ``pytest test_my_strategy.py`` (with pytest and
pytest-trio installed); here, ``pytest examples/test_my_strategy.py``. ``fake.connector()`` connects the session to the fake over in-memory
streams, so with pytest-trio's ``autojump_clock`` reconnects, backoffs and heartbeats take no real
time; the fake's controls make the market trade (``tick``) and fail (``drop_all``, ``stall``, …).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio
import trio.testing

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit


class LastPrices:
    """The code under test: the last trade price per market, and how often the feed had a gap."""

    def __init__(self) -> None:
        self.price: dict[str, Decimal] = {}
        self.trades = 0
        self.gaps = 0

    async def follow(self, session: ub.UpbitSession, codes: list[str], *,
                     task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with session.trade(codes, gaps=True) as trades:
            task_status.started()
            async for item in trades:
                if isinstance(item, ub.StreamGap):
                    self.gaps += 1
                else:
                    self.price[item.code] = item.trade_price
                    self.trades += 1


async def wait_until(condition: object) -> None:
    """Wait (in virtual time) until ``condition()`` holds."""
    with trio.fail_after(60):
        while not condition():  # type: ignore[operator]
            await trio.sleep(0.01)


@pytest.mark.trio
async def test_last_prices_follow_trades_across_a_dropped_connection(
        autojump_clock: trio.testing.MockClock) -> None:
    async with open_fake_upbit(seed=1, rate=0) as fake:  # rate=0: the market trades only when told
        async with ub.open_upbit_session(connector=fake.connector()) as session, trio.open_nursery() as nursery:
            prices = LastPrices()
            await nursery.start(prices.follow, session, ["KRW-BTC", "KRW-ETH"])
            await wait_until(lambda: prices.trades == 2)  # the snapshots: connected and subscribed

            made = fake.tick(3, code="KRW-BTC")  # three trades, now
            await wait_until(lambda: prices.trades == 5)
            assert prices.price["KRW-BTC"] == made[-1].trade_price

            fake.drop_all()  # the connection breaks; the session reconnects by itself
            await wait_until(lambda: prices.gaps == 1 and prices.trades == 7)  # a gap, then fresh snapshots
            made = fake.tick(1, code="KRW-ETH")
            await wait_until(lambda: prices.trades == 8)
            assert prices.price["KRW-ETH"] == made[-1].trade_price
            assert session.stats().connections["public"].reconnects == 1
            nursery.cancel_scope.cancel()
