"""R3: a server that accepts and at once closes, for 600 virtual seconds, gets few, spaced attempts."""

from __future__ import annotations

import pytest
import trio

import upbit_stream as ub
from upbit_stream._core.classify import REPEAT_LIMIT
from upbit_stream.testing import FakeUpbit
from upbit_stream.testing._chaos import close_connection, opened
from upbit_stream.testing._requests import error_frame

from session_helpers import memory_connector, settings_for

K = ub.ConnectionEventKind


async def storm(fake: FakeUpbit, how: str) -> None:
    """Let every handshake succeed, then end the connection at once (``how``)."""
    seen = 0
    while True:
        [*_, record] = await fake.wait_for_request(
            lambda r: r.kind == "handshake" and r.status == 101 and r.connection > seen)
        seen = record.connection
        if how == "drop":
            if await opened(fake, seen) is not None:
                fake.drop_all()
            continue
        if how.startswith("error"):
            conn = await opened(fake, seen)
            if conn is not None:
                await conn.ws.send_message(error_frame("Too Many Requests"))
        await close_connection(fake, seen, int(how.rpartition(" ")[2]), "storm")


def attempts(fake: FakeUpbit) -> list[float]:
    return [r.time for r in fake.requests if r.kind == "handshake"]


@pytest.mark.parametrize("how", ["drop", "close 1000", "close 1001", "close 1011", "close 1013",
                                 "error then close 1000"])
async def test_accept_then_close_storm_is_paced(fake, autojump_clock, how):
    with trio.fail_after(2000):
        async with ub.open_upbit_session(config=settings_for(fake), connector=memory_connector(fake)) as s:
            async with s.connection_events() as events, s.ticker("KRW-BTC") as tickers:
                kinds = []
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(storm, fake, how)
                    with trio.move_on_after(600):
                        async for event in events:
                            kinds.append(event.kind)
                    nursery.cancel_scope.cancel()
                times = attempts(fake)
                # Backoff with equal jitter: attempt n waits within [c/2, c], c = min(30, 0.5 * 2**n).
                # Longest waits: 31.5 s for the first six, then 30 s each, so at least 24 in 600 s;
                # shortest: 15.75 s, then 15 s each, so at most 46 (websockets' own loop: 1047 in 2 s).
                assert 24 <= len(times) <= 50, len(times)
                assert min(b - a for a, b in zip(times, times[1:])) >= 0.5
                assert K.GAVE_UP not in kinds  # retryable closes never give up ...
                assert kinds.count(K.RECONNECTED) == s.stats().connections["public"].reconnects
                assert s.health().status != "healthy"  # ... but health shows the trouble
                # the storm ends: the same channel resumes with a fresh snapshot
                while True:
                    event = await tickers.receive()
                    if event.stream_type is ub.StreamType.SNAPSHOT and trio.current_time() > 600:
                        break
    assert limit_ok(fake)


def drain(channel: trio.MemoryReceiveChannel) -> list:
    """The kinds of every connection event already waiting in ``channel``."""
    found = []
    while True:
        try:
            found.append(channel.receive_nowait().kind)
        except trio.WouldBlock:
            return found


def limit_ok(fake: FakeUpbit) -> bool:
    from upbit_stream.testing._chaos import limit_violations

    return limit_violations(fake.requests) == []


@pytest.mark.parametrize("code", [1008, 1003, 4001])
async def test_a_non_recoverable_close_storm_reaches_the_user(fake, autojump_clock, code):
    with trio.fail_after(2000):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(storm, fake, f"close {code}")
            async with ub.open_upbit_session(config=settings_for(fake), connector=memory_connector(fake)) as s:
                async with s.connection_events() as events:
                    with pytest.raises(ub.ConnectError, match=f"{REPEAT_LIMIT} failures in a row.*{code}"):
                        async with s.ticker("KRW-BTC") as tickers:
                            await tickers.receive()
                    told_at = trio.current_time()
                    await trio.sleep(600)
                    kinds = drain(events)
            nursery.cancel_scope.cancel()
    assert kinds == [K.CONNECTED] + [K.DISCONNECTED, K.RECONNECTED] * (REPEAT_LIMIT - 1) + [K.DISCONNECTED, K.GAVE_UP]
    assert len(attempts(fake)) == REPEAT_LIMIT  # and none after giving up
    assert told_at < 60  # backoff ceilings 0.5 + 1 + 2 + 4 s between the five attempts
