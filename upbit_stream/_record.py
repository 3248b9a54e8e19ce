"""``upbit-stream record``: raw frames with their receive time to JSONL, through a session and a tee."""

from __future__ import annotations

import gzip
import math
import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, TextIO

import attrs
import msgspec
import trio

from ._events import CANDLE_INTERVALS
from ._session import UpbitSession, open_upbit_session
from ._settings import Settings
from ._specs import Spec, candle, my_asset, my_order, orderbook, ticker, trade
from ._groups import single_errors
from ._transport import Connector, Wire, trio_websocket_connector

__all__ = [
    "RecordingWriter",
    "Summary",
    "human_size",
    "parse_duration",
    "parse_size",
    "parse_targets",
    "record",
    "tee_connector",
]

#: One received frame: (unix receive time, "public" | "private", the frame as received).
Received = tuple[float, str, "bytes | str"]

QUEUE_SIZE = 4096  # frames between the readers and the writer; a full queue makes the readers wait
_BATCH = 1024
_FLUSH_EVERY = 1.0
_encode = msgspec.json.Encoder().encode

# -- arguments (pure) -----------------------------------------------------------------------------

_TYPES = ("ticker", "trade", "orderbook", *(f"candle.{i}" for i in CANDLE_INTERVALS), "my_order", "my_asset")
_ALIASES = {"myOrder": "my_order", "myAsset": "my_asset", "candle": "candle.1m"}


def parse_targets(
    texts: Iterable[str], *, depth: int | None = None, realtime_only: bool = False
) -> tuple[Spec, ...]:
    """Specs from ``TYPE:CODE,CODE`` words (``my_order`` may omit codes, ``my_asset`` takes none).

    Raises ``ValueError`` saying what is wrong with the first bad word.
    """
    mode = "realtime" if realtime_only else "both"
    specs = []
    for text in texts:
        name, sep, rest = text.partition(":")
        name = _ALIASES.get(name, name)
        codes = [code for code in rest.split(",") if code] if sep else []
        if name not in _TYPES:
            raise ValueError(f"unknown type {text.partition(':')[0]!r} in {text!r}: expected one of {', '.join(_TYPES)}")
        if sep and not codes and name != "my_order":
            raise ValueError(f"{text!r} names no codes: write {name}:KRW-BTC,KRW-ETH")
        if name == "my_asset":
            if codes:
                raise ValueError(f"my_asset takes no codes (it streams the whole account): got {text!r}")
            specs.append(my_asset())
        elif name == "my_order":
            specs.append(my_order(codes))
        elif not codes:
            raise ValueError(f"{name} needs market codes, like {name}:KRW-BTC,KRW-ETH")
        elif name == "orderbook":
            specs.append(orderbook(codes, mode=mode, depth=depth))  # type: ignore[arg-type]
        elif name.startswith("candle."):
            specs.append(candle(codes, name.partition(".")[2], mode=mode))  # type: ignore[arg-type]
        else:
            specs.append((ticker if name == "ticker" else trade)(codes, mode=mode))  # type: ignore[arg-type]
    if not specs:
        raise ValueError("name at least one TYPE:CODES to record, like ticker:KRW-BTC")
    return tuple(specs)


_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(i?)(b?)", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(s|m|h|d)?", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(text: str) -> int:
    """Bytes from ``100MB``, ``1.5GiB``, ``500k`` or ``4096`` (KB/MB/GB are 1000-based, KiB/MiB/GiB 1024)."""
    match = _SIZE.fullmatch(text.strip())
    if not match or (match.group(3) and not match.group(2)):
        raise ValueError(f"not a size: {text!r} (expected e.g. 100MB, 1.5GB, 512KiB or a byte count)")
    number, prefix, binary = float(match.group(1)), match.group(2).lower(), bool(match.group(3))
    power = "kmgt".index(prefix) + 1 if prefix else 0
    size = int(number * (1024 if binary else 1000) ** power)
    if size < 1:
        raise ValueError(f"size must be at least one byte: got {text!r}")
    return size


