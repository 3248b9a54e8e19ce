"""Shared fixtures: a fake exchange per test, with the market quiet until the test trades; both transports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

import upbit_stream as ub
from upbit_stream._transports.via_trio_websocket import trio_websocket_connector
from upbit_stream._transports.via_websockets import websockets_connector
from upbit_stream.testing import FakeUpbit, open_fake_upbit

#: ``connection.transport`` values, each with its connector factory.
CONNECTORS: dict[str, Callable[..., ub.Connector]] = {
    "websockets": websockets_connector,
    "trio-websocket": trio_websocket_connector,
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpbit]:
    async with open_fake_upbit(seed=7, rate=0, idle_timeout=None) as server:
        yield server


@pytest.fixture(params=list(CONNECTORS))
def transport(request: pytest.FixtureRequest) -> str:
    """Each ``connection.transport`` in turn: tests using it run once per transport."""
    return request.param


@pytest.fixture
def make_connector(transport: str) -> Callable[..., ub.Connector]:
    """The connector factory of ``transport`` (keyword arguments as ``websockets_connector``)."""
    return CONNECTORS[transport]
