"""Helpers for session tests: reach the fake exchange over in-memory streams (virtual time)."""

from __future__ import annotations

from typing import Any

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit


def memory_connector(fake: FakeUpbit) -> ub.Connector:
    """The fake's own in-memory connector: no sockets, virtual time works."""
    return fake.connector()


def settings_for(fake: FakeUpbit, **sections: dict[str, Any]) -> ub.Settings:
    """Settings pointing at ``fake``, with section overrides."""
    connection = {"public_url": fake.public_url, "private_url": fake.private_url, **sections.pop("connection", {})}
    return ub.Settings().evolve(connection=connection, **sections)


async def stream_public_and_private(fake: FakeUpbit, settings: ub.Settings) -> None:
    """A session with ``settings`` gets a ticker and, after a deposit, a myAsset event from ``fake``."""
    async with ub.open_upbit_session(config=settings, access_key=fake.access_key,
                                     secret_key=fake.secret_key) as session:
        async with session.ticker("KRW-BTC") as tickers, session.my_asset() as assets:
            assert isinstance(await tickers.receive(), ub.Ticker)
            # myAsset comes only on a change after the subscription (as on Upbit): the private
            # connection's handshake may finish after the public one's first ticker
            await fake.wait_for_request(lambda r: r.kind == "message" and r.endpoint == "private" and not r.error)
            fake.deposit("KRW", 1000)
            assert isinstance(await assets.receive(), ub.MyAsset)