def parse_duration(text: str) -> float:
    """Seconds from ``90s``, ``15m``, ``1h``, ``1d`` or a plain number of seconds."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 90s, 15m, 1h, 1d or seconds)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise ValueError(f"duration must be positive: got {text!r}")
    return seconds


def human_size(size: int) -> str:
    """``1.5 MB`` style (1000-based, like ``--rotate-size``)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


# -- the file writer (synchronous, no trio) -------------------------------------------------------


def encode_line(t: float, endpoint: str, frame: bytes | str) -> bytes:
    """One recording line: ``{"t": <unix seconds>, "endpoint": …, "frame": "<raw text>"}`` and a newline."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return _encode({"t": t, "endpoint": endpoint, "frame": text}) + b"\n"


class RecordingWriter:
    """Appends recording lines to ``path`` (gzip when ``compress``, and then named ``….gz``), optionally rotating.

    Rotating writes ``NAME-0001.jsonl[.gz]``, ``NAME-0002…`` instead of ``path``: a new file starts
    when the next line would take a plain file past ``rotate_size`` bytes (a gzip file: once its
    compressed size reaches it), or when a frame's receive time crosses a multiple of
    ``rotate_every`` seconds since the epoch (``1h``: on every UTC hour). Every line is complete and
    every file is closed properly (gzip trailer) by ``close()``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        compress: bool | None = None,
        rotate_size: int | None = None,
        rotate_every: float | None = None,
        overwrite: bool = False,
        compresslevel: int = 6,
    ) -> None:
        self.path = Path(path)
        self.compress = self.path.name.endswith(".gz") if compress is None else compress
        if self.compress and not self.path.name.endswith(".gz"):
            self.path = self.path.with_name(self.path.name + ".gz")  # readers pick gzip by the name
        self.rotate_size = rotate_size
        self.rotate_every = rotate_every
        self.overwrite = overwrite
        self.compresslevel = compresslevel
        self.files: list[Path] = []
        self.frames = 0
        self._closed_bytes = 0
        self._raw: IO[bytes] | None = None
        self._out: IO[bytes] | None = None
        self._file_bytes = 0
        self._boundary = math.inf
        self._last_flush = time.monotonic()

    @property
    def rotating(self) -> bool:
        """True when writing numbered files."""
        return self.rotate_size is not None or self.rotate_every is not None

    def path_for(self, number: int) -> Path:
        """The name of rotated file ``number``: the number goes before ``.jsonl`` / ``.gz``."""
        stem, ext = self._split_name()
        return self.path.with_name(f"{stem}-{number:04d}{ext}")

    def _split_name(self) -> tuple[str, str]:
        name = self.path.name
        gz = ".gz" if name.endswith(".gz") else ""
        base = name[: len(name) - len(gz)]
        dot = base.rfind(".")
        if dot <= 0:
            return base, gz
        return base[:dot], base[dot:] + gz

    def existing(self) -> list[Path]:
        """Files this writer would replace (for refusing to overwrite before recording starts)."""
        if not self.rotating:
            return [self.path] if self.path.exists() else []
        stem, ext = self._split_name()
        pattern = re.compile(re.escape(stem) + r"-\d{4,}" + re.escape(ext))
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            return []
        return sorted(p for p in parent.iterdir() if pattern.fullmatch(p.name))

    @property
    def size(self) -> int:
        """Bytes on disk so far, all files (a gzip file's last part may still be in zlib's buffer)."""
        return self._closed_bytes + self._current_size()

    @property
    def current_path(self) -> Path | None:
        """The file being written, if any."""
        return self.files[-1] if self._out is not None else None

    def _current_size(self) -> int:
        if self._out is None:
            return 0
        if self.compress and self._raw is not None:
            return self._raw.tell()
        return self._file_bytes

    def write(self, t: float, endpoint: str, frame: bytes | str) -> None:
        """Append one frame received at unix time ``t`` from ``endpoint``."""
        line = encode_line(t, endpoint, frame)
        if self._out is not None and self._must_rotate(t, len(line)):
            self._close_file()
        if self._out is None:
            self._open_file(t)
        assert self._out is not None
        self._out.write(line)
        self._file_bytes += len(line)
        self.frames += 1

    def write_batch(self, batch: Sequence[Received]) -> None:
        """Append several frames, then flush if the last flush is a second old."""
        for t, endpoint, frame in batch:
            self.write(t, endpoint, frame)
        if time.monotonic() - self._last_flush >= _FLUSH_EVERY:
            self.flush()

    def _must_rotate(self, t: float, line_size: int) -> bool:
        if t >= self._boundary:
            return True
        if self.rotate_size is None:
            return False
        if self.compress:
            return self._current_size() >= self.rotate_size
        return self._file_bytes > 0 and self._file_bytes + line_size > self.rotate_size

    def _open_file(self, t: float) -> None:
        path = self.path_for(len(self.files) + 1) if self.rotating else self.path
        raw = open(path, "wb" if self.overwrite else "xb")  # noqa: SIM115 - closed by _close_file
        self._raw = raw
        self._out = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=self.compresslevel) \
            if self.compress else raw
        self._file_bytes = 0
        self.files.append(path)
        if self.rotate_every is not None:
            self._boundary = (math.floor(t / self.rotate_every) + 1) * self.rotate_every

    def flush(self) -> None:
        """Push buffered lines to the operating system (a gzip sync point for compressed files)."""
        if self._out is not None:
            self._out.flush()
            if self._raw is not self._out and self._raw is not None:
                self._raw.flush()
        self._last_flush = time.monotonic()

    def _close_file(self) -> None:
        out, raw = self._out, self._raw
        self._out = self._raw = None
        try:
            if out is not None and out is not raw:
                out.close()  # writes the gzip trailer; leaves ``raw`` open
        finally:
            if raw is not None:
                raw.close()
                self._closed_bytes += self.files[-1].stat().st_size

    def close(self) -> None:
        """Finish the current file; the writer can start a new one if written to again."""
        self._close_file()


