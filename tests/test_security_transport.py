"""Security S2 and S4-S5: no token in tracebacks of failed connects, TLS with a local CA, plain ws://, headers, redirects.

The wss server is the fake exchange behind ``trio.serve_ssl_over_tcp`` with a ``trustme`` CA; the
redirect server is a bare HTTP responder on 127.0.0.1; the failure paths of S2 come from the
hostile server (tests/hostile.py). Everything stays on loopback.
"""

from __future__ import annotations

import logging
import ssl
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
import trio.testing
import trustme
from hostile import Peer, open_hostile_server, unused_port
from session_helpers import memory_connector, settings_for
from test_security_secrets import ACCESS, QUICK, SECRET, Recorder, forbidden

import upbit_stream as ub
from upbit_stream._config.auth import MaskedHeaders
from upbit_stream._transports.seam import check_url
from upbit_stream._transports.via_trio_websocket import trio_websocket_connector
from upbit_stream.testing import FakeUpbit, open_fake_upbit
from upbit_stream.testing._auth import make_token


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@asynccontextmanager
async def wss_fake(ca: trustme.CA, *names: str) -> AsyncIterator[tuple[FakeUpbit, int, list[int]]]:
    """The fake exchange behind TLS with a certificate for ``names``; yields (fake, port, accepts)."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(server_context)
    accepts: list[int] = []
    async with open_fake_upbit(seed=1, rate=0, idle_timeout=None, keys={ACCESS: SECRET}) as fake:

        async def handle(stream: trio.SSLStream) -> None:
            accepts.append(1)
            await fake._handle_tcp(stream)  # type: ignore[arg-type]

        listeners = await fake.nursery.start(partial(trio.serve_ssl_over_tcp, handle, 0, server_context, host="127.0.0.1"))  # type: ignore[union-attr]
        yield fake, listeners[0].transport_listener.socket.getsockname()[1], accepts


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def private_settings(url: str) -> ub.Settings:
    return ub.Settings().evolve(connection={"private_url": url}, **QUICK)


# -- S4 ---------------------------------------------------------------------------------------------


async def test_s4_untrusted_certificate_fails_the_first_attempt_fast(ca, make_connector):
    async with wss_fake(ca, "localhost") as (fake, port, accepts):
        connect = make_connector(connect_timeout=1.5)  # default context: system CAs, not ours
        started = trio.current_time()
        with trio.fail_after(5), pytest.raises(ub.ConnectError, match="(?i)certificate") as info:
            async with connect(f"wss://localhost:{port}/websocket/v1/private", []):
                pass
        elapsed = trio.current_time() - started
    assert elapsed < 1.0
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value) or "not trusted" in str(info.value)
    assert len(accepts) == 1 and not [r for r in fake.requests if r.kind == "handshake"]


async def test_s4_untrusted_certificate_never_becomes_a_retry_storm(ca):
    # Real time: the session's own default connector, 2 s of failures.
    async with wss_fake(ca, "localhost") as (fake, port, accepts):
        settings = private_settings(f"wss://localhost:{port}/websocket/v1/private")
        async with ub.open_upbit_session(
            config=settings.evolve(connection={"connect_timeout": 0.3}),
            access_key=ACCESS, secret_key=SECRET,
        ) as session:
            with trio.move_on_after(2), pytest.raises(ub.ConnectError, match="(?i)certificate"):
                async with session.my_asset() as assets:
                    await assets.receive()
            stats = session.stats().connections["private"]
    assert 1 <= len(accepts) <= 6, f"{len(accepts)} TLS attempts in 2 s"
    assert stats.last_error and "certificate" in stats.last_error
    assert not [r for r in fake.requests if r.kind == "handshake"]  # no token ever left the TLS layer


async def test_s4_untrusted_certificate_is_fatal_after_one_attempt(ca):
    async with wss_fake(ca, "localhost") as (_fake, port, accepts):
        settings = private_settings(f"wss://localhost:{port}/websocket/v1/private")
        async with ub.open_upbit_session(config=settings, access_key=ACCESS, secret_key=SECRET) as session:
            started = trio.current_time()
            with trio.fail_after(3), pytest.raises(ub.ConnectError, match="(?i)certificate"):
                async with session.my_asset() as assets:
                    await assets.receive()
            assert trio.current_time() - started < 1.0
    assert len(accepts) == 1


async def test_s4_an_explicit_ca_context_connects(ca, make_connector):
    async with wss_fake(ca, "localhost", "127.0.0.1") as (fake, port, _accepts):
        for attempt, host in enumerate(["localhost", "127.0.0.1"]):
            async with ub.open_upbit_session(
                config=private_settings(f"wss://{host}:{port}/websocket/v1/private"),
                access_key=ACCESS, secret_key=SECRET, connector=make_connector(ssl_context=client_context(ca)),
            ) as session:
                with trio.fail_after(10):
                    async with session.my_asset() as assets:
                        await fake.wait_for_request(lambda r: r.kind == "message", count=attempt + 1)
                        fake.place_order("KRW-BTC", "bid", "limit", price="100000000", volume="0.001")
                        assert isinstance(await assets.receive(), ub.MyAsset)
    shakes = [r for r in fake.requests if r.kind == "handshake"]
    assert len(shakes) == 2 and all(r.status == 101 and r.endpoint == "private" for r in shakes)


async def test_s4_the_default_context_checks_the_host_name(ca, make_connector, monkeypatch, tmp_path):
    # Make the default context trust our CA (OpenSSL reads SSL_CERT_FILE), then serve a
    # certificate for another name: only the host name check can refuse it.
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    async with wss_fake(ca, "localhost") as (fake, port, accepts):
        connect = make_connector(connect_timeout=0.5)
        with trio.fail_after(5):
            async with connect(f"wss://localhost:{port}/websocket/v1", []):
                pass  # trusted through SSL_CERT_FILE: the setup works
            with pytest.raises(ub.ConnectError):
                async with connect(f"wss://127.0.0.1:{port}/websocket/v1", []):
                    pass
    assert len(accepts) == 2
    assert len([r for r in fake.requests if r.kind == "handshake"]) == 1  # the mismatch never got past TLS


async def test_s4_the_default_context_is_strict(monkeypatch, ca, make_connector):
    """The context the transport really wraps the TCP stream with for wss:// (captured by a spy)."""
    seen: list[ssl.SSLContext | None] = []
    real = trio.SSLStream

    def spy(stream: object, ssl_context: ssl.SSLContext, **options: object) -> object:
        seen.append(ssl_context)
        return real(stream, ssl_context, **options)

    monkeypatch.setattr(trio, "SSLStream", spy)
    async with wss_fake(ca, "localhost") as (_fake, port, _accepts):
        with pytest.raises(ub.ConnectError):
            connect = make_connector(connect_timeout=0.5)
            async with connect(f"wss://localhost:{port}/websocket/v1", []):
                pass
    [context] = seen
    assert context is not None
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("url", [
    "ws://example.com/websocket/v1/private", "ws://api.upbit.com/websocket/v1/private",
    "ws://10.0.0.1:8080/websocket/v1/private", "ws://127.0.0.1.example.com/websocket/v1/private",
    "ws://localhost.example.com/websocket/v1/private", "ws://0x7f000001/websocket/v1/private",
])
async def test_s4_plain_ws_with_credentials_is_refused_before_any_socket(url, monkeypatch):
    opened: list[object] = []

    async def no_sockets(*args: object, **kwargs: object) -> None:
        opened.append(args)
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(trio, "open_tcp_stream", no_sockets)
    recorder = Recorder(trio_websocket_connector())
    async with ub.open_upbit_session(config=private_settings(url), access_key=ACCESS, secret_key=SECRET,
                                     connector=recorder) as session:
        with trio.fail_after(5), pytest.raises(ub.ConnectError, match="unencrypted") as info:
            async with session.my_asset():
                pass
    assert not opened and not recorder.tokens
    assert ACCESS not in str(info.value) and SECRET not in str(info.value)


