"""In-band markers a subscription channel carries besides events: ``StreamGap``."""

from __future__ import annotations

import attrs

__all__ = ["StreamGap"]


@attrs.frozen
class StreamGap:
    """Marker for ``gaps=True`` subscribers: events between ``since`` and ``until`` may be missing.

    Times are ``time.time()`` seconds; ``reason`` says why the connection was lost.
    """

    reason: str
    since: float
    until: float
