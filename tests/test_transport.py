"""Both connectors over real sockets on 127.0.0.1: frames, ping, close codes, handshake failures, limits, TLS."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import trio
import trustme

import upbit_stream as ub
from upbit_stream._core.classify import Recovery, classify
from upbit_stream._transports.seam import Disconnected
from upbit_stream.testing import FakeUpbit, open_fake_upbit
from upbit_stream.testing._auth import make_token

MakeConnector = Callable[..., ub.Connector]


async def _server_close(fake: FakeUpbit, code: int, reason: str) -> None:
    await fake.wait_for_connections()
    fake.nursery.start_soon(fake.connections[0].ws.aclose, code, reason)


async def test_text_and_binary_frames_keep_their_type_both_ways(fake, make_connector):
    with trio.fail_after(10):
        async with make_connector()(fake.public_url, []) as wire:
            await wire.send("PING")
            assert await wire.receive() == b'{"status":"UP"}'  # the fake answers in binary frames
            await wire.send(b"PING")
            assert await wire.receive() == b'{"status":"UP"}'
            fake.send_raw("some text")
            fake.send_raw(b"\x00\xffbinary")
            assert await wire.receive() == "some text"
            assert await wire.receive() == b"\x00\xffbinary"
        pings = [r.raw for r in fake.requests if r.kind == "ping"]
        assert pings == ["PING", b"PING"]


async def test_ping_returns_on_pong_and_waits_while_the_peer_is_silent(fake, make_connector):
    with trio.fail_after(10):
        async with make_connector()(fake.public_url, []) as wire:
            await wire.ping()
            fake.stall()
            with trio.move_on_after(0.3) as waited:
                await wire.ping()
            assert waited.cancelled_caught  # no pong while stalled: ping() must not return
            fake.resume()
            await wire.ping()


@pytest.mark.parametrize(("code", "reason"), [(1000, "Idle Timeout"), (1001, "going away"), (4001, "bye")])
async def test_close_code_and_reason_surface_as_disconnected(fake, make_connector, code, reason):
    with trio.fail_after(10):
        async with make_connector()(fake.public_url, []) as wire:
            await _server_close(fake, code, reason)
            with pytest.raises(Disconnected) as info:
                while True:
                    await wire.receive()
            assert info.value.code == code and reason in str(info.value)
            with pytest.raises(Disconnected):
                await wire.send("PING")  # sending on a closed connection is Disconnected too


async def test_dropped_socket_is_disconnected_without_a_code(fake, make_connector):
    with trio.fail_after(10):
        async with make_connector()(fake.public_url, []) as wire:
            await fake.wait_for_connections()
            fake.drop_all()
            with pytest.raises(Disconnected) as info:
                await wire.receive()
            assert info.value.code is None and "without a close frame" in str(info.value)


async def test_ping_on_a_closed_connection_is_disconnected(fake, make_connector):
    with trio.fail_after(10):
        async with make_connector()(fake.public_url, []) as wire:
            await _server_close(fake, 4002, "gone")
            with pytest.raises(Disconnected):
                await wire.receive()
            with pytest.raises(Disconnected):
                await wire.ping()


@pytest.mark.parametrize(("status", "error"), [(429, ub.RateLimitedError), (418, ub.RateLimitedError),
                                               (401, ub.ConnectError), (503, ub.ConnectError)])
async def test_refused_handshake_carries_its_status(fake, make_connector, status, error):
    fake.refuse_handshakes(1, status)
    with trio.fail_after(10):
        with pytest.raises(error) as info:
            async with make_connector()(fake.public_url, []):
                pass
    assert type(info.value) is error and info.value.status == status and str(status) in str(info.value)


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_refused_tcp_connection_is_a_connect_error(make_connector):
    with trio.fail_after(5):
        with pytest.raises(ub.ConnectError, match="cannot connect") as info:
            async with make_connector()(f"ws://127.0.0.1:{_unused_port()}/websocket/v1", []):
                pass
    assert info.value.status is None


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port whose connections are accepted by the kernel and never answered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


async def test_silent_server_hits_the_connect_timeout(make_connector, silent_listener):
    start = trio.current_time()
    with trio.fail_after(5):
        with pytest.raises(ub.ConnectError, match=r"no handshake within 0\.3 s"):
            async with make_connector(connect_timeout=0.3)(f"ws://127.0.0.1:{silent_listener}/", []):
                pass
    assert trio.current_time() - start < 3


@pytest.fixture
async def hang_up_listener(nursery: trio.Nursery) -> int:
    """A TCP port whose server reads the client's first bytes, then closes without a word."""

    async def hang_up(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        await stream.aclose()

    listeners = await nursery.start(trio.serve_tcp, hang_up, 0)
    return listeners[0].socket.getsockname()[1]


async def test_server_closing_before_the_http_answer_is_a_connect_error(make_connector, transport, hang_up_listener):
    start = trio.current_time()
    with trio.fail_after(5):
        with pytest.raises(ub.ConnectError):
            async with make_connector(connect_timeout=1)(f"ws://127.0.0.1:{hang_up_listener}/", []):
                pass
    if transport == "websockets":  # trio-websocket only notices at connect_timeout (its reader ends silently)
        assert trio.current_time() - start < 0.5


async def test_message_over_max_size_closes_with_1009(fake, make_connector):
    with trio.fail_after(10):
        async with make_connector(max_message_size=1000)(fake.public_url, []) as wire:
            await fake.wait_for_connections()
            fake.send_raw(b"x" * 1000)
            assert len(await wire.receive()) == 1000
            fake.send_raw(b"x" * 1001)
            with pytest.raises(Disconnected) as info:
                await wire.receive()
            assert info.value.code == 1009


async def test_no_secret_in_debug_logs_of_a_private_connect(fake, make_connector, transport, caplog):
    caplog.set_level(logging.DEBUG)
    token = make_token(fake.access_key, fake.secret_key)
    with trio.fail_after(10):
        async with make_connector()(fake.private_url, [("Authorization", f"Bearer {token}")]) as wire:
            await wire.send('[{"ticket":"t"},{"type":"myAsset"}]')
            await wire.send("PING")
            assert await wire.receive() == b'{"status":"UP"}'
    handshake = next(r for r in fake.requests if r.kind == "handshake")
    assert handshake.detail is None  # the token did reach the server
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (token, token.split(".")[2], fake.secret_key, "Bearer"):
        assert secret not in text
    if transport == "websockets":  # its handshake log is on: the request line is there, no header line
        assert "GET /websocket/v1/private" in caplog.text and "uthorization" not in caplog.text


# -- TLS ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_fake(ca: trustme.CA) -> AsyncIterator[FakeUpbit]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    async with open_fake_upbit(seed=7, rate=0, idle_timeout=None, ssl_context=server_context) as server:
        yield server


async def test_tls_with_an_unknown_ca_fails_at_once(tls_fake, make_connector):
    assert tls_fake.public_url.startswith("wss://")
    start = trio.current_time()
    with trio.fail_after(10):
        with pytest.raises(ub.ConnectError, match="TLS certificate not trusted: .*local issuer") as info:
            async with make_connector()(tls_fake.public_url, []):
                pass
    assert trio.current_time() - start < 2  # refused on the first attempt, not after connect_timeout
    assert classify(error=info.value) is Recovery.FATAL  # the connection gives up: no retry storm


async def test_tls_with_the_right_ca_connects(tls_fake, make_connector, ca):
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with trio.fail_after(10):
        async with make_connector(ssl_context=context)(tls_fake.public_url, []) as wire:
            await wire.send("PING")
            assert await wire.receive() == b'{"status":"UP"}'
            await wire.ping()


async def test_tls_host_name_is_checked(tls_fake, make_connector, ca):
    context = ssl.create_default_context()
    ca.configure_trust(context)
    url = tls_fake.public_url.replace("127.0.0.1", "localhost")  # the certificate names 127.0.0.1 only
    with trio.fail_after(10):
        with pytest.raises(ub.ConnectError, match="TLS certificate not trusted: .*[Hh]ostname mismatch"):
            async with make_connector(ssl_context=context)(url, []):
                pass


async def test_server_closing_during_the_tls_handshake_is_a_connect_error(make_connector, hang_up_listener):
    start = trio.current_time()
    with trio.fail_after(5):
        with pytest.raises(ub.ConnectError, match="cannot connect: SSL|cannot connect: Connection") as info:
            async with make_connector(connect_timeout=3)(f"wss://127.0.0.1:{hang_up_listener}/", []):
                pass
    assert trio.current_time() - start < 2
    assert classify(error=info.value) is Recovery.RETRY  # a dropped link, not a TLS verdict


async def test_leaving_while_the_peer_floods_unread_frames_closes_promptly(make_connector):
    async with open_fake_upbit(seed=7, blast=True, idle_timeout=None) as fake:
        for ending in ("normal", "error"):
            start = trio.current_time()
            with trio.fail_after(10):
                with pytest.raises(KeyError) if ending == "error" else contextlib.nullcontext():
                    async with make_connector()(fake.public_url, []) as wire:
                        await wire.send('[{"ticket":"t"},{"type":"ticker","codes":["KRW-BTC","KRW-ETH"]}]')
                        await wire.receive()
                        await trio.sleep(0.3)  # nobody reads: every buffer on the way fills up
                        if ending == "error":
                            raise KeyError("mine")
            assert trio.current_time() - start < 0.3 + 2 * 2.0 + 1  # at most the close timeout, bounded