@pytest.mark.parametrize("url", ["ws://127.0.0.1:1/x/private", "ws://127.8.9.10/x", "ws://localhost:1/x",
                                 "ws://[::1]:1/x", "wss://example.com/x"])
def test_s4_loopback_and_wss_are_allowed_for_credentials(url):
    check_url(url, private=True)


# -- S5 ---------------------------------------------------------------------------------------------


async def test_s5_handshake_headers_in_memory(fake, autojump_clock):
    await _check_handshake_headers(fake, memory_connector(fake))


async def test_s5_handshake_headers_over_real_sockets(make_connector):
    async with open_fake_upbit(seed=1, rate=0, idle_timeout=None) as fake:
        await _check_handshake_headers(fake, make_connector())


async def _check_handshake_headers(fake: FakeUpbit, connector: ub.Connector) -> None:
    with trio.fail_after(20):
        session = ub.open_upbit_session(config=settings_for(fake), access_key=fake.access_key,
                                        secret_key=fake.secret_key, connector=connector)
        async with session as opened, opened.ticker("KRW-BTC") as tickers, opened.my_asset():
            await tickers.receive()
            await fake.wait_for_request(lambda r: r.kind == "message" and r.endpoint == "private")
    shakes = {r.endpoint: r for r in fake.requests if r.kind == "handshake"}
    assert set(shakes) == {"public", "private"}
    assert "sec-websocket-key" in shakes["public"].header_names  # the record really holds the names
    for shake in shakes.values():
        assert "origin" not in shake.header_names and "sec-websocket-origin" not in shake.header_names
        assert "cookie" not in shake.header_names
    assert "authorization" in shakes["private"].header_names
    assert "authorization" not in shakes["public"].header_names


