"""The trio-asyncio bridge in both of its forms: the loop turned in trio's thread, and on a helper thread."""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio

from upbit_stream._relay.bridge import TURN_ITERATIONS, open_bridge, pollable_selector

MODES = [pytest.param(False, id="driven"), pytest.param(True, id="threaded")]


@pytest.fixture(params=MODES)
def threaded(request: pytest.FixtureRequest) -> bool:
    if not request.param and not pollable_selector():
        pytest.skip("this platform's selector cannot be polled: the loop always runs on a thread here")
    return bool(request.param)


async def test_a_call_returns_its_result_and_raises_its_exception(threaded: bool) -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    async def fail() -> None:
        raise ValueError("from asyncio")

    with trio.fail_after(10):
        async with open_bridge(threaded=threaded) as bridge:
            assert bridge.threaded is threaded
            assert await bridge.call(double, 21) == 42
            with pytest.raises(ValueError, match="from asyncio"):
                await bridge.call(fail)
            assert bridge.crossings == 2


async def test_the_driven_loop_runs_in_trios_thread_and_the_threaded_one_does_not(threaded: bool) -> None:
    async def thread() -> int:
        return threading.get_ident()

    with trio.fail_after(10):
        async with open_bridge(threaded=threaded) as bridge:
            assert (await bridge.call(thread) == threading.get_ident()) is not threaded


async def test_asyncio_timers_fire_when_due_with_nothing_else_happening(threaded: bool) -> None:
    async def nap() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(0.05)
        return loop.time() - start

    with trio.fail_after(10):
        async with open_bridge(threaded=threaded) as bridge:
            start = trio.current_time()
            slept = await bridge.call(nap)
            assert 0.05 <= slept < 1.0
            assert trio.current_time() - start < 1.0


async def test_asyncio_sockets_talk_over_loopback(threaded: bool) -> None:
    async def echo_round_trip() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readexactly(5))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello")
        answer = await reader.readexactly(5)
        writer.close()
        server.close()
        await server.wait_closed()
        return answer

    with trio.fail_after(10):
        async with open_bridge(threaded=threaded) as bridge:
            for _ in range(3):
                assert await bridge.call(echo_round_trip) == b"hello"


async def test_to_trio_runs_in_trio_in_the_order_handed_over(threaded: bool) -> None:
    seen: list[int] = []
    all_in = trio.Event()

    async def hand_over(bridge_to_trio) -> None:  # type: ignore[no-untyped-def]
        for n in range(100):
            bridge_to_trio(seen.append, n)
            if n % 10 == 0:
                await asyncio.sleep(0)
        bridge_to_trio(all_in.set)

    with trio.fail_after(10):
        async with open_bridge(threaded=threaded) as bridge:
            await bridge.call(hand_over, bridge.to_trio)
            await all_in.wait()
    assert seen == list(range(100))


async def test_cancelling_a_call_cancels_its_asyncio_task(threaded: bool) -> None:
    started, cancelled = trio.Event(), []

    async def forever(bridge_to_trio) -> None:  # type: ignore[no-untyped-def]
        bridge_to_trio(started.set)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            bridge_to_trio(cancelled.append, True)
            raise

    with trio.fail_after(10):
        async with open_bridge(threaded=threaded) as bridge:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(bridge.call, forever, bridge.to_trio)
                await started.wait()
                nursery.cancel_scope.cancel()
            while not cancelled:
                await trio.sleep(0.01)
            assert await bridge.call(asyncio.sleep, 0, "still working") == "still working"


async def test_a_busy_asyncio_task_does_not_starve_trio() -> None:
    """The driven loop hands trio its turn every TURN_ITERATIONS iterations, however busy asyncio is."""
    ticks: list[int] = []
    spins = TURN_ITERATIONS * 50

    async def spin() -> int:
        for _ in range(spins):
            await asyncio.sleep(0)
        return len(ticks)

    async def tick() -> None:
        while True:
            ticks.append(1)
            await trio.lowlevel.checkpoint()

    with trio.fail_after(10):
        async with open_bridge(threaded=False) as bridge, trio.open_nursery() as nursery:
            nursery.start_soon(tick)
            seen_during_spin = await bridge.call(spin)
            nursery.cancel_scope.cancel()
    assert seen_during_spin >= 25


async def test_leaving_the_block_ends_the_loops_tasks_even_when_cancelled_from_outside(threaded: bool) -> None:
    """What nats-py leaves running gets its CancelledError (and its ``finally``) at the bridge's close."""
    cleaned: list[str] = []
    tasks: list[asyncio.Task[None]] = []

    async def worker() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append("worker")

    async def leave_running() -> None:
        tasks.append(asyncio.get_running_loop().create_task(worker()))
        await asyncio.sleep(0)

    with trio.fail_after(10):
        with trio.CancelScope() as outer:
            async with open_bridge(threaded=threaded) as bridge:
                await bridge.call(leave_running)
                outer.cancel()
                await trio.sleep_forever()
    assert cleaned == ["worker"]
    assert tasks[0].cancelled()


async def test_a_failure_inside_a_turn_reaches_the_bridges_owner_and_the_loop_is_still_closed_cleanly() -> None:
    """The driver task may die mid-turn; the close then turns the loop itself, without waiting out its bound."""
    cleaned: list[str] = []

    async def worker() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append("worker")

    def boom() -> None:
        raise ValueError("in a hand-over")

    async def leave_running_then_fail(bridge_to_trio) -> None:  # type: ignore[no-untyped-def]
        asyncio.get_running_loop().create_task(worker())
        bridge_to_trio(boom)

    with trio.fail_after(10):
        start = trio.current_time()
        with pytest.raises(ValueError, match="in a hand-over"):
            async with open_bridge(threaded=False) as bridge:
                await bridge.call(leave_running_then_fail, bridge.to_trio)
                await trio.sleep_forever()
        assert trio.current_time() - start < 1.0
    assert cleaned == ["worker"]


def test_where_an_asyncio_loop_already_runs_in_the_thread_the_bridge_takes_a_thread() -> None:
    from upbit_stream._relay.bridge import _asyncio_running_here

    async def inside_asyncio() -> bool:
        return _asyncio_running_here()

    assert asyncio.run(inside_asyncio()) is True
    assert trio.run(trio.to_thread.run_sync, _asyncio_running_here) is False


async def test_to_trio_called_from_trio_itself_runs_without_waiting_for_asyncio(threaded: bool) -> None:
    """A hand-over made outside the loop (the window had room already) still runs soon."""
    done = trio.Event()
    with trio.fail_after(5):
        async with open_bridge(threaded=threaded) as bridge:
            assert await bridge.call(asyncio.sleep, 0) is None  # the loop is idle from here on
            await trio.sleep(0.05)
            bridge.to_trio(done.set)
            with trio.fail_after(1):
                await done.wait()
