"""Recordings for replay: reading JSONL frames (``{"t", "endpoint", "frame"}`` lines), and reshaping a recorded book."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import attrs

from .._core.codec import decode
from .._core.errors import ProtocolError
from .._core.events import Orderbook, OrderbookUnit
from ._market import _group, tick_size

__all__ = ["ReplayFileError", "ReplayFrame", "load_replay", "read_replay", "reshape_book"]


class ReplayFileError(ValueError):
    """A replay file holds no recording line (``open_fake_upbit(replay=…)`` refuses it at start)."""


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
    return read_replay(path)[0]


def read_replay(path: str | os.PathLike[str]) -> tuple[list[ReplayFrame], int]:
    """The frames of a recording and how many non-blank lines were skipped (not recording entries)."""
    skipped = [0]
    frames = list(_iter(path, skipped))
    return frames, skipped[0]


def _iter(path: str | os.PathLike[str], skipped: list[int]) -> Iterator[ReplayFrame]:
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
                skipped[0] += 1
                continue
            if not isinstance(frame, str):
                skipped[0] += 1
                continue
            endpoint = entry.get("endpoint", "public")
            yield ReplayFrame(t, endpoint if endpoint in ("private", "info") else "public", frame, _keys(frame))


def reshape_book(book: Orderbook, depth: int, level: Decimal) -> Orderbook | None:
    """A recorded book as a connection asked for it: ``depth`` unit pairs, grouped to ``level``.

    Only a level-0 book of a KRW market can be grouped (to a multiple of its tick, as live); any
    other level than the recorded one gives None (nothing streams, as the docs warn). A book that
    needs no change is returned as recorded; otherwise ``total_*_size`` sum the units kept.
    """
    units = book.orderbook_units
    if level == book.level:
        if depth >= len(units):
            return book
        units = units[:depth]
    elif book.level or not book.code.startswith("KRW-") or not units \
            or level % tick_size(book.code, units[0].bid_price) != 0:
        return None
    else:
        asks = _group([(u.ask_price, u.ask_size) for u in units], level, ROUND_CEILING)
        bids = _group([(u.bid_price, u.bid_size) for u in units], level, ROUND_FLOOR)
        units = tuple(OrderbookUnit(ask_price=a[0], bid_price=b[0], ask_size=a[1], bid_size=b[1])
                      for a, b in zip(asks[:depth], bids[:depth]))
    return attrs.evolve(book, orderbook_units=units, level=level,
                        total_ask_size=sum((u.ask_size for u in units), Decimal(0)),
                        total_bid_size=sum((u.bid_size for u in units), Decimal(0)))
