"""RFC 6455 frames and the HTTP/1.1 upgrade written by hand, for the hostile test server (no WebSocket library).

Everything here is pure bytes in, bytes out: ``encode_frame`` builds any frame, legal or not
(reserved bits, reserved opcodes, masked server frames, lying lengths are up to the caller);
``FrameReader`` decodes what a client sends, unmasking it; ``parse_request`` and ``response``
are the two halves of the opening handshake.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

__all__ = [
    "OP_BINARY", "OP_CLOSE", "OP_CONT", "OP_PING", "OP_PONG", "OP_TEXT", "Frame", "FrameReader", "Request",
    "accept_key", "close_payload", "encode_frame", "parse_request", "response", "switching_protocols",
]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_REASONS = {101: "Switching Protocols", 200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other",
            307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 418: "I'm a teapot", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value answering a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def close_payload(code: int | None, reason: str | bytes = b"") -> bytes:
    """A close frame's payload: ``code`` (2 bytes, any value) then ``reason``; empty when ``code`` is None."""
    if code is None:
        return b""
    raw = reason.encode() if isinstance(reason, str) else reason
    return struct.pack("!H", code) + raw


def _mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


def encode_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: bytes | None = None) -> bytes:
    """One frame: ``opcode`` (0-15, reserved ones too), ``rsv`` (the 3 RSV bits), masked with ``mask`` if given."""
    head = bytearray([(0x80 if fin else 0) | ((rsv & 0x7) << 4) | (opcode & 0xF)])
    length = len(payload)
    flag = 0x80 if mask is not None else 0
    if length < 126:
        head.append(flag | length)
    elif length < 1 << 16:
        head.append(flag | 126)
        head += struct.pack("!H", length)
    else:
        head.append(flag | 127)
        head += struct.pack("!Q", length)
    if mask is not None:
        return bytes(head) + mask + _mask(payload, mask)
    return bytes(head) + payload


@dataclass(frozen=True)
class Frame:
    """A decoded frame (payload unmasked); ``masked`` says whether the sender masked it."""

    opcode: int
    payload: bytes
    fin: bool = True
    rsv: int = 0
    masked: bool = True

    @property
    def close_code(self) -> int | None:
        """The code of a close frame (None when its payload is empty or it is not a close frame)."""
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return int(struct.unpack("!H", self.payload[:2])[0])

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:] if self.opcode == OP_CLOSE else b""


class FrameReader:
    """Incremental frame decoder: ``feed`` bytes, then ``next_frame()`` until it returns None.

    Holds at most one frame's bytes beyond what was taken; a payload over ``max_payload`` raises ``ValueError``.
    """

    def __init__(self, max_payload: int = 1 << 24) -> None:
        self._buffer = bytearray()
        self._max_payload = max_payload

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def next_frame(self) -> Frame | None:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        length, offset = second & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length, offset = struct.unpack("!H", buffer[2:4])[0], 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length, offset = struct.unpack("!Q", buffer[2:10])[0], 10
        if length > self._max_payload:
            raise ValueError(f"frame payload of {length} bytes (limit {self._max_payload})")
        masked = bool(second & 0x80)
        key = b""
        if masked:
            if len(buffer) < offset + 4:
                return None
            key, offset = bytes(buffer[offset:offset + 4]), offset + 4
        if len(buffer) < offset + length:
            return None
        payload = bytes(buffer[offset:offset + length])
        del buffer[:offset + length]
        if masked:
            payload = _mask(payload, key)
        return Frame(first & 0xF, payload, bool(first & 0x80), (first >> 4) & 0x7, masked)


@dataclass(frozen=True)
class Request:
    """A parsed HTTP request head: ``headers`` keyed by lower-case name (the last value wins)."""

    method: str
    path: str
    version: str
    headers: dict[str, str]
    raw: bytes


def parse_request(head: bytes) -> Request:
    """Parse a request head (up to and including the blank line); ``ValueError`` if it is not HTTP."""
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ValueError(f"not an HTTP request line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"not an HTTP header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return Request(parts[0], parts[1], parts[2], headers, head)


def response(status: int, headers: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (), body: bytes = b"",
             *, content_length: bool = True) -> bytes:
    """An HTTP/1.1 response; ``Content-Length`` is added unless ``content_length`` is False."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def switching_protocols(key: str, extra: tuple[tuple[str, str], ...] | list[tuple[str, str]] = ()) -> bytes:
    """The 101 answer completing the opening handshake for ``Sec-WebSocket-Key`` ``key``."""
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept_key(key)),
               *extra]
    return response(101, headers, content_length=False)
