"""The trio-asyncio bridge: an asyncio loop owned by ``open_bridge()``, driven from trio's own thread.

nats-py is asyncio-only. Everything that touches it runs on this loop; trio crosses over with
``await bridge.call(fn, *args)`` (one crossing per batch, never per message) and the loop hands
results back with ``bridge.to_trio(fn, *args)`` (no waiting on either side).

Where the platform's selector can itself be polled (epoll, kqueue), the loop runs in trio's
thread: a driver task waits until one of the loop's sockets is ready, its next timer is due or
trio gave it work, then runs the loop until it is idle (``run_forever()`` with a selector that
never blocks and calls ``stop()`` when the loop would wait). Nothing crosses a thread, so a
message costs no wake-up of another thread. Elsewhere the loop runs on a helper thread and
``to_trio`` is ``TrioToken.run_sync_soon``. No global state either way: no event loop policy is
installed, and the loop is made and closed inside the ``async with``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import selectors
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import Any, Final, TypeVar

import trio

from .._trio.groups import single_errors

__all__ = ["Bridge", "open_bridge"]

T = TypeVar("T")
#: Seconds the loop gets at exit to finish what is still running (nats-py closing its socket).
CLOSE_BOUND: Final = 2.0
#: Loop iterations in one turn of the driver at most; then trio's other tasks run before the next turn.
TURN_ITERATIONS: Final = 64


class _IdleSelector(selectors.BaseSelector):
    """The loop's selector: never blocks, and stops the loop once an iteration finds nothing to do.

    The loop asks for a timeout of 0 while it has callbacks ready, and for its next timer's delay
    (``None``: no timer) when it would wait; that is when the driver takes over the waiting.
    """

    def __init__(self) -> None:
        self._inner = selectors.DefaultSelector()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake_at: float | None = None  # time.monotonic() of the loop's next timer; None: none
        self.busy = False  # the last turn ended with callbacks still ready
        self.iterations = 0

    def fileno(self) -> int:
        return self._inner.fileno()

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        self.iterations += 1
        assert self.loop is not None
        if timeout != 0 and not ready:  # idle: the driver waits for the sockets and the next timer
            self.busy = False
            self.wake_at = None if timeout is None else time.monotonic() + timeout
            self.loop.stop()
        elif self.iterations >= TURN_ITERATIONS:  # still busy: let trio run, then come back at once
            self.busy = True
            self.loop.stop()
        return ready


def pollable_selector() -> bool:
    """Whether this platform's default selector has a file descriptor trio can wait on."""
    with selectors.DefaultSelector() as selector:
        fileno = getattr(selector, "fileno", None)  # epoll and kqueue have one; select() (Windows) has none
        return fileno is not None and fileno() >= 0


