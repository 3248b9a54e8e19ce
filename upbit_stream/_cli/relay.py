"""``upbit-stream relay``: a session, a relay and (with ``--embedded-nats``) a nats-server, until stopped."""

from __future__ import annotations

import argparse
import math
import os
import sys
from contextlib import AsyncExitStack
from typing import Any, TextIO

import trio

from .._config.settings import Settings
from .._core.specs import Spec
from .._trio.session import open_upbit_session

__all__ = ["run_relay"]

#: Seconds between the progress lines on stderr.
PROGRESS_EVERY = 10.0


async def run_relay(specs: tuple[Spec[Any], ...], settings: Settings, args: argparse.Namespace, *,
                    stop: trio.Event, out: TextIO = sys.stdout, progress: TextIO = sys.stderr) -> int:
    """Relay ``specs`` until ``stop`` is set or ``args.seconds`` pass; returns the exit status."""
    from .._relay.relay import RelayOptions, open_relay
    from .._relay.server import open_nats_server

    async with AsyncExitStack() as stack:
        url = args.nats
        if args.embedded_nats:
            server = await stack.enter_async_context(open_nats_server(args.embedded_nats, port=args.port))
            url = server.url
            print(f"nats-server on {url}, storing in {server.directory}", file=out, flush=True)
        session = await stack.enter_async_context(open_upbit_session(config=settings))
        options = RelayOptions(nats_url=url, region=args.region, account=args.account, window=args.window,
                               max_age=args.max_age, max_bytes=args.max_bytes, user=os.environ.get("NATS_USER"),
                               password=os.environ.get("NATS_PASSWORD"), token=os.environ.get("NATS_TOKEN"))
        relay = await stack.enter_async_context(open_relay(session, specs, options))
        print(f"relaying {len(specs)} stream(s) to {url} as {relay.names.root}.> (relay {options.relay_id}); "
              "Ctrl-C stops", file=out, flush=True)
        with trio.move_on_after(args.seconds if math.isfinite(args.seconds) else math.inf):
            while not stop.is_set():
                with trio.move_on_after(PROGRESS_EVERY):
                    await stop.wait()
                _report(relay, progress)
    _report(relay, out)  # after the last acknowledgements were waited for
    return 0


def _report(relay: Any, out: TextIO) -> None:
    relay.refresh()
    print(f"published {relay.published:,}, acknowledged {relay.acked:,} ({relay.duplicates:,} duplicates), "
          f"refused {relay.rejected:,}, unacknowledged {relay.unacknowledged:,}, gaps {relay.gaps}", file=out, flush=True)
