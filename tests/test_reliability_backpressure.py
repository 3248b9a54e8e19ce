"""R7: one consumer that never reads costs the others nothing; its buffer and its counters stay exact."""

from __future__ import annotations

import os

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit

from session_helpers import memory_connector, settings_for

#: 50 msg/s for 600 virtual s is R7's figure; the suite runs 60 s of it (UPBIT_STREAM_R7_SECONDS=600
#: runs the whole of it, about 40 s of wall time on this machine).
RATE, BOUND = 50, 32
SECONDS = int(os.environ.get("UPBIT_STREAM_R7_SECONDS", "60"))


async def push(fake: FakeUpbit, made: list) -> None:
    """50 trades a second on KRW-BTC (each also moves its ticker)."""
    start = trio.current_time()
    for n in range(RATE * SECONDS):
        await trio.sleep_until(start + (n + 1) / RATE)
        made += fake.tick(1, code="KRW-BTC")


async def read_all(channel, into: list, count: int) -> None:
    while len(into) < count:
        into.append(await channel.receive())


class Slow:
    """A subscriber that reads nothing until ``done``, then takes what it was left; records how it ended."""

    def __init__(self, session: ub.UpbitSession, policy: str) -> None:
        self.session, self.policy = session, policy
        self.peak_queued = 0
        self.failure: ub.SlowConsumerError | None = None
        self.final = None
        self.taken = 0
        self.done = trio.Event()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with self.session.ticker("KRW-BTC", mode="realtime", buffer=BOUND, overflow=self.policy) as chan:
            task_status.started()
            while not self.done.is_set():
                with trio.move_on_after(0.5):
                    await self.done.wait()
                if self.policy == "strict":
                    continue  # the other ticker subscription is strict too: only "latest" is sampled
                [mine] = [x for x in self.session.stats().subscriptions if x.overflow == self.policy
                          and x.specs[0].type == "ticker"]
                self.peak_queued = max(self.peak_queued, mine.queued)
                self.final = mine
            try:
                while True:
                    chan.receive_nowait()
                    self.taken += 1
            except trio.WouldBlock:
                pass
            except ub.SlowConsumerError as exc:  # in-band: after the events that fit
                self.failure = exc


@pytest.mark.parametrize("policy", ["latest", "strict"])
async def test_a_consumer_that_never_reads_costs_the_others_nothing(fake, autojump_clock, policy):
    made: list = []
    trades: list = []
    tickers: list = []
    with trio.fail_after(SECONDS * 3):
        async with ub.open_upbit_session(config=settings_for(fake), connector=memory_connector(fake)) as s:
            async with s.connection_events() as events, \
                    s.trade("KRW-BTC", mode="realtime") as fast_trades, \
                    s.ticker("KRW-BTC", mode="realtime", overflow="strict") as fast_tickers:
                slow = Slow(s, policy)
                async with trio.open_nursery() as nursery:
                    await nursery.start(slow.run)
                    await fake.wait_for_request(lambda r: r.kind == "message")
                    nursery.start_soon(push, fake, made)
                    nursery.start_soon(read_all, fast_trades, trades, RATE * SECONDS)
                    await read_all(fast_tickers, tickers, RATE * SECONDS)
                    await trio.sleep(1)
                    slow.done.set()
                assert events.receive_nowait().kind is ub.ConnectionEventKind.CONNECTED
                with pytest.raises(trio.WouldBlock):
                    events.receive_nowait()  # no disconnect, no pong timeout, no reconnect
            assert s.stats().connections["public"].reconnects == 0
    assert len(made) == RATE * SECONDS
    assert [t.sequential_id for t in trades] == [t.sequential_id for t in made]  # 100 %, in order
    assert [t.trade_timestamp for t in tickers] == [t.trade_timestamp for t in made]
    if policy == "strict":  # only that subscription fails, in-band, after what fit, counting every miss
        assert slow.taken == BOUND
        assert slow.failure is not None
        assert (slow.failure.missed, slow.failure.buffer) == (len(made) - BOUND, BOUND)
        assert f"{len(made) - BOUND} event(s) did not fit its buffer of {BOUND}" in str(slow.failure)
    else:
        stats = slow.final
        assert slow.failure is None and slow.taken == BOUND + 1  # the buffer, then the newest held back
        assert slow.peak_queued <= BOUND + 1
        assert stats.delivered + stats.conflated == len(made)  # counters add up
        assert stats.conflated == len(made) - BOUND - 1
