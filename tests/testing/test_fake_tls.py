"""``open_fake_upbit(tls=True)``: wss:// with a CA made at start, trusted by a session through SSL_CERT_FILE."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit

from session_helpers import stream_public_and_private


def settings_for(fake) -> ub.Settings:
    return ub.Settings().evolve(connection={"public_url": fake.public_url, "private_url": fake.private_url,
                                            "info_url": fake.info_url})


@pytest.mark.parametrize("transport", ["websockets", "trio-websocket"])
async def test_a_session_trusting_the_ca_file_streams_over_wss(monkeypatch, transport):
    """Only public settings: the CA file through SSL_CERT_FILE, read by ssl.create_default_context()."""
    async with open_fake_upbit(rate=50, seed=3, tls=True) as fake:
        assert fake.public_url.startswith("wss://127.0.0.1:") and fake.ca_path is not None
        ca = Path(fake.ca_path)
        assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert (ca.parent / "server.pem").stat().st_mode & 0o077 == 0  # the key is the owner's alone
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        settings = settings_for(fake).evolve(connection={"transport": transport})
        with trio.fail_after(20):
            await stream_public_and_private(fake, settings)
    assert not ca.exists() and not ca.parent.exists()  # the temporary directory goes with the fake


async def test_without_the_ca_the_certificate_is_refused(monkeypatch, tmp_path):
    other = tmp_path / "other-ca.pem"
    other.write_text("")  # trusts nothing
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    async with open_fake_upbit(rate=50, tls=True) as fake:
        async with ub.open_upbit_session(config=settings_for(fake)) as session:
            with trio.fail_after(5), pytest.raises(ub.ConnectError, match="(?i)certificate"):
                async with session.ticker("KRW-BTC") as tickers:
                    await tickers.receive()
        assert not [r for r in fake.requests if r.kind == "handshake"]


async def test_tls_dir_keeps_the_files_and_the_cert_names_loopback(tmp_path):
    folder = tmp_path / "tls"
    async with open_fake_upbit(rate=0, tls=True, tls_dir=str(folder)) as fake:
        assert fake.ca_path == str(folder / "ca.pem")
        for host in ("127.0.0.1", "localhost"):
            context = ssl.create_default_context(cafile=fake.ca_path)
            with trio.fail_after(10):
                stream = await trio.open_tcp_stream("127.0.0.1", fake.port)
                tls = trio.SSLStream(stream, context, server_hostname=host)
                await tls.do_handshake()
                await tls.aclose()
    assert (folder / "ca.pem").is_file() and (folder / "server.pem").is_file()


async def test_two_fakes_get_two_cas_and_tls_options_are_checked():
    async with open_fake_upbit(rate=0, tls=True) as one, open_fake_upbit(rate=0, tls=True) as two:
        assert Path(one.ca_path).read_text() != Path(two.ca_path).read_text()
    with pytest.raises(ValueError, match="tls=True or ssl_context="):
        async with open_fake_upbit(tls=True, ssl_context=ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)):
            pass
    with pytest.raises(ValueError, match="tls_dir= is for tls=True"):
        async with open_fake_upbit(tls_dir="x"):
            pass
    async with open_fake_upbit(rate=0) as plain:
        assert plain.ca_path is None and plain.control_port is None and plain.base_url.startswith("ws://")
