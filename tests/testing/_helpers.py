"""Client helpers for the fake-exchange tests: connect to it and read its frames."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from upbit_stream.testing import FakeUpbit
from upbit_stream.testing._auth import make_token


@asynccontextmanager
async def connect(fake: FakeUpbit, private: bool = False, token: str | None = None,
                  headers: list[tuple[str, str]] | None = None) -> AsyncIterator[WebSocketConnection]:
    """Open a client connection; private connections carry a fresh HS512 token unless given one."""
    extra = list(headers or [])
    if private and token is None and headers is None:
        token = make_token(fake.access_key, fake.secret_key)
    if token is not None:
        extra.append(("Authorization", f"Bearer {token}"))
    url = fake.private_url if private else fake.public_url
    async with open_websocket_url(url, extra_headers=extra) as ws:
        yield ws


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