@asynccontextmanager
async def redirecting_server(status: int) -> AsyncIterator[tuple[str, list[bytes], list[bytes]]]:
    """A 127.0.0.1 server answering every request with ``status`` and a Location on a second server.

    Yields (url, requests to the first server, bytes received by the redirect target).
    """
    requests: list[bytes] = []
    target_hits: list[bytes] = []

    async def target(stream: trio.SocketStream) -> None:
        with trio.move_on_after(2):
            target_hits.append(await stream.receive_some(65536) or b"<connect>")
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        [target_listener] = await nursery.start(partial(trio.serve_tcp, target, 0, host="127.0.0.1"))
        target_port = target_listener.socket.getsockname()[1]

        async def redirect(stream: trio.SocketStream) -> None:
            data = b""
            with trio.move_on_after(2):
                while b"\r\n\r\n" not in data:
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        break
                    data += chunk
            requests.append(data)
            location = f"ws://127.0.0.1:{target_port}/websocket/v1/private".encode()
            await stream.send_all(b"HTTP/1.1 %d Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n"
                                  b"Connection: close\r\n\r\n" % (status, location))
            await stream.aclose()

        [listener] = await nursery.start(partial(trio.serve_tcp, redirect, 0, host="127.0.0.1"))
        port = listener.socket.getsockname()[1]
        try:
            yield f"ws://127.0.0.1:{port}/websocket/v1/private", requests, target_hits
        finally:
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_s5_a_redirect_on_the_private_endpoint_is_fatal_and_never_followed(status, make_connector):
    async with (
        redirecting_server(status) as (url, requests, target_hits),
        ub.open_upbit_session(config=private_settings(url), access_key=ACCESS, secret_key=SECRET,
                              connector=make_connector()) as session,
    ):
        started = trio.current_time()
        with trio.fail_after(5), pytest.raises(ub.ConnectError) as info:
            async with session.my_asset() as assets:
                await assets.receive()
        elapsed = trio.current_time() - started
        await trio.sleep(0.3)  # a follow-up or retry would arrive by now
    assert info.value.status == status and str(status) in str(info.value)
    assert elapsed < 1.0
    assert len(requests) == 1, "a redirect is fatal: one attempt, no retry"
    assert b"\r\nauthorization: bearer " in requests[0].lower()  # the token went to the endpoint only
    assert target_hits == [], "the token must never reach the redirect target"