# -- the tee (the connector seam) -----------------------------------------------------------------


class _TeeWire:
    """A ``Wire`` that copies every received frame, with its receive time, into a channel."""

    def __init__(self, wire: Wire, endpoint: str, copies: trio.MemorySendChannel[Received]) -> None:
        self._wire = wire
        self._endpoint = endpoint
        self._copies = copies

    async def send(self, message: str | bytes) -> None:
        await self._wire.send(message)

    async def ping(self) -> None:
        await self._wire.ping()

    async def receive(self) -> bytes | str:
        frame = await self._wire.receive()
        item = (time.time(), self._endpoint, frame)
        try:
            self._copies.send_nowait(item)
        except trio.WouldBlock:
            try:
                # A received frame is never dropped: wait for the writer even while shutting down.
                with trio.CancelScope(shield=True):
                    await self._copies.send(item)
            except trio.BrokenResourceError:
                await trio.lowlevel.checkpoint()  # the writer failed: its error cancels us here
        except trio.BrokenResourceError:
            await trio.lowlevel.checkpoint()
        return frame


def tee_connector(inner: Connector, private_url: str, copies: trio.MemorySendChannel[Received]) -> Connector:
    """``inner``, with every frame received on its connections also sent to ``copies``."""

    @asynccontextmanager
    async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[Wire]:
        async with inner(url, headers) as wire:
            yield _TeeWire(wire, "private" if url == private_url else "public", copies)

    return connect


# -- the recorder (trio) --------------------------------------------------------------------------


@attrs.frozen
class Summary:
    """What a recording wrote."""

    frames: int
    files: tuple[Path, ...]
    size: int

    def describe(self) -> str:
        """``recorded 1,234 frames to data.jsonl.gz (56.1 KB)``."""
        if not self.files:
            return f"recorded {self.frames:,} frames (no file written)"
        where = str(self.files[0]) if len(self.files) == 1 else \
            f"{len(self.files)} files, {self.files[0]} … {self.files[-1]}"
        return f"recorded {self.frames:,} frames to {where} ({human_size(self.size)})"