def _asyncio_running_here() -> bool:
    """Whether an asyncio loop already runs in this thread (trio-asyncio): then ours cannot, so it takes a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Driver:
    """Runs the loop in trio's thread whenever it has something to do; the only code that steps it."""

    def __init__(self) -> None:
        self.selector = _IdleSelector()
        self.loop = asyncio.SelectorEventLoop(self.selector)
        self.selector.loop = self.loop
        self._for_trio: list[tuple[Callable[..., object], tuple[Any, ...]]] = []  # bounded: emptied every turn
        self._kicked = True
        self._turning = False
        self._waiting: trio.CancelScope | None = None
        self._scope = trio.CancelScope(shield=True)  # the bridge's close ends it, not its caller's cancel
        self._stopped = trio.Event()

    def to_trio(self, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        self._for_trio.append((fn, args))
        if not self._turning:  # called from trio itself: the next turn runs it, so have one
            self.kick()

    def kick(self) -> None:
        """Trio gave the loop work (a task, a cancel): turn it soon."""
        self._kicked = True
        if self._waiting is not None:
            self._waiting.cancel()

    def _turn(self) -> None:
        """Run the loop until it is idle (or has run ``TURN_ITERATIONS``), then what it handed to trio."""
        self.selector.iterations = 0
        self._turning = True
        try:
            self.loop.run_forever()
        finally:
            self._turning = False
        calls, self._for_trio = self._for_trio, []
        for fn, args in calls:
            fn(*args)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Turn the loop whenever it has something to do, until ``finish`` (its caller's cancel does not stop it)."""
        try:
            with self._scope:
                task_status.started()
                await self._drive(lambda: False)
        finally:
            self._stopped.set()

    async def _drive(self, done: Callable[[], bool]) -> None:
        fd = self.selector.fileno()
        while True:
            self._kicked = False
            self._turn()
            if done():
                return
            if self._kicked or self.selector.busy:
                await trio.lowlevel.checkpoint()
                continue
            wake_at = self.selector.wake_at
            delay = math.inf if wake_at is None else max(0.0, wake_at - time.monotonic())
            with trio.move_on_after(delay) as waiting:
                self._waiting = waiting
                await trio.lowlevel.wait_readable(fd)
            self._waiting = None

    async def finish(self, last: Coroutine[Any, Any, object]) -> None:
        """Stop the driver task, then turn the loop here until ``last`` has run (the caller bounds the time).

        Here rather than in the task: the task may be gone (an exception, Ctrl-C inside a turn).
        """
        self._scope.cancel()
        await self._stopped.wait()
        task = self.loop.create_task(last)
        await self._drive(task.done)


class Bridge:
    """The loop and the way across: ``call`` (trio → asyncio, awaited) and ``to_trio`` (asyncio → trio)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, token: trio.lowlevel.TrioToken,
                 driver: _Driver | None = None) -> None:
        self.loop = loop
        self._token = token
        self._driver = driver
        self.crossings = 0

    @property
    def threaded(self) -> bool:
        """Whether the loop runs on a helper thread (else in trio's, turned by a driver task)."""
        return self._driver is None

    async def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run ``fn(*args)`` on the loop and return its result here (a cancel point; cancelling cancels it)."""
        done = trio.Event()
        future: concurrent.futures.Future[T] | asyncio.Future[T]
        if self._driver is None:
            future = asyncio.run_coroutine_threadsafe(fn(*args), self.loop)
        else:
            future = self.loop.create_task(fn(*args))
            self._driver.kick()
        self.crossings += 1
        future.add_done_callback(lambda _: self.to_trio(done.set))
        try:
            await done.wait()
        finally:
            if not future.done():
                future.cancel()
                if self._driver is not None:
                    self._driver.kick()
        try:
            return future.result()
        except (concurrent.futures.CancelledError, asyncio.CancelledError):
            raise trio.BrokenResourceError("the NATS side stopped this call") from None

    def to_trio(self, fn: Callable[..., object], *args: Any) -> bool:
        """From the loop: run the synchronous ``fn(*args)`` in trio soon; False if trio has finished."""
        if self._driver is not None:
            self._driver.to_trio(fn, args)
            return True
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


async def _close(bridge: Bridge, driver: _Driver | None) -> None:
    """Cancel what still runs on the loop and wait for it, bounded, whatever cancelled the caller."""
    deadline = trio.current_time() + 2 * CLOSE_BOUND
    with trio.CancelScope(shield=True, deadline=deadline), contextlib.suppress(trio.BrokenResourceError, RuntimeError):
        if driver is None:
            await bridge.call(_finish_tasks)
        else:
            await driver.finish(_finish_tasks())


@contextlib.asynccontextmanager
async def open_bridge(*, threaded: bool | None = None) -> AsyncIterator[Bridge]:
    """A running loop for the block's duration; leaving it stops and closes the loop.

    ``threaded`` (default: only where the selector cannot be polled) puts the loop on a helper thread.
    """
    if threaded is None:
        threaded = not pollable_selector() or _asyncio_running_here()
    token = trio.lowlevel.current_trio_token()
    if not threaded:
        driver = _Driver()
        try:
            with single_errors():
                async with trio.open_nursery() as nursery:
                    await nursery.start(driver.run)
                    bridge = Bridge(driver.loop, token, driver)
                    try:
                        yield bridge
                    finally:
                        await _close(bridge, driver)
        finally:
            driver.loop.close()
        return
    loop = asyncio.new_event_loop()
    try:
        with single_errors():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.to_thread.run_sync, _run, loop)
                bridge = Bridge(loop, token)
                try:
                    yield bridge
                finally:
                    await _close(bridge, None)
                    loop.call_soon_threadsafe(loop.stop)
    finally:
        if not loop.is_running():
            loop.close()
