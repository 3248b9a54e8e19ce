"""permessage-deflate (RFC 7692): agreed with a client that offers it, as Upbit does; never with one that does not."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from serve_helpers import served
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from upbit_stream.testing import FakeUpbit, open_fake_upbit

REQUEST = json.dumps([{"ticket": "deflate"}, {"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True}])


class Client:
    """websockets' public sans-I/O client over a trio stream; keeps every byte the server sent."""

    def __init__(self, stream: trio.abc.Stream, proto: ClientProtocol) -> None:
        self.stream, self.proto = stream, proto
        self.wire = bytearray()
        self.response: Response | None = None
        self.messages: list[bytes | str] = []

    async def flush(self) -> None:
        for data in self.proto.data_to_send():
            if data:
                await self.stream.send_all(data)

    async def pump(self) -> None:
        data = await self.stream.receive_some(1 << 16)
        self.wire += data
        if data:
            self.proto.receive_data(data)
        else:
            self.proto.receive_eof()
        await self.flush()
        for event in self.proto.events_received():
            if isinstance(event, Response):
                self.response = event
            elif event.opcode in (Opcode.TEXT, Opcode.BINARY):
                self.messages.append(event.data.decode() if event.opcode is Opcode.TEXT else event.data)

    async def send(self, message: str) -> None:
        self.proto.send_text(message.encode())
        await self.flush()

    async def receive(self) -> bytes | str:
        with trio.fail_after(10):
            while not self.messages:
                assert self.proto.close_sent is None, f"the client failed the connection: {self.proto.close_sent}"
                await self.pump()
        return self.messages.pop(0)

    def frame_heads(self) -> list[tuple[bool, int]]:
        """(RSV1, opcode) of every complete frame the server sent after its 101 answer."""
        at, data, heads = bytes(self.wire).index(b"\r\n\r\n") + 4, bytes(self.wire), []
        while at + 2 <= len(data):
            size, start = data[at + 1] & 0x7F, at + 2
            if size >= 126:
                width = 2 if size == 126 else 8
                size, start = int.from_bytes(data[at + 2:at + 2 + width], "big"), at + 2 + width
            if start + size > len(data):
                break
            heads.append((bool(data[at] & 0x40), data[at] & 0x0F))
            at = start + size
        return heads


@asynccontextmanager
async def client(url: str, *, offer: bool = True, ca: str | None = None, **params: Any) -> AsyncIterator[Client]:
    """A websockets client at ``url``, offering permessage-deflate (with ``params``) if ``offer``."""
    uri = parse_uri(url)
    stream: trio.abc.Stream = await trio.open_tcp_stream(uri.host, uri.port)
    if uri.secure:
        stream = trio.SSLStream(stream, ssl.create_default_context(cafile=ca), server_hostname=uri.host)
    extensions = [ClientPerMessageDeflateFactory(**params)] if offer else None  # None: no header at all
    ws = Client(stream, ClientProtocol(uri, extensions=extensions))
    ws.proto.send_request(ws.proto.connect())
    await ws.flush()
    with trio.fail_after(10):
        while ws.response is None and ws.proto.handshake_exc is None:
            await ws.pump()
    assert ws.proto.handshake_exc is None, ws.proto.handshake_exc
    try:
        yield ws
    finally:
        await trio.aclose_forcefully(stream)


def agreed(ws: Client) -> str | None:
    assert ws.response is not None
    return ws.response.headers.get("Sec-WebSocket-Extensions")


async def trades(fake: FakeUpbit, *clients: Client, n: int = 5, others: int = 0) -> list[list[bytes | str]]:
    """Subscribe every client to KRW-BTC trades (``others`` more connections did already or will), trade ``n``
    times once all did, return what each client got."""
    for ws in clients:
        await ws.send(REQUEST)
    await fake.wait_for_request(lambda r: r.kind == "message", count=len(clients) + others)
    fake.tick(n, code="KRW-BTC")
    return [[await ws.receive() for _ in range(n)] for ws in clients]


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
async def test_a_client_offering_deflate_gets_it_and_the_same_events(tls):
    async with open_fake_upbit(rate=0, seed=3, tls=tls) as fake:
        async with client(fake.public_url, ca=fake.ca_path) as deflating, \
                client(fake.public_url, offer=False, ca=fake.ca_path) as plain:
            assert agreed(deflating) == "permessage-deflate; client_max_window_bits=15"
            assert agreed(plain) is None
            [first, second] = await fake.wait_for_connections(2)
            assert first.deflate == agreed(deflating) and second.deflate is None
            got_deflated, got_plain = await trades(fake, deflating, plain)
        assert got_deflated == got_plain and {json.loads(m)["type"] for m in got_plain} == {"trade"}
        assert {head for head in deflating.frame_heads()} == {(True, 0x2)}  # every data frame compressed
        assert {head for head in plain.frame_heads()} == {(False, 0x2)}
        assert [r.deflate for r in fake.requests if r.kind == "handshake"] == [agreed(deflating), None]
        assert "sec-websocket-extensions" in fake.requests[0].header_names
        assert "sec-websocket-extensions" not in fake.requests[1].header_names


