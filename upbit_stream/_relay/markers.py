"""Relay control payloads (pure): gap markers, heartbeats, the catalog, publish acknowledgements, when a gap is a gap."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs
import msgspec

from .._core.markers import StreamGap

__all__ = ["Ack", "Catalog", "Heartbeat", "ack_outcome", "decode_gap", "encode_gap", "lag_gap", "restart_gap"]

#: Heartbeats a relay may miss before others count it as gone.
MISSED_BEATS: Final = 3
RELAY_RESTART: Final = "relay restart"
RETENTION: Final = "behind retention"

_encoder = msgspec.json.Encoder()


@attrs.frozen
class Heartbeat:
    """A relay saying it is alive (``healthy``: its Upbit connections are up)."""

    relay: str
    at: float
    healthy: bool = True

    def encode(self) -> bytes:
        return _encoder.encode({"relay": self.relay, "at": self.at, "healthy": self.healthy})

    @classmethod
    def decode(cls, data: bytes) -> Heartbeat | None:
        try:
            raw = msgspec.json.decode(data)
            return cls(str(raw["relay"]), float(raw["at"]), bool(raw.get("healthy", True)))
        except (msgspec.DecodeError, KeyError, TypeError, ValueError):
            return None


class Ack(enum.Enum):
    """What a JetStream acknowledgement says about one publish."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # stored before, under the same Nats-Msg-Id
    RETRY = "retry"  # JetStream unavailable for now: send it again
    NO_STREAM = "no stream"  # no stream takes the subject (deleted, or JetStream not up yet): send again
    REJECTED = "rejected"  # refused for good (too large, a limit with discard new, ...): sending again cannot help


_ack_decoder = msgspec.json.Decoder(dict[str, Any])


def ack_outcome(headers: Mapping[str, str] | None, data: bytes) -> tuple[Ack, str]:
    """The verdict of a publish acknowledgement (its status header and JSON body) and why, for a log."""
    if headers and headers.get("Status") == "503":
        return Ack.NO_STREAM, "no stream takes this subject"
    try:
        reply = _ack_decoder.decode(data)
    except msgspec.DecodeError:
        return Ack.RETRY, f"an unreadable acknowledgement: {data[:80]!r}"
    error = reply.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        why = f"{error.get('description', 'no description')} (err_code {error.get('err_code')})"
        if isinstance(code, int) and 400 <= code < 500:
            return Ack.REJECTED, why
        return Ack.RETRY, why
    if "stream" not in reply:
        return Ack.RETRY, f"an acknowledgement without a stream: {data[:80]!r}"
    return (Ack.DUPLICATE if reply.get("duplicate") is True else Ack.STORED), ""


def encode_gap(gap: StreamGap, relay: str) -> bytes:
    """A gap marker's payload: JSON with ``reason``, ``since``, ``until`` (``time.time()``) and ``relay``."""
    return _encoder.encode({"gap": gap.reason, "since": gap.since, "until": gap.until, "relay": relay})


def decode_gap(data: bytes, *, not_before: float | None = None) -> StreamGap | None:
    """The ``StreamGap`` of a marker payload, or None when unreadable or ending before ``not_before``.

    ``not_before`` drops the stale markers a fresh (not resumed) subscription finds as the last
    value of its stream's gap subject.
    """
    try:
        raw = msgspec.json.decode(data)
        gap = StreamGap(str(raw["gap"]), float(raw["since"]), float(raw["until"]))
    except (msgspec.DecodeError, KeyError, TypeError, ValueError):
        return None
    if not_before is not None and gap.until < not_before:
        return None
    return gap


def restart_gap(beats: Iterable[Heartbeat], *, me: str, now: float, interval: float) -> StreamGap | None:
    """The gap a starting relay announces, or None.

    None when another relay is alive and healthy (it covered the time this one was away: a hot
    standby) or when no relay ever ran (nothing was promised yet). Otherwise the gap runs from the
    last heartbeat any relay sent to ``now``.
    """
    others = [beat for beat in beats if beat.relay != me]
    if not others:
        return None
    alive = now - MISSED_BEATS * interval
    if any(beat.healthy and beat.at >= alive for beat in others):
        return None
    return StreamGap(RELAY_RESTART, max(beat.at for beat in others), now)


def covered(beats: Iterable[Heartbeat], *, me: str, now: float, interval: float) -> bool:
    """Whether another healthy relay is alive now (so this relay's own Upbit gap loses nothing)."""
    alive = now - MISSED_BEATS * interval
    return any(beat.relay != me and beat.healthy and beat.at >= alive for beat in beats)


def lag_gap(*, acked_stream_seq: int, first_seq: int, since: float, now: float) -> StreamGap | None:
    """A resumed consumer behind retention: messages after its position were deleted before it read them.

    ``acked_stream_seq`` is the stream sequence it had acknowledged (0: none yet), ``first_seq`` the
    stream's oldest retained sequence. Conservative: with filters, the deleted messages may all have
    been other subjects'.
    """
    if acked_stream_seq > 0 and first_seq > acked_stream_seq + 1:
        return StreamGap(RETENTION, since, now)
    return None


@attrs.frozen
class Catalog:
    """What a relay carries: the subjects it publishes (wildcards allowed) and its specs as text."""

    subjects: tuple[str, ...]
    specs: tuple[str, ...]
    relay: str = ""
    with_bodies: bool = False  # announcements include their body

    def encode(self) -> bytes:
        return _encoder.encode({"subjects": list(self.subjects), "specs": list(self.specs), "relay": self.relay,
                                "with_bodies": self.with_bodies})

    @classmethod
    def decode(cls, data: bytes) -> Catalog | None:
        try:
            raw: Mapping[str, Any] = msgspec.json.decode(data)
            return cls(tuple(map(str, raw["subjects"])), tuple(map(str, raw["specs"])), str(raw.get("relay", "")),
                       bool(raw.get("with_bodies", False)))
        except (msgspec.DecodeError, KeyError, TypeError, ValueError):
            return None