async def record(
    specs: Sequence[Spec],
    settings: Settings,
    writer: RecordingWriter,
    *,
    stop: trio.Event,
    seconds: float = math.inf,
    count: int | None = None,
    progress: TextIO | None = None,
    connector: Connector | None = None,
) -> Summary:
    """Subscribe to ``specs`` and write every frame received until ``stop``, ``seconds`` or ``count``.

    The session reconnects, paces requests and re-asks snapshots as usual; the recorder writes the
    raw frames its connections receive (also ones that are not events). Stopping finishes cleanly:
    every frame already received is written and the files are closed.
    """
    inner = connector or trio_websocket_connector(
        connect_timeout=settings.connection.connect_timeout, max_message_size=settings.connection.max_message_size
    )
    copies, received = trio.open_memory_channel[Received](QUEUE_SIZE)
    enough = trio.Event()
    try:
        with single_errors():
            async with trio.open_nursery() as pipeline:
                pipeline.start_soon(_write_all, received, writer, count, enough)
                async with copies:  # closing it lets the writer finish what is queued
                    with trio.move_on_after(seconds):
                        tee = tee_connector(inner, settings.private_url, copies)
                        await _subscribe_until(specs, settings, tee, (stop, enough), writer, progress)
    finally:
        writer.close()
        if progress is not None and _isatty(progress):
            progress.write("\r\x1b[K")
            progress.flush()
    return Summary(writer.frames, tuple(writer.files), writer.size)


async def _subscribe_until(
    specs: Sequence[Spec], settings: Settings, connector: Connector, stops: Sequence[trio.Event],
    writer: RecordingWriter, progress: TextIO | None,
) -> None:
    """Hold the subscription (draining its events) until a stop event or the subscription ends."""
    async with open_upbit_session(config=settings, connector=connector) as session:
        async with session.subscribe(*specs, buffer=64, overflow="latest") as events:
            with single_errors():
                async with trio.open_nursery() as tasks:
                    tasks.start_soon(_drain, events, tasks.cancel_scope)
                    for event in stops:
                        tasks.start_soon(_stop_on, event, tasks.cancel_scope)
                    if progress is not None:
                        tasks.start_soon(_show_progress, progress, writer, session)


async def _write_all(
    received: trio.MemoryReceiveChannel[Received], writer: RecordingWriter, count: int | None, enough: trio.Event
) -> None:
    async with received:
        while True:
            with trio.move_on_after(_FLUSH_EVERY) as idle:
                try:
                    batch = [await received.receive()]
                except trio.EndOfChannel:
                    return
            if idle.cancelled_caught:
                await trio.to_thread.run_sync(writer.flush)
                continue
            while len(batch) < _BATCH:
                try:
                    batch.append(received.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            if count is not None:
                batch = batch[: max(0, count - writer.frames)]  # past the count: received, not wanted
                if writer.frames + len(batch) >= count:
                    enough.set()
            if batch:
                await trio.to_thread.run_sync(writer.write_batch, batch)


async def _drain(events: trio.MemoryReceiveChannel[object], done: trio.CancelScope) -> None:
    async for _ in events:
        pass
    done.cancel()


async def _stop_on(event: trio.Event, done: trio.CancelScope) -> None:
    await event.wait()
    done.cancel()


async def _show_progress(out: TextIO, writer: RecordingWriter, session: UpbitSession) -> None:
    tty = _isatty(out)
    last_frames, last_time = writer.frames, trio.current_time()
    while True:
        await trio.sleep(0.5 if tty else 5.0)
        now = trio.current_time()
        rate = (writer.frames - last_frames) / max(now - last_time, 1e-9)
        last_frames, last_time = writer.frames, now
        health = session.health()
        state = "" if health.status == "healthy" else f"  [{health.status}: {'; '.join(health.reasons)}]"
        where = writer.current_path or writer.path
        line = f"recording {writer.frames:,} frames  {rate:,.0f}/s  {human_size(writer.size)}  {where}{state}"
        out.write(f"\r\x1b[K{line}" if tty else f"{line}\n")
        out.flush()


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


