"""The trio-asyncio bridge: one asyncio loop on a helper thread, owned by ``open_bridge()``.

nats-py is asyncio-only. Everything that touches it runs on this loop; trio crosses over with
``await bridge.call(fn, *args)`` (one crossing per batch, never per message) and the loop hands
results back with ``bridge.to_trio(fn, *args)`` (``TrioToken.run_sync_soon``: no waiting on
either side). No global state: no event loop policy is installed, the loop is made, run on a
thread from trio's thread cache and closed inside the ``async with``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Final, TypeVar

import trio

__all__ = ["Bridge", "open_bridge"]

T = TypeVar("T")
#: Seconds the loop gets at exit to finish what is still running (nats-py closing its socket).
CLOSE_BOUND: Final = 2.0


class Bridge:
    """The loop and the way across: ``call`` (trio → asyncio, awaited) and ``to_trio`` (asyncio → trio)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, token: trio.lowlevel.TrioToken) -> None:
        self.loop = loop
        self._token = token
        self.crossings = 0

    async def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run ``fn(*args)`` on the loop and return its result here (a cancel point; cancelling cancels it)."""
        done = trio.Event()
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(fn(*args), self.loop)
        self.crossings += 1
        future.add_done_callback(lambda _: self.to_trio(done.set))
        try:
            await done.wait()
        finally:
            if not future.done():
                future.cancel()
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise trio.BrokenResourceError("the NATS side stopped this call") from None

    def to_trio(self, fn: Callable[..., object], *args: Any) -> bool:
        """From the loop's thread: run the synchronous ``fn(*args)`` in trio soon; False if trio has finished."""
        try:
            self._token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            return False
        return True


def _run(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        asyncio.set_event_loop(None)


async def _finish_tasks() -> None:
    """Cancel every other task of the loop and wait (bounded) for them to end."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=CLOSE_BOUND)


@contextlib.asynccontextmanager
async def open_bridge() -> AsyncIterator[Bridge]:
    """A running loop on a helper thread for the block's duration; leaving it stops and closes the loop."""
    loop = asyncio.new_event_loop()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.to_thread.run_sync, _run, loop)
            bridge = Bridge(loop, trio.lowlevel.current_trio_token())
            try:
                yield bridge
            finally:
                with trio.CancelScope(shield=True, deadline=trio.current_time() + 2 * CLOSE_BOUND):
                    with contextlib.suppress(trio.BrokenResourceError, RuntimeError):
                        await bridge.call(_finish_tasks)
                loop.call_soon_threadsafe(loop.stop)
    finally:
        if not loop.is_running():
            loop.close()
