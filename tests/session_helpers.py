"""Helpers for session tests: reach the fake exchange over in-memory streams (virtual time)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing
import trio_websocket

import upbit_stream as ub
from upbit_stream._transports.via_trio_websocket import _TrioWebsocketWire
from upbit_stream.testing import FakeUpbit


def memory_connector(fake: FakeUpbit) -> ub.Connector:
    """A connector that reaches ``fake`` through in-memory streams: no sockets, virtual time works."""

    @asynccontextmanager
    async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[Any]:
        client, server = trio.testing.memory_stream_pair()
        fake.nursery.start_soon(fake._handle_tcp, server)
        resource = url.split("127.0.0.1", 1)[-1].split(":", 1)[-1]
        resource = resource[resource.index("/"):]
        try:
            async with trio.open_nursery() as nursery:
                try:
                    ws = await trio_websocket.wrap_client_stream(
                        nursery, client, "127.0.0.1", resource, extra_headers=list(headers)
                    )
                except (trio_websocket.HandshakeError, trio.BrokenResourceError) as exc:
                    raise ub.ConnectError(f"handshake failed: {exc!r}") from None
                try:
                    yield _TrioWebsocketWire(ws)
                finally:
                    nursery.cancel_scope.cancel()
                    with trio.CancelScope(shield=True):
                        await trio.aclose_forcefully(client)
        except BaseExceptionGroup as group:
            rejected = group.subgroup(trio_websocket.ConnectionRejected)
            if rejected is not None:
                status = rejected.exceptions[0].status_code
                kind = ub.RateLimitedError if status in (429, 418) else ub.ConnectError
                raise kind(f"HTTP {status}", status=status) from None
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    return connect


def settings_for(fake: FakeUpbit, **sections: dict[str, Any]) -> ub.Settings:
    """Settings pointing at ``fake``, with section overrides."""
    connection = {"public_url": fake.public_url, "private_url": fake.private_url, **sections.pop("connection", {})}
    return ub.Settings().evolve(connection=connection, **sections)
