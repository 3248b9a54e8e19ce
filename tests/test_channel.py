"""The subscription channel: order, overflow policies, in-band failures, gap markers, pacing."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
import trio
import trio.testing

import upbit_stream as ub
from upbit_stream._trio.channel import MAX_UNREAD_GAPS, YIELD_EVERY, SubscriptionChannel


@attrs.frozen
class Tick:
    code: str
    n: int
    type: str = "ticker"


@attrs.frozen
class Book:
    code: str
    level: Decimal
    n: int
    type: str = "orderbook"


def gap(n: int) -> ub.StreamGap:
    return ub.StreamGap(f"lost {n}", float(n), float(n) + 0.5)


def drain(channel: SubscriptionChannel) -> list:
    got = []
    while True:
        try:
            got.append(channel.receive_nowait())
        except trio.WouldBlock:
            return got


async def test_events_come_in_wire_order_and_receive_nowait_would_block_when_empty():
    channel = SubscriptionChannel._create(8, "strict")
    with pytest.raises(trio.WouldBlock):
        channel.receive_nowait()
    for n in range(5):
        channel._deliver(Tick("KRW-BTC", n))
    assert [await channel.receive() for _ in range(2)] == [Tick("KRW-BTC", 0), Tick("KRW-BTC", 1)]
    assert drain(channel) == [Tick("KRW-BTC", n) for n in range(2, 5)]
    assert channel.delivered == 5 and channel.queued == 0


async def test_a_waiting_receive_wakes_for_the_next_event():
    channel = SubscriptionChannel._create(8, "strict")
    got = []
    async with trio.open_nursery() as nursery:
        async def consume():
            async for event in channel:
                got.append(event)
        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        channel._deliver(Tick("KRW-BTC", 1))
        await trio.testing.wait_all_tasks_blocked()
        assert got == [Tick("KRW-BTC", 1)]
        channel._deliver(Tick("KRW-BTC", 2))
        channel._finish()
    assert got == [Tick("KRW-BTC", 1), Tick("KRW-BTC", 2)]


async def test_strict_overflow_fails_after_what_was_delivered_and_counts_every_missed_event():
    channel = SubscriptionChannel._create(3, "strict")
    for n in range(10):
        channel._deliver(Tick("KRW-BTC", n))
    assert not channel.accepting
    got = []
    with pytest.raises(ub.SlowConsumerError) as caught:
        async for event in channel:
            got.append(event.n)
    assert got == [0, 1, 2]
    assert caught.value.missed == 7 and caught.value.buffer == 3
    assert channel.failure_seen
    channel._deliver(Tick("KRW-BTC", 11))  # after the consumer saw it: nothing more counts
    assert channel.failure.missed == 7


async def test_latest_keeps_the_newest_event_per_stream_in_the_place_it_first_took():
    channel = SubscriptionChannel._create(2, "latest")
    for n, code in enumerate(["A", "B", "C", "D", "C", "E", "C", "D"]):
        channel._deliver(Tick(code, n))
    assert [(e.code, e.n) for e in drain(channel)] == [("A", 0), ("B", 1), ("C", 6), ("D", 7), ("E", 5)]
    assert channel.conflated == 3 and channel.delivered == 5  # delivered + conflated = offered
    channel._deliver(Tick("A", 9))  # once drained, the buffer is used again
    assert drain(channel) == [Tick("A", 9)]


async def test_latest_keeps_orderbooks_of_different_levels_apart():
    channel = SubscriptionChannel._create(1, "latest")
    channel._deliver(Book("KRW-BTC", Decimal(0), 0))
    channel._deliver(Book("KRW-BTC", Decimal(0), 1))
    channel._deliver(Book("KRW-BTC", Decimal(1000), 2))
    channel._deliver(Book("KRW-BTC", Decimal(0), 3))
    assert [(e.level, e.n) for e in drain(channel)] == [(0, 0), (0, 3), (1000, 2)]


@pytest.mark.parametrize("overflow", ["latest", "strict"])
async def test_gap_markers_never_merge_and_never_count_against_the_buffer(overflow):
    channel = SubscriptionChannel._create(2, overflow, gaps=True)
    channel._deliver(Tick("A", 0))
    channel._deliver(gap(1))
    channel._deliver(gap(2))
    channel._deliver(Tick("A", 1))
    assert channel.accepting
    assert drain(channel) == [Tick("A", 0), gap(1), gap(2), Tick("A", 1)]


async def test_gap_markers_keep_their_place_behind_held_latest_events():
    channel = SubscriptionChannel._create(1, "latest", gaps=True)
    channel._deliver(Tick("A", 0))
    channel._deliver(Tick("B", 1))  # held
    channel._deliver(gap(1))
    channel._deliver(Tick("B", 2))
    channel._deliver(Tick("C", 3))
    assert drain(channel) == [Tick("A", 0), Tick("B", 2), gap(1), Tick("C", 3)]


async def test_unread_gap_markers_are_bounded_and_the_newest_widens():
    channel = SubscriptionChannel._create(4, "latest", gaps=True)
    for n in range(MAX_UNREAD_GAPS + 3):
        channel._deliver(gap(n))
    got = drain(channel)
    assert len(got) == MAX_UNREAD_GAPS
    assert got[-1] == ub.StreamGap(f"lost {MAX_UNREAD_GAPS + 2}", MAX_UNREAD_GAPS - 1, MAX_UNREAD_GAPS + 2.5)


async def test_a_failure_is_raised_after_the_events_before_it_and_then_again():
    channel = SubscriptionChannel._create(8, "latest")
    channel._deliver(Tick("A", 0))
    channel._fail(ub.ServerError("INVALID_PARAM", "no such market"))
    channel._deliver(Tick("A", 1))  # after a failure nothing more is delivered
    assert await channel.receive() == Tick("A", 0)
    with pytest.raises(ub.ServerError, match="no such market"):
        await channel.receive()
    with pytest.raises(ub.ServerError):
        channel.receive_nowait()
    assert channel.failure_seen


async def test_a_waiting_receive_gets_the_failure():
    channel = SubscriptionChannel._create(8, "strict")
    async with trio.open_nursery() as nursery:
        async def consume():
            with pytest.raises(ub.UpbitStreamError, match="refused"):
                await channel.receive()
        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        channel._fail(ub.UpbitStreamError("refused"))


async def test_finish_ends_the_channel_once_drained_and_close_refuses_more():
    channel = SubscriptionChannel._create(8, "strict")
    channel._deliver(Tick("A", 0))
    channel._finish()
    assert [e async for e in channel] == [Tick("A", 0)]
    with pytest.raises(trio.EndOfChannel):
        await channel.receive()
    closed = SubscriptionChannel._create(8, "strict")
    closed._deliver(Tick("A", 0))
    await closed.aclose()
    closed._deliver(Tick("A", 1))
    assert closed.queued == 0
    with pytest.raises(trio.ClosedResourceError):
        await closed.receive()


async def test_close_wakes_a_waiting_receive():
    channel = SubscriptionChannel._create(8, "strict")
    async with trio.open_nursery() as nursery:
        async def consume():
            with pytest.raises(trio.ClosedResourceError):
                await channel.receive()
        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        channel.close()


async def test_batches_come_in_wire_order_and_respect_the_limit():
    channel = SubscriptionChannel._create(16, "strict")
    for n in range(10):
        channel._deliver(Tick("A", n))
    assert [e.n for e in await channel.receive_batch(4)] == [0, 1, 2, 3]
    channel._finish()
    assert [[e.n for e in batch] async for batch in channel.batches()] == [[4, 5, 6, 7, 8, 9]]
    with pytest.raises(ValueError, match="limit"):
        await channel.receive_batch(0)


async def test_receive_is_a_cancel_point_even_when_events_are_waiting():
    channel = SubscriptionChannel._create(8, "strict")
    channel._deliver(Tick("A", 0))
    with trio.CancelScope() as scope:
        scope.cancel()
        await channel.receive()
    assert scope.cancelled_caught
    assert channel.queued == 1  # nothing was lost to the cancellation


async def test_a_busy_consumer_lets_other_tasks_run_every_yield_every_events():
    channel = SubscriptionChannel._create(10_000, "strict")
    for n in range(10 * YIELD_EVERY):
        channel._deliver(Tick("A", n))
    channel._finish()
    other_ran_at: list[int] = []
    taken = 0

    async def other():
        while True:
            other_ran_at.append(taken)
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        await trio.lowlevel.checkpoint()
        other_ran_at.clear()
        async for _ in channel:
            taken += 1
        nursery.cancel_scope.cancel()
    steps = [b - a for a, b in zip(other_ran_at, other_ran_at[1:])]
    assert len(other_ran_at) >= 5
    assert max(steps) <= 2 * YIELD_EVERY  # trio may run the other task before or after us in a round


def test_only_the_session_builds_channels():
    with pytest.raises(TypeError, match="no public constructor"):
        SubscriptionChannel(8, "strict")
    with pytest.raises(TypeError, match="no public constructor"):
        ub.UpbitSession()


async def test_async_for_is_a_cancel_point_even_when_events_are_waiting():
    channel = SubscriptionChannel._create(8, "strict")
    channel._deliver_many([Tick("A", 0), Tick("A", 1)])
    with trio.CancelScope() as scope:
        scope.cancel()
        async for _ in channel:
            raise AssertionError("an event was handed out in a cancelled scope")
    assert scope.cancelled_caught
    assert channel.queued == 2
    assert [e.n async for e in _take(channel, 2)] == [0, 1]


async def _take(channel: SubscriptionChannel, count: int):
    async for event in channel:
        yield event
        count -= 1
        if not count:
            return


@pytest.mark.parametrize("overflow", ["latest", "strict"])
@pytest.mark.parametrize("lists", [[3], [5, 4], [2, 9, 1], [12], [4, 4, 4]])
async def test_delivering_a_list_is_delivering_each_of_its_events(overflow, lists):
    def rest(channel):
        try:
            return [e.n for e in drain(channel)]
        except ub.SlowConsumerError as exc:
            return exc.missed

    one_by_one = SubscriptionChannel._create(8, overflow)
    in_lists = SubscriptionChannel._create(8, overflow)
    n = 0
    for size in lists:
        events = [Tick("AB"[k % 2], n + k) for k in range(size)]
        n += size
        for event in events:
            one_by_one._deliver(event)
        in_lists._deliver_many(events)
        assert (in_lists.delivered, in_lists.conflated, in_lists.missed) == (
            one_by_one.delivered, one_by_one.conflated, one_by_one.missed)
        if size % 3 == 1:  # sometimes the consumer takes everything in between
            assert rest(in_lists) == rest(one_by_one)
    assert rest(in_lists) == rest(one_by_one)
    assert repr(in_lists.failure) == repr(one_by_one.failure)


async def test_a_list_delivered_after_the_end_or_a_close_goes_nowhere():
    channel = SubscriptionChannel._create(8, "strict")
    channel._finish()
    channel._deliver_many([Tick("A", 0)])
    assert channel.queued == 0 and channel.delivered == 0
    closed = SubscriptionChannel._create(8, "strict")
    closed.close()
    closed._deliver_many([Tick("A", 0)])
    assert closed.queued == 0


@pytest.mark.parametrize("take", ["batch", "one by one"])
async def test_taking_events_releases_a_reader_waiting_for_a_strict_consumer_to_catch_up(take):
    channel = SubscriptionChannel._create(8, "strict")
    channel._deliver_many([Tick("A", n) for n in range(7)])
    assert channel.behind
    released = trio.Event()

    async def reader():
        await channel._wait_caught_up()
        released.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        assert not released.is_set()
        if take == "batch":
            assert [e.n for e in await channel.receive_batch()] == list(range(7))
        else:
            for n in range(4):
                assert (await channel.receive()).n == n
        with trio.fail_after(1):
            await released.wait()
