"""``[connection] ca_file``: wss:// to a server whose authority only that file names, over both transports."""

from __future__ import annotations

import ssl

import pytest
import trio
import trustme

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit

from session_helpers import settings_for, stream_public_and_private


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


async def test_a_session_trusts_the_authorities_of_ca_file(transport, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with trio.fail_after(20):
        async with open_fake_upbit(seed=3, rate=50, tls=True) as fake:
            assert fake.ca_path is not None
            settings = settings_for(fake, connection={"ca_file": fake.ca_path, "transport": transport})
            await stream_public_and_private(fake, settings)


async def test_without_ca_file_the_same_server_is_not_trusted(transport, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with trio.fail_after(20):
        async with open_fake_upbit(seed=3, rate=50, ssl_context=_server_context(trustme.CA())) as fake:
            settings = settings_for(fake, connection={"transport": transport})
            async with ub.open_upbit_session(config=settings) as session:
                with pytest.raises(ub.ConnectError, match="certificate"):
                    async with session.ticker("KRW-BTC") as tickers:
                        await tickers.receive()


@pytest.mark.parametrize("content", [None, b"not a certificate\n"])
async def test_an_unreadable_ca_file_fails_at_open_naming_the_setting(tmp_path, content):
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    settings = ub.Settings().evolve(connection={"ca_file": str(path)})
    with pytest.raises(ub.ConfigError, match=r"connection\.ca_file") as caught:
        async with ub.open_upbit_session(config=settings):
            pass
    assert str(path) in str(caught.value)
