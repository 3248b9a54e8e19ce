"""``upbit-stream record``: raw frames with their receive time to JSONL, through a session and a tee."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import attrs
import trio
from rich.text import Text

from .._config.settings import Settings
from .._core.specs import Spec
from .._transports.seam import Connector, Wire, trust_context
from .._transports.via_trio_websocket import trio_websocket_connector
from .._trio.groups import single_errors
from .._trio.session import UpbitSession, open_upbit_session
from .record_file import FLUSH_EVERY, Received, RecordingWriter, human_size
from .terminal import Terminal
from .watch import health_text, unreachable

__all__ = ["Summary", "record", "tee_connector"]

QUEUE_SIZE = 4096  # frames between the readers and the writer; a full queue makes the readers wait
_BATCH = 1024
_THREAD_BATCH = 64


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

    def receive_ready(self, limit: int) -> list[bytes | str]:
        """The inner wire's batch, no larger than the copy channel can take now (copies included)."""
        inner = getattr(self._wire, "receive_ready", None)
        room = self._copies.statistics()
        free = room.max_buffer_size - room.current_buffer_used
        if inner is None or free < 1:
            return []
        frames: list[bytes | str] = inner(int(min(limit, free)))
        now = time.time()
        for frame in frames:
            try:
                self._copies.send_nowait((now, self._endpoint, frame))
            except trio.BrokenResourceError:
                break  # the writer failed: its error cancels the session
        return frames


def tee_connector(inner: Connector, settings: Settings, copies: trio.MemorySendChannel[Received]) -> Connector:
    """``inner``, with every frame received on its connections also sent to ``copies``."""
    endpoints = {settings.private_url: "private", settings.info_url: "info"}

    @asynccontextmanager
    async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[Wire]:
        async with inner(url, headers) as wire:
            yield _TeeWire(wire, endpoints.get(url, "public"), copies)

    return connect


# -- the recorder (trio) --------------------------------------------------------------------------


@attrs.frozen
class Summary:
    """What a recording wrote."""

    frames: int
    files: tuple[Path, ...]
    size: int
    unreachable: str | None = None  # why nothing ever arrived, when the session never received a message

    def describe(self) -> str:
        """``recorded 1,234 frames to data.jsonl.gz (56.1 KB)``."""
        if not self.files:
            return f"recorded {_frames(self.frames)} (no file written)"
        where = str(self.files[0]) if len(self.files) == 1 else \
            f"{len(self.files)} files, {self.files[0]} … {self.files[-1]}"
        return f"recorded {_frames(self.frames)} to {where} ({human_size(self.size)})"


async def record(
    specs: Sequence[Spec[Any]],
    settings: Settings,
    writer: RecordingWriter,
    *,
    stop: trio.Event,
    seconds: float = math.inf,
    count: int | None = None,
    progress: TextIO | None = None,
    connector: Connector | None = None,
    queue_size: int = QUEUE_SIZE,
) -> Summary:
    """Subscribe to ``specs`` and write every frame received until ``stop``, ``seconds`` or ``count``.

    The session reconnects, paces requests and re-asks snapshots as usual; the recorder writes the
    raw frames its connections receive (also ones that are not events). Stopping finishes cleanly:
    every frame already received is written and the files are closed.
    """
    inner = connector or trio_websocket_connector(
        connect_timeout=settings.connection.connect_timeout, max_message_size=settings.connection.max_message_size,
        ssl_context=trust_context(settings.connection.ca_file),
    )
    copies, received = trio.open_memory_channel[Received](queue_size)
    enough = trio.Event()
    outcome: list[str | None] = []
    try:
        with single_errors():
            async with trio.open_nursery() as pipeline:
                behind = max(1, min(_THREAD_BATCH, queue_size // 2))  # a batch this big goes to a thread
                pipeline.start_soon(_write_all, received, writer, count, enough, behind)
                async with copies:  # closing it lets the writer finish what is queued
                    with trio.move_on_after(seconds):
                        tee = tee_connector(inner, settings, copies)
                        await _subscribe_until(specs, settings, tee, (stop, enough), writer, progress, outcome)
    finally:
        writer.close()
    return Summary(writer.frames, tuple(writer.files), writer.size, outcome[0] if outcome else None)


async def _subscribe_until(
    specs: Sequence[Spec[Any]], settings: Settings, connector: Connector, stops: Sequence[trio.Event],
    writer: RecordingWriter, progress: TextIO | None, outcome: list[str | None],
) -> None:
    """Hold the subscription (draining its events) until a stop event or the subscription ends.

    Appends to ``outcome`` why nothing ever arrived (None when something did).
    """
    async with open_upbit_session(config=settings, connector=connector) as session:
        try:
            async with session.subscribe(*specs, buffer=64, overflow="latest") as events:
                with single_errors():
                    async with trio.open_nursery() as tasks:
                        tasks.start_soon(_drain, events, tasks.cancel_scope)
                        for event in stops:
                            tasks.start_soon(_stop_on, event, tasks.cancel_scope)
                        if progress is not None:
                            tasks.start_soon(_show_progress, progress, writer, session)
        finally:
            outcome.append(unreachable(session))


async def _write_all(
    received: trio.MemoryReceiveChannel[Received], writer: RecordingWriter, count: int | None, enough: trio.Event,
    thread_from: int,
) -> None:
    """Write batches of queued frames: inline while keeping up, in a worker thread from ``thread_from`` frames."""
    async with received:
        while True:
            batch: list[Received] = []
            with trio.move_on_after(FLUSH_EVERY):
                try:
                    batch.append(await received.receive())
                except trio.EndOfChannel:
                    return
            if not batch:  # nothing within FLUSH_EVERY
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
            if len(batch) >= thread_from:  # behind: compress and write while the readers go on
                await trio.to_thread.run_sync(writer.write_batch, batch)
            elif batch:  # a few buffered lines cost less than a thread hop
                writer.write_batch(batch)
                await trio.lowlevel.checkpoint()


async def _drain(events: AsyncIterable[object], done: trio.CancelScope) -> None:
    async for _ in events:
        pass
    done.cancel()


async def _stop_on(event: trio.Event, done: trio.CancelScope) -> None:
    await event.wait()
    done.cancel()


async def _show_progress(out: TextIO, writer: RecordingWriter, session: UpbitSession) -> None:
    """One status line: redrawn in place on a terminal (cut to its width, erased at the end), else every 5 s."""
    term = Terminal.for_output(out)
    last_frames, last_time = writer.frames, trio.current_time()
    with term.frames(transient=True, gap="\n") as show:
        while True:
            await trio.sleep(0.5 if term.live else 5.0)
            now = trio.current_time()
            rate = (writer.frames - last_frames) / max(now - last_time, 1e-9)
            last_frames, last_time = writer.frames, now
            health = health_text(session)
            state = "" if health == "healthy" else f"[{health}]  "  # before the path: a narrow terminal cuts the end
            where = writer.current_path or writer.path
            show(Text.assemble(f"recording {writer.frames:,} frames  {rate:,.0f}/s  {human_size(writer.size)}  ",
                               (state, "bold"), str(where), no_wrap=True, overflow="ellipsis"))


def _frames(count: int) -> str:
    return f"{count:,} frame" if count == 1 else f"{count:,} frames"
