"""Client helpers for the fake-exchange tests: connect to it and read its frames."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import trio
import trio.testing
from trio_websocket import WebSocketConnection, open_websocket_url, wrap_client_stream

from upbit_stream.testing import FakeUpbit
from upbit_stream.testing._auth import make_token


@asynccontextmanager
async def connect(fake: FakeUpbit, private: bool = False, token: str | None = None,
                  headers: list[tuple[str, str]] | None = None,
                  info: bool = False) -> AsyncIterator[WebSocketConnection]:
    """Open a client connection (``info``: to ``/info``); private and info connections carry a fresh
    HS512 token unless given one."""
    extra = list(headers or [])
    if (private or info) and token is None and headers is None:
        token = make_token(fake.access_key, fake.secret_key)
    if token is not None:
        extra.append(("Authorization", f"Bearer {token}"))
    url = fake.info_url if info else fake.private_url if private else fake.public_url
    async with open_websocket_url(url, extra_headers=extra) as ws:
        yield ws


@asynccontextmanager
async def connect_in_memory(fake: FakeUpbit, private: bool = False, info: bool = False,
                            token: str | None = None) -> AsyncIterator[WebSocketConnection]:
    """Like ``connect()``, over an in-memory byte stream instead of a socket (as ``fake.connector()`` does):
    under ``autojump_clock`` virtual time then passes only while client and server both wait."""
    client, server = trio.testing.memory_stream_pair()
    assert fake.nursery is not None
    fake.nursery.start_soon(fake._handle_tcp, server)
    headers = []
    if private or info:
        headers.append(("Authorization", f"Bearer {token or make_token(fake.access_key, fake.secret_key)}"))
    path = "/websocket/v1/info" if info else "/websocket/v1/private" if private else "/websocket/v1"
    async with trio.open_nursery() as nursery:
        ws = await wrap_client_stream(nursery, client, fake.host, path, extra_headers=headers)  # type: ignore[arg-type]
        try:
            yield ws
        finally:
            await ws.aclose()


async def recv(ws: WebSocketConnection, timeout: float = 5.0) -> Any:
    """The next frame, JSON-decoded (asserting it came as a binary frame)."""
    with trio.fail_after(timeout):
        message = await ws.get_message()
    assert isinstance(message, bytes), f"expected a binary frame, got {message!r}"
    return json.loads(message)


async def send(ws: WebSocketConnection, request: Any) -> None:
    await ws.send_message(request if isinstance(request, str) else json.dumps(request))


async def no_frame(ws: WebSocketConnection, wait: float = 0.2) -> None:
    """Assert nothing arrives within ``wait`` seconds."""
    with trio.move_on_after(wait):
        message = await ws.get_message()
        raise AssertionError(f"unexpected frame {message!r}")


async def sync(ws: WebSocketConnection) -> list[Any]:
    """Round-trip a PING so the server has handled everything sent before; return frames seen meanwhile."""
    await ws.send_message("PING")
    seen = []
    while (frame := await recv(ws)) != {"status": "UP"}:
        seen.append(frame)
    return seen
