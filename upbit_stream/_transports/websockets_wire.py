"""The open connection of the websockets connector: websockets' sans-I/O ClientProtocol driven over a trio stream."""

from __future__ import annotations

import codecs
import os
from collections import deque
from collections.abc import Callable, Iterable

import trio
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from .._core.errors import Disconnected
from .frame_split import FrameSplitter
from .seam import MAX_FRAGMENTS, closed, described

__all__ = ["RECEIVE_SIZE", "ProtocolWire"]

#: Bytes asked of the stream per read; every frame they hold is handled in that one step.
RECEIVE_SIZE = 64 * 1024

_BINARY, _TEXT, _CONT, _PONG = Opcode.BINARY, Opcode.TEXT, Opcode.CONT, Opcode.PONG
_OPEN, _CLOSED = State.OPEN, State.CLOSED
_GONE = (trio.BrokenResourceError, trio.ClosedResourceError)
_decode = codecs.getdecoder("utf-8")  # strict; takes any buffer (received frames hold bytearrays)


class ProtocolWire:
    """``Wire`` over a websockets ``ClientProtocol`` whose opening handshake is done.

    There is no background task. Whoever needs bytes (``receive``, ``ping``, ``close``) reads
    them, one task at a time; the others wait for that read to end and look again. A read takes
    up to ``RECEIVE_SIZE`` bytes and handles every frame in them, so a burst of small messages
    costs one read. Reading stops while ``max_queue`` messages wait to be taken (so memory is
    bounded by ``max_queue`` messages plus one read's worth), except while closing, when
    messages are dropped. What the protocol must answer (pongs, the close echo) is sent after
    each read. The session calls ``receive`` and ``receive_ready`` from one task and ``ping``
    and ``send`` from others.

    The fast path: while the connection is OPEN and no fragmented message is open, a
    ``FrameSplitter`` takes each whole, plain data frame straight from the read buffer; every
    other frame goes, whole and in order, through ``protocol.receive_data`` as before. The
    protocol therefore never holds part of a frame when a plain one is taken. ``early`` is what
    came after the 101 answer in its read (the connector gives the protocol the HTTP head only).
    """

    def __init__(self, stream: trio.abc.Stream, protocol: ClientProtocol, *, max_queue: int = 64,
                 max_fragments: int = MAX_FRAGMENTS, early: bytes = b"") -> None:
        self._stream = stream
        self._protocol = protocol  # in state OPEN, holding no received bytes
        self._messages: deque[bytes | str] = deque()  # bounded: no read while max_queue wait, one adds 64 KiB
        self._max_queue = max_queue
        self._max_fragments = max_fragments
        self._fragments = 0  # frames of the fragmented message in progress (0: none)
        self._parts: list[bytes | str] = []
        self._decoder: codecs.IncrementalDecoder | None = None  # for a fragmented text message
        self._pings: dict[bytes, trio.Event] = {}
        self._send_lock = trio.StrictFIFOLock()
        self._reading = False
        self._waiters = 0
        self._progress = trio.Event()
        self._lost = ""  # why the stream broke, if it did
        self._dropping = False  # closing: messages are read and dropped
        limit = protocol.max_message_size
        self._splitter = FrameSplitter(RECEIVE_SIZE if limit is None else limit)  # holds one frame at most
        self._plain_ok = not protocol.extensions  # a negotiated extension may claim any frame: none are plain
        self._fed = False  # the protocol got bytes in this read (it may owe an answer)
        if early:
            self._take(early)

    # -- the Wire --------------------------------------------------------------------------------

    async def receive(self) -> bytes | str:
        if self._messages:
            await trio.lowlevel.checkpoint()  # a checkpoint per call, as any trio receive
        while not self._messages:  # (another task may have taken them meanwhile)
            if self._protocol.state is not _OPEN:
                raise self._disconnected()
            await self._wait_until(self._message_or_end)
        message = self._messages.popleft()
        if self._waiters:
            self._wake()  # a pinger may be waiting for room to read
        return message

    def receive_ready(self, limit: int) -> list[bytes | str]:
        """Up to ``limit`` messages already received, taken at once (maybe none)."""
        messages = self._messages
        if len(messages) <= limit:
            taken = list(messages)
            messages.clear()
        else:
            taken = [messages.popleft() for _ in range(limit)]
        if taken and self._waiters:
            self._wake()
        return taken

    async def send(self, message: str | bytes) -> None:
        try:
            if isinstance(message, str):
                self._protocol.send_text(message.encode())
            else:
                self._protocol.send_binary(message)
        except InvalidState:
            raise self._disconnected() from None
        await self.flush()

    async def ping(self) -> None:
        protocol = self._protocol
        if protocol.state is not _OPEN:
            raise self._disconnected()
        payload = os.urandom(4)
        while payload in self._pings:
            payload = os.urandom(4)
        pong = self._pings[payload] = trio.Event()
        try:
            protocol.send_ping(payload)
            await self.flush()
            await self._wait_until(lambda: pong.is_set() or protocol.state is not _OPEN)
        finally:
            self._pings.pop(payload, None)
        if not pong.is_set():
            raise self._disconnected()

    # -- closing (the connector's) ---------------------------------------------------------------

    async def close(self, code: int) -> None:
        """Send our close frame unless one went already, then read (dropping messages) until the peer's.

        When the peer closed first, its frame is in and answered: nothing is left to wait for.
        The caller bounds this (``CLOSE_TIMEOUT``) and closes the stream afterwards either way.
        """
        self._dropping = True
        self._messages.clear()
        protocol = self._protocol
        try:
            if protocol.state is _OPEN:
                protocol.send_close(code)
            await self.flush()
            await self._wait_until(lambda: protocol.close_rcvd is not None or protocol.state is _CLOSED)
        except Disconnected:
            pass

    # -- reading ---------------------------------------------------------------------------------

    def _message_or_end(self) -> bool:
        return bool(self._messages) or self._protocol.state is not _OPEN

    async def _wait_until(self, done: Callable[[], bool]) -> None:
        while not done():
            if self._reading or (len(self._messages) >= self._max_queue and not self._dropping):
                self._waiters += 1
                try:
                    await self._progress.wait()
                finally:
                    self._waiters -= 1
            else:
                await self._read()

    def _wake(self) -> None:
        self._progress.set()
        self._progress = trio.Event()

    async def _read(self) -> None:
        """One read, every frame in it handled; then what the protocol owes the peer, sent."""
        protocol = self._protocol
        self._reading = True
        try:
            try:
                data = await self._stream.receive_some(RECEIVE_SIZE)
            except _GONE as exc:
                self._lost = described(exc.__cause__ or exc)
                data = b""
            if protocol.state is _CLOSED:
                return  # a send found the stream broken meanwhile
            self._fed = False
            if data:
                self._take(data)
            else:
                held = self._splitter.take_pending()  # an unfinished frame: the protocol reports it
                if held:
                    protocol.receive_data(held)
                protocol.receive_eof()
                self._fed = True
                self._handle(protocol.events_received())
        finally:
            self._reading = False
            if self._waiters:
                self._wake()
        if self._fed:  # plain frames alone leave the protocol nothing to answer
            await self.flush(wait=False)

    def _take(self, data: bytes | bytearray) -> None:
        """Hand ``data`` to the splitter: plain frames become messages, the rest goes through ``_slow``."""
        if not isinstance(data, bytes):
            data = bytes(data)  # some streams (trio's in-memory ones) give bytearrays; messages are bytes
        plain = self._plain_ok and self._protocol.state is _OPEN and not self._fragments and not self._dropping
        self._splitter.split(data, self._messages, self._slow, plain)

    def _slow(self, chunk: bytes) -> bool:
        """Whole frames (or, once the splitter gave up framing, any bytes) through the protocol; may plain ones follow?"""
        protocol = self._protocol
        protocol.receive_data(chunk)
        self._fed = True
        self._handle(protocol.events_received())
        return self._plain_ok and protocol.state is _OPEN and not self._fragments and not self._dropping

    def _handle(self, frames: Iterable[object]) -> None:
        messages, dropping = self._messages, self._dropping
        for frame in frames:
            assert isinstance(frame, Frame)
            opcode = frame.opcode
            if frame.fin and (opcode is _BINARY or opcode is _TEXT):  # a whole message: the common case
                if opcode is _BINARY:
                    if not dropping:
                        messages.append(bytes(frame.data))
                    continue
                try:
                    text = _decode(frame.data)[0]
                except UnicodeDecodeError as exc:
                    self._fail(1007, f"invalid UTF-8 at position {exc.start}")
                    return
                if not dropping:
                    messages.append(text)
            elif opcode is _BINARY or opcode is _TEXT or opcode is _CONT:
                if not self._fragment(frame):
                    return
            elif opcode is _PONG:
                self._pong(bytes(frame.data))
            # PING and CLOSE: the protocol has queued the pong or the close echo already

    def _fragment(self, frame: Frame) -> bool:
        """Take one frame of a fragmented message; False if it failed the connection."""
        if frame.opcode is not _CONT:
            self._fragments, self._parts = 0, []
            self._decoder = codecs.getincrementaldecoder("utf-8")() if frame.opcode is _TEXT else None
        self._fragments += 1
        if self._fragments > self._max_fragments:
            self._fail(1009, f"message in more than {self._max_fragments} fragments")
            return False
        if self._decoder is not None:
            try:  # fail fast on invalid UTF-8, not after the last fragment
                self._parts.append(self._decoder.decode(frame.data, frame.fin))
            except UnicodeDecodeError as exc:
                self._fail(1007, f"invalid UTF-8 ({exc.reason})")
                return False
        else:
            self._parts.append(bytes(frame.data))
        if frame.fin:
            parts, self._parts, self._fragments = self._parts, [], 0
            if not self._dropping:
                self._messages.append("".join(parts) if self._decoder is not None else b"".join(parts))  # type: ignore[arg-type]
            self._decoder = None
        return True

    def _pong(self, payload: bytes) -> None:
        """Wake the ping this pong answers, and every ping sent before it (a pong may answer several)."""
        if payload not in self._pings:
            return
        for key, event in list(self._pings.items()):
            event.set()
            del self._pings[key]
            if key == payload:
                break

    def _fail(self, code: int, reason: str) -> None:
        self._fragments, self._parts, self._decoder = 0, [], None
        self._protocol.fail(code, reason)

    # -- sending ---------------------------------------------------------------------------------

    async def flush(self, *, wait: bool = True) -> None:
        """Send what the protocol has queued, in its order; one task sends at a time.

        The wire flushes after each read and send; its connector calls it once after the
        handshake, for the answers to frames that came with the 101.

        With ``wait=False`` it returns at once if another task is sending: that task sends
        whatever is queued before it lets go of the stream.
        """
        if not wait and self._send_lock.locked():
            return
        async with self._send_lock:
            while chunks := self._protocol.data_to_send():
                data = b"".join(chunks)  # the empty chunk (half-close) comes after the peer's EOF only
                if not data:
                    continue
                try:
                    await self._stream.send_all(data)
                except _GONE as exc:
                    self._lost = self._lost or described(exc.__cause__ or exc)
                    self._protocol.receive_eof()
                    raise self._disconnected() from None

    # -- the end ---------------------------------------------------------------------------------

    def _disconnected(self) -> Disconnected:
        """The close code is the one that ended the connection: ours if we closed first, else the peer's."""
        protocol = self._protocol
        sent, received = protocol.close_sent, protocol.close_rcvd
        if sent is not None and not protocol.close_rcvd_then_sent:
            return closed(sent.code, sent.reason or "closed by us")
        if received is not None:
            return closed(received.code, received.reason)
        return closed(None, self._lost)
