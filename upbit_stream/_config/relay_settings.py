"""The ``[relay]`` section: what ``upbit-stream relay`` publishes, to which NATS server, and how long it is kept."""

from __future__ import annotations

from typing import ClassVar

import attrs

from .setting_fields import _count, _nats_url, _seconds, _token, _words

__all__ = ["RelaySettings"]


@attrs.frozen
class RelaySettings:
    """The relay (upbit-stream relay): its NATS server, streams and retention; command-line options win."""

    section: ClassVar[str] = "relay"
    nats_url: str = _nats_url(
        "NATS server (or cluster member) the relay publishes to, e.g. nats://nats.internal:4222; "
        "--nats or --embedded-nats on the command line win. Credentials come from NATS_USER / "
        "NATS_PASSWORD or NATS_TOKEN in the environment, never from this file.")
    streams: tuple[str, ...] = _words(
        "What to publish when the command line names nothing, in record's TYPE:CODES syntax, e.g. "
        '["ticker:KRW-BTC,KRW-ETH", "trade:KRW-BTC"].')
    region: str = _token("kr", "First token of every subject and stream name (upbit.<region>.…).")
    account: str = _token("main", "Alias of the API keys' account in private subjects.")
    max_age: float = _seconds(86400.0, "How long each JetStream stream keeps events.")
    max_bytes: int = _count(1 << 30, "Bytes each JetStream stream keeps at most.", "bytes")
    window: int = _count(4096, "Publishes awaiting their acknowledgement at most (the backpressure).",
                         "publishes")
