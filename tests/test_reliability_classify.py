"""R10: every row of the error-classification table, as a pure lookup and end to end."""

from __future__ import annotations

import functools
import logging
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
import trio
import trio.testing

import upbit_stream as ub
from upbit_stream._core.classify import REPEAT_LIMIT, Recovery, classify
from upbit_stream._trio.groups import single_errors
from upbit_stream._transports.via_trio_websocket import trio_websocket_connector
from upbit_stream.testing import FakeUpbit, open_fake_upbit
from upbit_stream.testing._chaos import close_connection

from session_helpers import memory_connector, settings_for

R = Recovery
K = ub.ConnectionEventKind


# -- the table, row by row ----------------------------------------------------------------------

STATUS_ROWS = [
    (301, R.FATAL), (302, R.FATAL), (307, R.FATAL), (308, R.FATAL),
    (400, R.FATAL), (401, R.FATAL), (403, R.FATAL), (404, R.FATAL), (405, R.FATAL), (410, R.FATAL),
    (408, R.RETRY), (429, R.THROTTLED), (418, R.BANNED),
    (500, R.RETRY), (502, R.RETRY), (503, R.RETRY), (504, R.RETRY), (200, R.RETRY),
]
CLOSE_ROWS = [
    (1000, R.RETRY), (1001, R.RETRY), (1005, R.RETRY), (1006, R.RETRY), (None, R.RETRY), (1011, R.RETRY),
    (1012, R.RETRY), (1013, R.RETRY), (1014, R.RETRY), (1015, R.RETRY), (3000, R.RETRY), (3999, R.RETRY),
    (1002, R.FATAL_IF_REPEATED), (1003, R.FATAL_IF_REPEATED), (1004, R.FATAL_IF_REPEATED),
    (1007, R.FATAL_IF_REPEATED), (1008, R.FATAL_IF_REPEATED), (1009, R.FATAL_IF_REPEATED),
    (1010, R.FATAL_IF_REPEATED), (4000, R.FATAL_IF_REPEATED), (4999, R.FATAL_IF_REPEATED),
]
SERVER_ERROR_ROWS = [
    ("INVALID_AUTH", R.FATAL), ("WRONG_FORMAT", R.FATAL), ("INVALID_PARAM", R.FATAL), ("NO_CODES", R.FATAL),
    ("NO_TICKET", R.FATAL), ("NO_TYPE", R.FATAL), ("A_NAME_NOBODY_KNOWS", R.FATAL),
    ("Too Many Requests", R.RETRY), ("TOO_MANY_REQUESTS", R.RETRY), ("I'm a teapot", R.RETRY),
]


@pytest.mark.parametrize(("status", "recovery"), STATUS_ROWS)
def test_handshake_status_rows(status, recovery):
    assert classify(status=status) is recovery


@pytest.mark.parametrize(("code", "recovery"), CLOSE_ROWS)
def test_close_code_rows(code, recovery):
    assert classify(closed=True, close_code=code) is recovery


@pytest.mark.parametrize(("name", "recovery"), SERVER_ERROR_ROWS)
def test_server_error_rows(name, recovery):
    assert classify(server_error=name) is recovery


