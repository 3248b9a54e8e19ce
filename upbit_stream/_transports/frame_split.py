"""Where each received WebSocket frame begins and ends (RFC 6455 §5.2): plain data frames are taken here, the rest passed on.

``FrameSplitter`` cuts the bytes a wire reads at frame boundaries. A *plain* frame (FIN set, RSV
bits 0, unmasked, text or binary, payload within the size limit, text that is valid UTF-8) becomes
a message at once, straight from the read buffer. The bytes of every other frame (control frames,
fragments, masked or reserved-bit frames, oversize or non-UTF-8 payloads) go to ``slow``, whole
and in order, so the full protocol implementation behind it sees a well-formed stream of frames
with nothing taken from the middle of one. ``slow`` answers whether plain frames may be taken
again (the caller says no while a fragmented message is open or the connection is not OPEN).

Pure bytes in, messages and slow chunks out: no I/O, no WebSocket library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["FrameSplitter", "Messages"]

_TEXT, _BINARY = 0x81, 0x82  # first byte of a plain frame: FIN, no RSV bits, opcode 1 or 2


class Messages(Protocol):
    """Where plain frames' payloads go (a ``deque`` or a ``list``)."""

    def append(self, message: bytes | str, /) -> None: ...


class FrameSplitter:
    """Splits received bytes into plain messages and slow chunks; holds at most one unfinished frame.

    ``pending`` holds the start of a frame whose end has not arrived yet; it is bounded by
    ``max_size`` plus a 10-byte header. A frame announcing more than ``max_size`` bytes, or a
    masked one, is never held: it and everything after it go to ``slow`` as they come. That is
    right whatever the protocol behind does with them; with ``max_size`` its message size limit,
    it fails the connection on that frame's header (1009, or 1002 for the mask).
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.pending = bytearray()  # bounded: one frame of at most max_size bytes plus its header
        self.need = 0  # total bytes of the pending frame, once its header is in (0: not yet)
        self.raw = False  # everything goes to slow from now on

    def split(self, data: bytes, messages: Messages, slow: Callable[[bytes], bool], plain: bool) -> None:
        """Cut ``data`` (the next bytes read) into frames; ``plain``: whether plain frames may be taken now."""
        if self.raw:
            slow(data)
            return
        pending = self.pending
        if not pending:
            self._cut(data, 0, messages, slow, plain)
            return
        need = self.need
        if need and len(pending) + len(data) < need:
            pending += data  # still short of the frame's end: amortised, no rescan
            return
        taken = need - len(pending) if need else len(data)
        pending += data[:taken] if taken < len(data) else data
        first = bytes(pending)
        pending.clear()
        self.need = 0
        plain = self._cut(first, 0, messages, slow, plain)
        if taken < len(data):
            self._cut(data, taken, messages, slow, plain)

    def take_pending(self) -> bytes:
        """The bytes of the unfinished frame (for the protocol at the end of the stream); empties the splitter."""
        held = bytes(self.pending)
        self.pending.clear()
        self.need = 0
        return held

    def _cut(self, data: bytes, pos: int, messages: Messages, slow: Callable[[bytes], bool], plain: bool) -> bool:
        """Handle every frame of ``data`` from ``pos``; keep an unfinished last one; return ``plain`` as it ends."""
        end = len(data)
        limit = self.max_size
        append = messages.append
        while end - pos >= 2:
            head = data[pos]
            size = data[pos + 1]
            start = pos + 2
            if size > 125:
                if size == 126:
                    start = pos + 4
                    if start > end:
                        break
                    size = (data[pos + 2] << 8) | data[pos + 3]
                elif size == 127:
                    start = pos + 10
                    if start > end:
                        break
                    size = int.from_bytes(data[pos + 2:start], "big")
                else:  # the mask bit: a server must not mask (1002 from the protocol)
                    size = limit + 1
            stop = start + size
            if size > limit:  # masked or oversize: the protocol fails the connection on this header
                self.raw = True
                plain = slow(data[pos:])
                pos = end
                break
            if stop > end:
                break  # unfinished: held until the rest arrives
            if plain and (head == _BINARY or head == _TEXT):
                if head == _BINARY:
                    append(data[start:stop])
                    pos = stop
                    continue
                try:
                    append(data[start:stop].decode())
                    pos = stop
                    continue
                except UnicodeDecodeError:
                    pass  # the protocol side fails the connection with 1007
            # One frame per call: a frame the wire rejects (invalid UTF-8) must fail the connection
            # before the protocol parses, and answers, the frames behind it.
            plain = slow(data[pos:stop])
            pos = stop
        if pos < end:
            self._hold(data, pos)
        return plain

    def _hold(self, data: bytes, pos: int) -> None:
        """Keep the unfinished frame at ``pos`` (its header may be incomplete too)."""
        self.pending += data[pos:]
        left = len(data) - pos
        if left >= 2:
            size = data[pos + 1]
            if size < 126:
                self.need = 2 + size
            elif size == 126 and left >= 4:
                self.need = 4 + ((data[pos + 2] << 8) | data[pos + 3])
            elif size == 127 and left >= 10:
                self.need = 10 + int.from_bytes(data[pos + 2:pos + 10], "big")
