"""A WebSocket server whose every read is scripted, for the websockets wire's framing tests (in memory, no sockets).

``ScriptedPeer`` is the byte stream a connector gets from ``open_stream``: it answers the opening
handshake with a 101 (plus, optionally, the first scripted chunk in the same read), then hands out
one scripted chunk per ``receive_some``, then EOF or silence. What the client writes after the
handshake is decoded with ``hostile_wire.FrameReader``. ``exchange`` runs one connection through
``websockets_connector`` under a mock clock and returns what the client received and sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import trio
import trio.testing
from hostile_wire import Frame, FrameReader, parse_request, switching_protocols

from upbit_stream._transports.seam import Disconnected
from upbit_stream._transports.via_websockets import websockets_connector

__all__ = ["Outcome", "ScriptedPeer", "exchange"]


class ScriptedPeer(trio.abc.Stream):
    """The server side of one connection: ``chunks`` are its reads, in order; then EOF (or nothing, ``eof=False``)."""

    def __init__(self, chunks: Sequence[bytes], *, with_101: bool = True, eof: bool = True) -> None:
        self._chunks = [bytes(chunk) for chunk in chunks if chunk]  # an empty read would be EOF
        self._with_101 = with_101  # the first chunk comes in the same read as the 101 answer
        self._eof = eof
        self._request = bytearray()
        self._answered = False
        self.sent = FrameReader()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        if self._answered:
            self.sent.feed(bytes(data))
        else:
            self._request += data

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        if not self._answered:
            key = parse_request(bytes(self._request)).headers["sec-websocket-key"]
            self._answered = True
            first = self._chunks.pop(0) if self._with_101 and self._chunks else b""
            return self._cut(switching_protocols(key) + first, max_bytes)
        if self._chunks:
            return self._cut(self._chunks.pop(0), max_bytes)
        if self._eof:
            return b""
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    def _cut(self, data: bytes, max_bytes: int | None) -> bytes:
        if max_bytes is not None and len(data) > max_bytes:
            self._chunks.insert(0, data[max_bytes:])
            return data[:max_bytes]
        return data

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()

    def frames_sent(self) -> list[Frame]:
        frames = []
        while (frame := self.sent.next_frame()) is not None:
            frames.append(frame)
        return frames


class Outcome(NamedTuple):
    messages: list[bytes | str]
    code: int | None  # the Disconnected's close code (None: lost without a close frame)
    sent: list[Frame]  # what the client wrote after the handshake (pongs, close frames)


def exchange(chunks: Sequence[bytes], *, with_101: bool = True, max_size: int = 1 << 20, batched: bool = False,
             max_fragments: int = 4096) -> Outcome:
    """One connection reading every message until ``Disconnected``; ``batched``: through ``receive_ready`` too."""

    async def main() -> Outcome:
        peer = ScriptedPeer(chunks, with_101=with_101)

        async def open_stream(host: str, port: int) -> trio.abc.Stream:
            return peer

        connector = websockets_connector(open_stream=open_stream, max_message_size=max_size,
                                         max_fragments=max_fragments)
        messages: list[bytes | str] = []
        with trio.fail_after(60):
            async with connector("ws://scripted.invalid/websocket/v1", []) as wire:
                while True:
                    try:
                        messages.append(await wire.receive())
                    except Disconnected as exc:
                        code = exc.code
                        break
                    if batched:
                        messages += wire.receive_ready(7)
        return Outcome(messages, code, peer.frames_sent())

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