def wrapped(inner: BaseException) -> ub.ConnectError:
    """``inner`` as the transport reports it: trio's BrokenResourceError, then ``ConnectError from None``."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise trio.BrokenResourceError("broken") from exc
    except trio.BrokenResourceError:
        try:
            raise ub.ConnectError("cannot connect") from None
        except ub.ConnectError as outer:
            return outer


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError("timed out"),
    trio.TooSlowError(),
    socket.gaierror(-3, "Temporary failure in name resolution"),
    OSError(101, "Network is unreachable"),
    ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
    ssl.SSLError(1, "sslv3 alert handshake failure"),
    ub.ConnectError("no handshake within 10 s"),
], ids=lambda e: type(e).__name__)
def test_os_and_tls_failures_are_retried(error):
    assert classify(error=error) is R.RETRY
    assert classify(error=wrapped(error)) is R.RETRY


def test_certificate_failures_are_fatal_however_wrapped():
    failure = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert classify(error=failure) is R.FATAL
    assert classify(error=wrapped(failure)) is R.FATAL
    assert ssl.CertificateError is ssl.SSLCertVerificationError  # one row covers both names


def test_classify_takes_exactly_one_failure():
    for bad in ({}, {"status": 500, "server_error": "X"}, {"close_code": 1000, "status": 1}):
        with pytest.raises(TypeError, match="exactly one"):
            classify(**bad)


def test_the_docstring_table_lists_every_recovery():
    import upbit_stream._core.classify as module

    table = module.__doc__
    for recovery in Recovery:
        assert f"  {recovery.value}  " in table


# -- real TLS failures, as trio raises them -----------------------------------------------------


@pytest.fixture(scope="module")
def untrusted_cert(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    where = tmp_path_factory.mktemp("cert")
    key, cert = where / "key.pem", where / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


async def tls_handshake_failure(server) -> BaseException:
    """The exception a default-context TLS client gets from ``server(stream)`` over memory streams."""
    client_raw, server_raw = trio.testing.memory_stream_pair()
    client = trio.SSLStream(client_raw, ssl.create_default_context(), server_hostname="127.0.0.1")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server, server_raw)
        with pytest.raises(trio.BrokenResourceError) as caught:
            await client.do_handshake()
        nursery.cancel_scope.cancel()
    return caught.value


async def test_a_real_tls_eof_is_retried():
    async def hang_up(stream):
        await stream.receive_some()
        await stream.aclose()

    failure = await tls_handshake_failure(hang_up)
    assert isinstance(failure.__cause__, ssl.SSLEOFError)
    assert classify(error=failure) is R.RETRY


async def test_a_real_untrusted_certificate_is_fatal(untrusted_cert):
    cert, key = untrusted_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def serve_tls(stream):
        with pytest.raises(trio.BrokenResourceError):
            await trio.SSLStream(stream, context, server_side=True).do_handshake()

    failure = await tls_handshake_failure(serve_tls)
    assert isinstance(failure.__cause__, ssl.SSLCertVerificationError)
    assert classify(error=failure) is R.FATAL


# -- end to end against the fake exchange ------------------------------------------------------


def session(fake: FakeUpbit, **sections):
    return ub.open_upbit_session(config=settings_for(fake, **sections), access_key=fake.access_key,
                                 secret_key=fake.secret_key, connector=memory_connector(fake))


def handshakes(fake: FakeUpbit, endpoint: str = "public") -> list:
    return [r for r in fake.requests if r.kind == "handshake" and r.endpoint == endpoint]


@pytest.mark.parametrize("status", [301, 308, 400, 401, 403, 404])
async def test_fatal_statuses_reach_the_user_after_one_attempt(fake, autojump_clock, status):
    fake.refuse_handshakes(5, status)
    with trio.fail_after(600):
        async with session(fake) as s, s.connection_events() as events:
            start = trio.current_time()
            with pytest.raises(ub.ConnectError, match=str(status)):
                async with s.ticker("KRW-BTC") as tickers:
                    await tickers.receive()
            assert trio.current_time() - start < 1.0
            gave_up = await events.receive()
            assert gave_up.kind is K.GAVE_UP and str(status) in gave_up.reason
            await trio.sleep(120)
            assert len(handshakes(fake)) == 1
            assert s.health().status != "healthy"


@pytest.mark.parametrize(("status", "error"), [(401, ub.AuthenticationError), (403, ub.AuthenticationError),
                                               (302, ub.ConnectError)])
async def test_private_refusals_are_fatal_and_public_goes_on(fake, autojump_clock, status, error):
    with trio.fail_after(60):
        async with session(fake) as s, s.ticker("KRW-BTC") as tickers:
            await tickers.receive()
            fake.refuse_handshakes(1, status)
            with pytest.raises(error, match=str(status)):
                async with s.my_asset() as assets:
                    await assets.receive()
            fake.tick(1, code="KRW-BTC")
            assert (await tickers.receive()).stream_type is ub.StreamType.REALTIME
        assert len(handshakes(fake, "private")) == 1


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
async def test_retried_statuses_resume_quickly(fake, autojump_clock, status):
    fake.refuse_handshakes(3, status)
    with trio.fail_after(60):
        async with session(fake) as s, s.ticker("KRW-BTC") as tickers:
            assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT
            assert trio.current_time() < 0.5 + 1.0 + 2.0 + 1  # three backoffs: ceilings 0.5, 1, 2 s
    assert [r.status for r in handshakes(fake)] == [status] * 3 + [101]


@pytest.mark.parametrize(("status", "cooldown"), [(429, "throttled_cooldown"), (418, "banned_cooldown")])
async def test_429_and_418_wait_their_cooldown(fake, autojump_clock, status, cooldown):
    fake.refuse_handshakes(1, status)
    with trio.fail_after(3600):
        async with session(fake, reconnect={"throttled_cooldown": 60, "banned_cooldown": 600}) as s:
            async with s.ticker("KRW-BTC") as tickers:
                assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT
    first, second = handshakes(fake)
    wait = second.time - first.time
    assert {"throttled_cooldown": 60, "banned_cooldown": 600}[cooldown] <= wait < 60 + 601


@pytest.mark.parametrize("name", ["WRONG_FORMAT", "INVALID_PARAM", "NO_CODES", "NO_TICKET", "NO_TYPE"])
async def test_request_errors_fail_only_the_subscriber_that_asked(fake, autojump_clock, name):
    with trio.fail_after(60):
        async with session(fake) as s, s.ticker("KRW-BTC") as first:
            await first.receive()
            fake.refuse_stream("trade", "KRW-ETH", name)  # the server refuses every request naming it
            with pytest.raises(ub.ServerError, match=name) as caught:
                async with s.trade("KRW-ETH") as second:
                    await second.receive()
            assert caught.value.name == name
            fake.tick(1, code="KRW-BTC")
            assert (await first.receive()).stream_type is ub.StreamType.REALTIME
            assert len(handshakes(fake)) == 1 and s.stats().connections["public"].reconnects == 0


async def test_in_band_invalid_auth_is_fatal_after_one_attempt(fake, autojump_clock):
    with trio.fail_after(600):
        async with ub.open_upbit_session(config=settings_for(fake), access_key="nobody", secret_key="nothing",
                                         connector=memory_connector(fake)) as s, s.connection_events() as events:
            with pytest.raises(ub.AuthenticationError, match="INVALID_AUTH"):
                async with s.my_order() as orders:
                    await orders.receive()
            kinds = [(await events.receive()).kind for _ in range(3)]
            assert kinds == [K.CONNECTED, K.DISCONNECTED, K.GAVE_UP]
            await trio.sleep(300)
    assert len(handshakes(fake, "private")) == 1


async def test_a_request_refused_for_its_rate_is_sent_again_and_nobody_fails(autojump_clock):
    # The fake allows one request per second: our limiter allows five, so some are refused in-band.
    async with open_fake_upbit(seed=7, rate=0, idle_timeout=None, requests_per_second=1) as fake:
        with trio.fail_after(60):
            async with session(fake, subscription={"debounce": 0}) as s:
                async with s.ticker("KRW-BTC") as a:
                    await a.receive()
                    async with s.trade("KRW-ETH") as b, s.orderbook("KRW-XRP", depth=5) as c:
                        for channel in (b, c):
                            assert (await channel.receive()).stream_type is ub.StreamType.SNAPSHOT
                        refused = [r for r in fake.requests if r.kind == "message" and r.error is not None]
                        assert refused and all(r.error.name == "Too Many Requests" for r in refused)
                        assert s.stats().connections["public"].unmatched_errors == 0


async def test_a_rate_error_matching_no_request_changes_nothing(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s, s.ticker("KRW-BTC") as tickers:
            await tickers.receive()
            await trio.sleep(2)
            for name in ("Too Many Requests", "I'm a teapot"):
                fake.send_frame({"error": {"name": name, "message": "slow down"}})
                await trio.sleep(1)
            fake.tick(1, code="KRW-BTC")
            assert (await tickers.receive()).stream_type is ub.StreamType.REALTIME
            assert len([r for r in fake.requests if r.kind == "message"]) == 1
            assert s.stats().connections["public"].unmatched_errors == 2


@pytest.mark.parametrize("code", [1000, 1001, 1006, 1011, 1012, 1013])
async def test_retried_closes_reconnect_and_resume(fake, autojump_clock, code):
    with trio.fail_after(60):
        async with session(fake) as s, s.connection_events() as events, s.ticker("KRW-BTC") as tickers:
            await tickers.receive()
            [conn] = fake.connections
            if code == 1006:
                fake.drop_all()
            else:
                await close_connection(fake, conn.id, code)
            assert [(await events.receive()).kind for _ in range(3)] == [K.CONNECTED, K.DISCONNECTED, K.RECONNECTED]
            assert (await tickers.receive()).stream_type is ub.StreamType.SNAPSHOT


@pytest.mark.parametrize("code", [1002, 1003, 1008, 4000])
async def test_repeated_policy_closes_give_up_after_the_limit(fake, autojump_clock, code):
    async def close_every_connection():
        seen = 0
        while True:
            [*_, record] = await fake.wait_for_request(
                lambda r: r.kind == "handshake" and r.status == 101 and r.connection > seen)
            seen = record.connection
            await close_connection(fake, seen, code, "policy")

    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(close_every_connection)
            async with session(fake) as s:
                with pytest.raises(ub.ConnectError, match=f"{REPEAT_LIMIT} failures in a row.*{code}"):
                    async with s.ticker("KRW-BTC") as tickers:
                        await tickers.receive()
            nursery.cancel_scope.cancel()
    assert len(handshakes(fake)) == REPEAT_LIMIT


# -- end to end over real sockets: refused, reset, TLS EOF, timeout ----------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def misbehaving_server(nursery: trio.Nursery, behaviour: str) -> tuple[int, list[int]]:
    """A TCP server on 127.0.0.1 that resets, hangs up or says nothing; returns (port, accept log)."""
    accepted: list[int] = []

    async def handler(stream: trio.SocketStream) -> None:
        accepted.append(1)
        if behaviour == "reset":
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        elif behaviour == "silent":
            await trio.sleep_forever()
        else:
            await stream.receive_some()  # a ClientHello, then EOF mid-handshake
        await stream.aclose()

    listeners = await nursery.start(functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    return listeners[0].socket.getsockname()[1], accepted


@pytest.mark.parametrize(("behaviour", "scheme"), [("refused", "ws"), ("reset", "ws"), ("eof", "wss"),
                                                   ("silent", "ws")])
async def test_network_failures_are_retried_over_real_sockets(caplog, behaviour, scheme):
    caplog.set_level(logging.INFO, logger="upbit_stream")
    settings = ub.Settings().evolve(connection={"connect_timeout": 0.2},
                                    reconnect={"initial_delay": 0.05, "max_delay": 0.1})
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            port, accepted = (closed_port(), []) if behaviour == "refused" else await misbehaving_server(
                nursery, behaviour)
            url = f"{scheme}://127.0.0.1:{port}/websocket/v1"
            async with ub.open_upbit_session(config=settings.evolve(connection={"public_url": url}),
                                             connector=trio_websocket_connector(connect_timeout=0.2)) as s:
                async with s.ticker("KRW-BTC"):
                    while sum("retrying" in r.getMessage() for r in caplog.records) < 2:
                        await trio.sleep(0.05)
                    assert s.stats().connections["public"].state in ("backoff", "connecting")
            nursery.cancel_scope.cancel()
    assert behaviour == "refused" or len(accepted) >= 2


async def test_untrusted_certificate_is_fatal_on_the_first_attempt(untrusted_cert):
    cert, key = untrusted_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def hang(stream):
        try:
            await stream.do_handshake()  # the client sees the certificate, then refuses it
        except trio.BrokenResourceError:
            pass
        await trio.sleep_forever()

    with single_errors():
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(trio.serve_ssl_over_tcp, hang, 0, context, host="127.0.0.1"))
            port = listeners[0].transport_listener.socket.getsockname()[1]
            url = f"wss://127.0.0.1:{port}/websocket/v1"
            async with ub.open_upbit_session(config=ub.Settings().evolve(connection={"public_url": url}),
                                             connector=trio_websocket_connector(connect_timeout=3)) as s:
                with trio.fail_after(1), pytest.raises(ub.ConnectError, match="certificate"):
                    async with s.ticker("KRW-BTC") as tickers:
                        await tickers.receive()
            nursery.cancel_scope.cancel()
