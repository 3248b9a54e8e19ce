"""Helpers for session tests: reach the fake exchange over in-memory streams (virtual time)."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

import upbit_stream as ub
from upbit_stream._transports.via_trio_websocket import trio_websocket_connector
from upbit_stream.testing import FakeUpbit


def memory_connector(fake: FakeUpbit) -> ub.Connector:
    """The trio-websocket connector reaching ``fake`` over in-memory streams: no sockets, virtual time works."""

    async def open_stream(host: str, port: int) -> trio.abc.Stream:
        client, server = trio.testing.memory_stream_pair()
        fake.nursery.start_soon(fake._handle_tcp, server)
        return client

    return trio_websocket_connector(open_stream=open_stream)


def settings_for(fake: FakeUpbit, **sections: dict[str, Any]) -> ub.Settings:
    """Settings pointing at ``fake``, with section overrides."""
    connection = {"public_url": fake.public_url, "private_url": fake.private_url, **sections.pop("connection", {})}
    return ub.Settings().evolve(connection=connection, **sections)
