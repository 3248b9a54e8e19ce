"""``ProtocolConfig``: the numbers an endpoint protocol works with, taken from ``Settings`` by the driver."""

from __future__ import annotations

import attrs

__all__ = ["ProtocolConfig"]


@attrs.frozen
class ProtocolConfig:
    """The numbers an endpoint protocol works with (the driver takes them from ``Settings``)."""

    format: str = "DEFAULT"
    debounce: float = 0.02
    requests_per_second: int = 5
    requests_per_minute: int = 100
    ping_interval: float = 30.0
    pong_timeout: float = 10.0
    stale_after: float = 90.0
    snapshot_patience: float = 15.0
    initial_delay: float = 0.5
    max_delay: float = 30.0
    healthy_after: float = 5.0
    throttled_cooldown: float = 60.0
    banned_cooldown: float = 600.0
    linger: float = 5.0
    min_attempt_gap: float = 0.5
