"""The recorder in this process: a writer that lags holds the session's reader back and loses nothing."""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager

import trio

import upbit_stream as ub
from upbit_stream._cli.record import record
from upbit_stream._cli.record_file import RecordingWriter
from upbit_stream._transports.via_trio_websocket import trio_websocket_connector
from upbit_stream.testing import load_replay, open_fake_upbit


class SlowWriter(RecordingWriter):
    """A writer on a slow disk: every batch takes 20 ms."""

    batches = 0

    def write_batch(self, batch):
        time.sleep(0.02)
        self.batches += 1
        super().write_batch(batch)


class CountingWire:
    """The real connection, counting every frame it hands up (the ground truth of "received")."""

    def __init__(self, wire, received: list) -> None:
        self._wire, self._received = wire, received
        self.send, self.ping = wire.send, wire.ping

    async def receive(self):
        frame = await self._wire.receive()
        self._received.append(frame)
        return frame

    def receive_ready(self, limit: int) -> list:
        frames = self._wire.receive_ready(limit)
        self._received.extend(frames)
        return frames


def counting_connector(received: list) -> ub.Connector:
    inner = trio_websocket_connector()

    @asynccontextmanager
    async def connect(url, headers):
        async with inner(url, headers) as wire:
            yield CountingWire(wire, received)

    return connect


def _settings(fake) -> ub.Settings:
    return ub.Settings().evolve(connection={"public_url": fake.public_url, "private_url": fake.private_url})


def _trade_ids(path) -> list[int]:
    return [json.loads(f.frame)["sequential_id"] for f in load_replay(path)]


async def test_a_lagging_writer_gets_every_frame(tmp_path):
    path = tmp_path / "slow.jsonl"
    writer = SlowWriter(path)
    async with open_fake_upbit(rate=0, seed=2, idle_timeout=None) as fake:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(lambda: record([ub.trade("KRW-BTC", mode="realtime")], _settings(fake), writer,
                                                  stop=trio.Event(), count=150, queue_size=2))
                await fake.wait_for_request(lambda r: r.request is not None)
                trades = fake.tick(150, code="KRW-BTC")
    assert writer.batches > 10  # the writer really lagged: many small batches behind a queue of two
    assert _trade_ids(path) == [t.sequential_id for t in trades]


async def test_stopping_while_the_writer_lags_keeps_every_frame_received(tmp_path):
    path = tmp_path / "stopped.jsonl"
    writer = SlowWriter(path)
    stop = trio.Event()
    received: list = []
    async with open_fake_upbit(rate=0, seed=2, idle_timeout=None) as fake:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(lambda: record([ub.trade("KRW-BTC", mode="realtime")], _settings(fake), writer,
                                                  stop=stop, queue_size=2, connector=counting_connector(received)))
                await fake.wait_for_request(lambda r: r.request is not None)
                trades = fake.tick(150, code="KRW-BTC")
                while writer.frames < 20:
                    await trio.sleep(0.01)
                stop.set()  # readers are blocked on the full queue right now
    written = _trade_ids(path)
    assert 20 <= len(written) < 150  # stopped midway
    assert len(written) == len(received)  # every frame off the socket, also the one in hand at the stop
    assert written == [t.sequential_id for t in trades[: len(written)]]  # in order, no holes
    assert path.read_text().endswith("\n")
