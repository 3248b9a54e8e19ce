"""Blast mode: a ring of pre-generated, pre-encoded, pre-framed market frames sent as fast as TCP takes them."""

from __future__ import annotations

from collections.abc import Iterable

from .._core.all_events import Event
from .._core.encode import encode_event
from .._core.enums import Format
from ._market import MarketSim
from ._websocket import ws_frame

__all__ = ["BlastRing"]

CHUNK_BYTES = 64 * 1024


class BlastRing:
    """``size`` market steps (trade, ticker, orderbook, and candles once per 50 steps) made once.

    Frames are encoded per format on first use and cached; per subscription the matching frames are
    joined into ~64 KiB chunks of complete WebSocket frames, so sending costs one ``send_all`` per
    chunk. Events keep the timestamps of generation time (REALTIME); depth and level variants are
    not applied (every orderbook frame is the full 30-level book).
    """

    def __init__(self, seed: int, size: int, now_ms: int) -> None:
        sim = MarketSim(seed, now_ms=now_ms)
        self.events: list[tuple[str, str, Event]] = []
        for i in range(size):
            ts = now_ms + i
            trade = sim.step_trade(ts)
            self.events += [("trade", trade.code, trade), ("ticker", trade.code, sim.ticker(trade.code, ts)),
                            ("orderbook", trade.code, sim.orderbook(trade.code, ts))]
            if i % 50 == 49:
                self.events += [(c.type, c.code, c) for c in sim.take_dirty_candles(ts)]
        self._frames: dict[Format, list[bytes]] = {}
        self._chunks: dict[tuple[Format, frozenset[tuple[str, str]]], tuple[tuple[bytes, int], ...]] = {}

    def frames(self, fmt: Format) -> list[bytes]:
        frames = self._frames.get(fmt)
        if frames is None:
            frames = self._frames[fmt] = [ws_frame(encode_event(e, fmt)) for _, _, e in self.events]
        return frames

    def stamped(self, fmt: Format, keys: Iterable[tuple[str, str]]) -> list[tuple[bytes, int]]:
        """Frames for ``keys`` with the offset of their 13 ``timestamp`` digits (-1: none), in ring order.

        Paced blast overwrites those digits with the send time, so clients can measure latency.
        """
        wanted = frozenset(keys)
        marker = b'"tms":' if fmt.simple_keys else b'"timestamp":'
        out = []
        for (type_, code, _), frame in zip(self.events, self.frames(fmt)):
            if (type_, code) in wanted:
                at = frame.rfind(marker)
                pos = at + len(marker) if at >= 0 and frame[at - 1:at] in (b",", b"{") else -1
                out.append((frame, pos if pos >= 0 and frame[pos:pos + 13].isdigit() else -1))
        return out

    def chunks(self, fmt: Format, keys: Iterable[tuple[str, str]]) -> tuple[tuple[bytes, int], ...]:
        """Chunks of every ring frame whose (type, code) is in ``keys``, in ring order."""
        wanted = frozenset(keys)
        cached = self._chunks.get((fmt, wanted))
        if cached is not None:
            return cached
        out: list[tuple[bytes, int]] = []
        part: list[bytes] = []
        size = 0
        for (type_, code, _), frame in zip(self.events, self.frames(fmt)):
            if (type_, code) not in wanted:
                continue
            part.append(frame)
            size += len(frame)
            if size >= CHUNK_BYTES:
                out.append((b"".join(part), len(part)))
                part, size = [], 0
        if part:
            out.append((b"".join(part), len(part)))
        result = self._chunks[(fmt, wanted)] = tuple(out)
        return result
