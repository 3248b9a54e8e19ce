"""The reader takes waiting messages in batches yet never outruns a consumer that is keeping up,
and never waits on one that is not."""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
import trio

import upbit_stream as ub
from upbit_stream._core.encode import encode_event
from upbit_stream.testing import open_fake_upbit


def trade_frames(count: int) -> list[bytes]:
    return [
        encode_event(ub.Trade(
            code="KRW-BTC", timestamp=1_700_000_000_000 + i, trade_date="2026-11-22", trade_time="10:00:00",
            trade_timestamp=1_700_000_000_000 + i, trade_price=Decimal(100 + i), trade_volume=Decimal("0.5"),
            ask_bid=ub.AskBid.BID, prev_closing_price=Decimal(100), change=ub.Change.RISE,
            change_price=Decimal(i), sequential_id=i, stream_type=ub.StreamType.REALTIME,
        ), ub.Format.DEFAULT)
        for i in range(count)
    ]


class ScriptedWire:
    """Serves ``frames`` once the first request is sent: ``receive`` one, ``receive_ready`` a batch."""

    def __init__(self, frames: Sequence[bytes]) -> None:
        self._frames = deque(frames)
        self._requested = trio.Event()
        self.limits: list[int] = []
        self.batch_sizes: list[int] = []

    async def send(self, message: str | bytes) -> None:
        self._requested.set()

    async def receive(self) -> bytes | str:
        await self._requested.wait()
        if not self._frames:
            await trio.sleep_forever()
        return self._frames.popleft()

    def receive_ready(self, limit: int) -> list[bytes | str]:
        taken: list[bytes | str] = [self._frames.popleft() for _ in range(min(limit, len(self._frames)))]
        self.limits.append(limit)
        self.batch_sizes.append(len(taken))
        return taken

    async def ping(self) -> None:
        await trio.lowlevel.checkpoint()


def scripted(wire: ScriptedWire) -> ub.Connector:
    @asynccontextmanager
    async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[ScriptedWire]:
        yield wire

    return connect


def sequential_ids(events: list[object]) -> list[int]:
    return [event.sequential_id for event in events]  # type: ignore[attr-defined]


async def test_a_strict_consumer_keeping_up_gets_every_event_although_the_reader_takes_batches(autojump_clock):
    wire = ScriptedWire(trade_frames(2000))
    got = []
    with trio.fail_after(60):
        async with ub.open_upbit_session(connector=scripted(wire)) as session:
            async with session.trade(["KRW-BTC"], mode="realtime", buffer=8) as trades:
                async for trade in trades:
                    got.append(trade)
                    if len(got) == 2000:
                        break
    assert sequential_ids(got) == list(range(2000))
    assert max(wire.limits) == 3  # half the buffer, less the frame receive() took
    assert max(wire.batch_sizes) == 3


async def test_the_smallest_buffer_sets_the_batch_and_a_buffer_of_one_turns_batching_off(autojump_clock):
    wire = ScriptedWire(trade_frames(200))
    got = []
    with trio.fail_after(60):
        async with ub.open_upbit_session(connector=scripted(wire)) as session:
            async with session.trade(["KRW-BTC"], mode="realtime", buffer=64, overflow="latest") as roomy:
                async with session.trade(["KRW-BTC"], mode="realtime", buffer=1) as tight:
                    async for trade in tight:
                        got.append(trade)
                        if len(got) == 200:
                            break
                assert roomy.queued == 65  # roomy's buffer, then the newest event held back (conflated)
    assert sequential_ids(got) == list(range(200))
    assert wire.limits == []


async def test_a_sleeping_consumer_does_not_hold_the_reader_for_the_others(autojump_clock):
    wire = ScriptedWire(trade_frames(1000))
    fast: list[ub.Trade] = []
    failures: list[Exception] = []
    with trio.fail_after(60):
        async with ub.open_upbit_session(connector=scripted(wire)) as session:
            async with session.trade(["KRW-BTC"], mode="realtime", buffer=512) as quick:
                start = trio.current_time()
                async with trio.open_nursery() as nursery:
                    async def dawdle() -> None:
                        try:
                            async with session.trade(["KRW-BTC"], mode="realtime", buffer=8) as slow:
                                async for _ in slow:
                                    await trio.sleep(1)
                        except ub.SlowConsumerError as exc:
                            failures.append(exc)

                    nursery.start_soon(dawdle)
                    async for trade in quick:
                        fast.append(trade)
                        if len(fast) == 1000:
                            break
                elapsed = trio.current_time() - start
    assert sequential_ids(fast) == list(range(1000))
    assert len(failures) == 1  # strict, as before: it could not keep up
    assert elapsed < 60  # the reader never waited for the sleeper's one event per second