@pytest.mark.parametrize(("params", "answer"), [
    ({"server_no_context_takeover": True, "client_no_context_takeover": True, "server_max_window_bits": 10,
      "client_max_window_bits": 9},
     "client_no_context_takeover; server_no_context_takeover; client_max_window_bits=9; server_max_window_bits=10"),
    ({"server_max_window_bits": 9, "client_max_window_bits": None}, "server_max_window_bits=9"),
], ids=["no-context-takeover", "small-window"])
async def test_the_clients_parameters_are_agreed(params, answer):
    """A window of 2^9 bytes with the context kept: 200 trades of ~450 bytes reach back further than that if
    the server compressed with a larger window, and the client's inflater would fail."""
    async with open_fake_upbit(rate=0) as fake:
        async with client(fake.public_url, **params) as ws:
            assert agreed(ws) == f"permessage-deflate; {answer}"
            [got] = await trades(fake, ws, n=200)
            await ws.send("PING")  # compressed text both ways
            assert await ws.receive() == b'{"status":"UP"}'
        assert len(got) == 200 and all(json.loads(m)["code"] == "KRW-BTC" for m in got)


async def test_compression_false_never_agrees():
    async with open_fake_upbit(rate=0, compression=False) as fake:
        async with client(fake.public_url) as ws:
            assert agreed(ws) is None and (await fake.wait_for_connections())[0].deflate is None
            [got] = await trades(fake, ws)
        assert len(got) == 5 and {head for head in ws.frame_heads()} == {(False, 0x2)}
        assert "sec-websocket-extensions" in fake.requests[0].header_names  # offered, refused


async def test_our_own_connectors_do_not_offer_it_and_get_the_same_events(make_connector):
    async with open_fake_upbit(rate=0, seed=5) as fake, client(fake.public_url) as deflating, \
            make_connector()(fake.public_url, []) as wire:
        await wire.send(REQUEST)
        [got_deflated] = await trades(fake, deflating, others=1)
        with trio.fail_after(10):
            got_ours = [await wire.receive() for _ in got_deflated]
        ours = [r for r in fake.requests if r.kind == "handshake"][1]
        assert "sec-websocket-extensions" not in ours.header_names and ours.deflate is None
        assert (await fake.wait_for_connections(2))[1].deflate is None
    assert got_ours == got_deflated


async def test_a_big_message_goes_out_compressed():
    big = json.dumps([{"type": "orderbook", "code": "KRW-BTC", "n": i, "units": [1.5] * 20} for i in range(2000)])
    async with open_fake_upbit(rate=0) as fake, client(fake.public_url) as ws:
        [conn] = await fake.wait_for_connections()
        before = conn.stream.bytes_sent
        fake.send_raw(big.encode())
        assert await ws.receive() == big.encode()
        wire = conn.stream.bytes_sent - before
    assert len(big) > 250_000 and wire < len(big) / 10


async def test_blast_compresses_for_a_compressing_client_and_not_for_ours():
    async with open_fake_upbit(blast=True, blast_ring_size=256, seed=1) as fake:
        async with client(fake.public_url) as deflating:
            await deflating.send(REQUEST)
            got = [json.loads(await deflating.receive()) for _ in range(300)]  # past the ring's end: it wraps
            assert {m["type"] for m in got} == {"trade"}
            assert {head for head in deflating.frame_heads()} == {(True, 0x2)}
        async with client(fake.public_url, offer=False) as plain:
            await plain.send(REQUEST)
            again = [json.loads(await plain.receive()) for _ in range(300)]
            assert {head for head in plain.frame_heads()} == {(False, 0x2)}
    assert [m["sequential_id"] for m in again[:256]] == [m["sequential_id"] for m in got[:256]]


async def test_paced_blast_stamps_compressed_frames():
    async with open_fake_upbit(blast=True, blast_rate=2000, blast_ring_size=64) as fake, \
            client(fake.public_url) as ws:
        await ws.send(REQUEST)
        got = [json.loads(await ws.receive()) for _ in range(50)]
        assert {head for head in ws.frame_heads()} == {(True, 0x2)}
    assert all(abs(m["timestamp"] - got[0]["timestamp"]) < 5000 for m in got)


async def test_ping_and_close_on_a_compressing_connection():
    async with open_fake_upbit(rate=0, idle_timeout=None) as fake:
        async with client(fake.public_url) as ws:
            ws.proto.send_ping(b"hi")
            ws.proto.send_close(1000, "bye")
            await ws.flush()
            with trio.fail_after(10):
                while ws.proto.close_rcvd is None:
                    await ws.pump()
            assert (ws.proto.close_rcvd.code, ws.proto.close_rcvd.reason) == (1000, "bye")
        closed = await fake.wait_for_request(lambda r: r.kind == "close")
    assert closed[0].status == 1000 and fake.server_errors == []


async def test_serve_no_compression(tmp_path):
    for args, expected in ((), "permessage-deflate; client_max_window_bits=15"), (("--no-compression",), None):
        with served("--rate", "0", *args, cwd=tmp_path) as fake:
            async with client(fake.public_url) as ws:
                assert agreed(ws) == expected