# -- S2 on every connection-failure path ------------------------------------------------------------


async def _respond(status: int, peer: Peer) -> None:
    await peer.respond(status, (("Location", "wss://elsewhere.example/websocket/v1/private"),) if status < 400 else ())


#: Failure path -> (server script, or None for no server / a TLS server; whether the request gets through).
FAILURE_PATHS: dict[str, tuple[Callable[[Peer], object] | None, bool]] = {
    "HTTP 401": (partial(_respond, 401), True),
    "HTTP 404": (partial(_respond, 404), True),
    "redirect 302": (partial(_respond, 302), True),
    "redirect 308": (partial(_respond, 308), True),
    "dropped handshake": (lambda peer: _chain(peer, Peer.read_request, Peer.hang_up), True),
    "reset handshake": (lambda peer: _chain(peer, Peer.read_request, Peer.reset), True),
    "reset before the request": (Peer.reset, False),
    "not HTTP": (lambda peer: _chain(peer, Peer.read_request, lambda p: p.send_raw(b"SSH-2.0-x\r\n")), True),
    "no answer": (lambda peer: _chain(peer, Peer.read_request, Peer.stall), True),
    "bad TLS certificate": (None, False),
    "refused": (None, False),
    "request not sendable": (None, False),
}


async def _broken_stream(host: str, port: int) -> trio.abc.Stream:
    """A stream whose peer is gone: sending the request fails (``open_stream`` for both connectors)."""
    client, server = trio.testing.memory_stream_pair()
    await server.aclose()
    return client


async def _chain(peer: Peer, *steps: Callable[[Peer], object]) -> None:
    for step in steps:
        await step(peer)  # type: ignore[misc]


async def _failed_connect(connector: ub.Connector, url: str, headers: Sequence[tuple[str, str]]) -> BaseException:
    """The exception of one failed attempt; this frame (part of its traceback) keeps no plain header."""
    try:
        async with connector(url, headers):
            pass
    except ub.UpbitStreamError as exc:
        del headers
        return exc
    raise AssertionError("the attempt did not fail")


@pytest.mark.parametrize("masked", [True, False], ids=["masked headers", "plain headers"])
@pytest.mark.parametrize("path", list(FAILURE_PATHS))
async def test_s2_no_token_in_the_traceback_locals_or_logs_of_a_failed_connect(make_connector, ca, caplog, path,
                                                                               masked):
    caplog.set_level(logging.DEBUG)
    token = make_token(ACCESS, SECRET)
    pairs = [("Authorization", f"Bearer {token}")]
    script, reaches_http = FAILURE_PATHS[path]
    server_context = None
    if path == "bad TLS certificate":
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server_context)
    async with open_hostile_server(script or Peer.stall, ssl_context=server_context) as server:  # type: ignore[arg-type]
        url = server.url + "/private" if path != "refused" else f"ws://127.0.0.1:{unused_port()}/v1/private"
        options = {"open_stream": _broken_stream} if path == "request not sendable" else {}
        with trio.fail_after(10):
            exc = await _failed_connect(make_connector(connect_timeout=0.5, **options), url,
                                        MaskedHeaders(pairs) if masked else pairs)
        if reaches_http:
            assert server.peers[0].request is not None
            assert server.peers[0].request.headers["authorization"] == f"Bearer {token}"  # the test is real
    assert isinstance(exc, ub.ConnectError)
    shown = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    shown += str(exc) + repr(exc) + caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "__context__" not in shown  # sanity: this is the formatted chain, not a repr
    leaks = sorted(fragment for fragment in forbidden([token]) if fragment in shown)
    assert leaks == [], f"{path}: {leaks[:3]}"
    assert "traceback" not in shown.lower() or "Traceback" in shown  # formatted with locals
    assert " = " in shown  # capture_locals really captured locals