async def test_a_busy_task_elsewhere_does_not_stall_delivery():
    """With a task that always has work, nobody is ever idle: the reader goes on while consumers drain."""
    wire = ScriptedWire(trade_frames(3000))
    got = []
    with trio.fail_after(30):
        async with ub.open_upbit_session(connector=scripted(wire)) as session:
            async with trio.open_nursery() as nursery:
                async def spin() -> None:
                    while True:
                        await trio.lowlevel.checkpoint()

                nursery.start_soon(spin)
                async with session.trade(["KRW-BTC"], mode="realtime", buffer=64) as trades:
                    async for trade in trades:
                        got.append(trade)
                        if len(got) == 3000:
                            break
                nursery.cancel_scope.cancel()
    assert sequential_ids(got) == list(range(3000))
    assert max(wire.batch_sizes) > 1


class BatchCountingWire:
    """A real wire, recording the size of every batch it hands up."""

    def __init__(self, wire: ub.Wire, sizes: list[int]) -> None:
        self._wire, self._sizes = wire, sizes
        self.send, self.receive, self.ping = wire.send, wire.receive, wire.ping

    def receive_ready(self, limit: int) -> list[bytes | str]:
        taken = self._wire.receive_ready(limit)  # type: ignore[attr-defined]
        self._sizes.append(len(taken))
        return taken


async def test_a_blast_over_loopback_reaches_a_small_strict_buffer_whole(make_connector, transport):
    sizes: list[int] = []
    inner = make_connector()

    @asynccontextmanager
    async def counting(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[BatchCountingWire]:
        async with inner(url, headers) as wire:
            yield BatchCountingWire(wire, sizes)

    with trio.fail_after(60):
        async with open_fake_upbit(seed=7, blast=True, idle_timeout=None) as fake:
            settings = ub.Settings().evolve(connection={"public_url": fake.public_url})
            async with ub.open_upbit_session(config=settings, connector=counting) as session:
                async with session.trade(["KRW-BTC"], mode="realtime", buffer=16) as trades:
                    count = 0
                    async for _ in trades:
                        count += 1
                        if count == 20_000:
                            break
                    subscribed = list(sizes)  # once unsubscribed, no buffer limits the batches
    if transport == "websockets":  # trio-websocket hands up one message per get_message(): batches stay small
        assert max(subscribed) > 1  # the wire had messages waiting and the reader took them together
    assert max(subscribed) <= 7


async def test_websockets_batches_keep_order_and_content_and_end_at_broken_utf8():
    """Whatever mix of receive() and receive_ready() takes them: every message, in order, text as str,
    fragments joined; invalid UTF-8 fails the connection (1007) after the messages before it."""
    from websockets.trio.server import serve

    from upbit_stream._transports.seam import Disconnected
    from upbit_stream._transports.via_websockets import websockets_connector

    async def handler(ws) -> None:  # type: ignore[no-untyped-def]
        await ws.send("one")
        await ws.send(b"\x01two")
        await ws.send(["fr", "ag"])
        await ws.send("é-three")
        await ws.send("four")
        await ws.send(b"\xff", text=True)
        await trio.sleep_forever()

    got: list[bytes | str] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(functools.partial(serve, handler, 0, host="127.0.0.1"))
            port = server.listeners[0].socket.getsockname()[1]
            async with websockets_connector()(f"ws://127.0.0.1:{port}/", []) as wire:
                got.append(await wire.receive())
                await trio.sleep(0.3)  # everything else has arrived
                with pytest.raises(Disconnected) as caught:
                    while True:
                        got.extend(wire.receive_ready(2))
                        got.append(await wire.receive())
            nursery.cancel_scope.cancel()
    assert got == ["one", b"\x01two", "frag", "é-three", "four"]
    assert caught.value.code == 1007


def test_importing_the_library_imports_no_test_tooling():
    """The catch-up wait comes from trio's core, not trio.testing (which would import pytest)."""
    import subprocess
    import sys

    probe = "import sys, upbit_stream; print(sorted(m for m in ('pytest', 'trio.testing') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
