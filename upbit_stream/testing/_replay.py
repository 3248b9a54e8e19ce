"""Replay of recorded JSONL frames (``{"t", "endpoint", "frame"}`` lines) to matching subscribers."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator

import attrs

from .._core.codec import decode
from .._core.errors import ProtocolError

__all__ = ["ReplayFrame", "load_replay"]


@attrs.frozen
class ReplayFrame:
    """One recorded frame: its receive time, endpoint, raw text and the (type, code) pairs it carries."""

    t: float
    endpoint: str
    frame: str
    keys: tuple[tuple[str, str], ...]


def _keys(frame: str) -> tuple[tuple[str, str], ...]:
    try:
        messages = decode(frame)
    except ProtocolError:
        return ()
    keys = []
    for message in messages:
        type_ = getattr(message, "type", None)
        if isinstance(type_, str) and hasattr(message, "stream_type"):
            keys.append((type_, getattr(message, "code", "")))
    return tuple(keys)


def load_replay(path: str | os.PathLike[str]) -> list[ReplayFrame]:
    """Read a recording (plain or gzip, recognised by its content); lines that are not recording entries are skipped."""
    return list(_iter(path))


def _iter(path: str | os.PathLike[str]) -> Iterator[ReplayFrame]:
    with open(path, "rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"  # gzip's magic number, whatever the file is called
    opener = gzip.open if compressed else open
    with opener(path, "rt", encoding="utf-8") as file:
        for line in file:
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
                t = float(entry["t"])
                frame = entry["frame"]
            except (ValueError, KeyError, TypeError):
                continue
            if not isinstance(frame, str):
                continue
            endpoint = entry.get("endpoint", "public")
            yield ReplayFrame(t, "private" if endpoint == "private" else "public", frame, _keys(frame))
