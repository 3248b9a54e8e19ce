"""R9: leaving the session in any connection state is quick, ends every channel once and leaks nothing."""

from __future__ import annotations

import functools
import gc
import warnings

import pytest
import trio

import upbit_stream as ub
from upbit_stream._transports.via_trio_websocket import trio_websocket_connector
from upbit_stream.testing import FakeUpbit

from session_helpers import memory_connector, settings_for

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]
CLOSE_TIMEOUT = 5.0  # R9's figure


def all_tasks() -> set[trio.lowlevel.Task]:
    """Every task of this trio run."""
    found, nurseries = set(), list(trio.lowlevel.current_root_task().child_nurseries)
    while nurseries:
        for task in nurseries.pop().child_tasks:
            found.add(task)
            nurseries.extend(task.child_nurseries)
    return found


class Consumers:
    """Public and private subscribers living outside the session block, noting how their channels end."""

    def __init__(self) -> None:
        self.ended: dict[str, int] = {}
        self.errors: list[BaseException] = []

    async def consume(self, session: ub.UpbitSession, name: str, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        specs = {"ticker": ub.ticker(["KRW-BTC", "KRW-ETH"]), "trade": ub.trade("KRW-BTC"),
                 "orders": ub.my_order(), "assets": ub.my_asset()}[name]
        self.ended[name] = 0
        try:
            async with session.subscribe(specs) as channel:
                task_status.started()
                async for _ in channel:
                    pass
                self.ended[name] += 1
        except Exception as exc:
            self.errors.append(exc)


async def reach(session: ub.UpbitSession, endpoint: str, state: str, timeout: float = 900) -> None:
    with trio.fail_after(timeout):
        while session.stats().connections[endpoint].state != state:
            await trio.sleep(0.01)


async def leave_in_state(fake: FakeUpbit, state: str, *, connector=None, **sections) -> tuple[float, Consumers]:
    """Open a session, bring it to ``state`` and leave it; return the time leaving took, and the consumers.

    Checks on the way that nothing outlives the session: no task, no server-side connection, no socket.
    """
    consumers = Consumers()
    baseline = all_tasks()
    async with trio.open_nursery() as outside:
        async with ub.open_upbit_session(
            config=settings_for(fake, **sections), access_key=fake.access_key, secret_key=fake.secret_key,
            connector=connector or memory_connector(fake),
        ) as s:
            for name in ("ticker", "trade", "orders", "assets"):
                await outside.start(consumers.consume, s, name)
            await STATES[state](fake, s)
            left_at = trio.current_time()
        took = trio.current_time() - left_at
        with trio.fail_after(CLOSE_TIMEOUT):
            while sum(consumers.ended.values()) + len(consumers.errors) < 4:
                await trio.sleep(0.01)
        took = max(took, trio.current_time() - left_at)
    fake.resume()
    with trio.move_on_after(fake.close_timeout + 1):
        while fake.connections or leaked_tasks(baseline):  # the server notices every closed connection
            await trio.sleep(0.01)
    assert fake.connections == []
    assert leaked_tasks(baseline) == set()  # no task outlives the session, on either side
    gc.collect()  # unclosed sockets or streams would warn now, inside the test
    return took, consumers


def leaked_tasks(baseline: set[trio.lowlevel.Task]) -> set[trio.lowlevel.Task]:
    return {task for task in all_tasks() - baseline if "serve_listeners" not in task.name}  # test servers


def ended_cleanly(consumers: Consumers) -> bool:
    """Every channel ended exactly once, by the session closing it."""
    return consumers.errors == [] and consumers.ended == {"ticker": 1, "trade": 1, "orders": 1, "assets": 1}


# -- how to reach each state ---------------------------------------------------------------------


async def streaming(fake: FakeUpbit, s: ub.UpbitSession) -> None:
    await reach(s, "public", "connected")
    await reach(s, "private", "connected")
    for _ in range(20):
        fake.tick(1, code="KRW-BTC")
        await trio.sleep(0.02)


async def backoff(fake: FakeUpbit, s: ub.UpbitSession) -> None:
    await reach(s, "public", "connected")
    fake.refuse_handshakes(100, 503)
    fake.drop_all()
    await reach(s, "public", "backoff")


async def cooldown(fake: FakeUpbit, s: ub.UpbitSession) -> None:
    await reach(s, "public", "connected")
    fake.refuse_handshakes(2, 429)
    fake.drop_all()
    await reach(s, "public", "cooldown")
    await trio.sleep(10)  # well inside the 60 s cooldown


async def pacing(fake: FakeUpbit, s: ub.UpbitSession) -> None:
    await reach(s, "public", "connected")
    await trio.sleep(1)  # the first request of the minute is out
    async with s.ticker("KRW-XRP"):  # the second request of the minute uses up the limit ...
        await trio.sleep(1)
        async with s.ticker("KRW-SOL"):  # ... so this one waits in the limiter
            await trio.sleep(5)
            assert s.stats().connections["public"].rate_limit_waits > 0


async def stalled(fake: FakeUpbit, s: ub.UpbitSession) -> None:
    await reach(s, "public", "connected")
    await reach(s, "private", "connected")
    fake.stall()
    await trio.sleep(35)  # a ping is out, its pong never comes


async def gave_up(fake: FakeUpbit, s: ub.UpbitSession) -> None:
    await reach(s, "private", "connected")
    fake.refuse_handshakes(1, 404)
    fake.drop_all("public")
    await reach(s, "public", "failed")


STATES = {"streaming": streaming, "backoff": backoff, "cooldown": cooldown, "pacing": pacing,
          "stalled": stalled, "gave_up": gave_up}
SETTINGS = {"pacing": {"limits": {"requests_per_minute": 2}}}


@pytest.mark.parametrize("state", [s for s in STATES if s != "gave_up"])
async def test_leaving_in_each_state(fake, autojump_clock, state):
    took, consumers = await leave_in_state(fake, state, **SETTINGS.get(state, {}))
    assert took <= CLOSE_TIMEOUT and ended_cleanly(consumers)


async def test_leaving_after_the_public_connection_gave_up(fake, autojump_clock):
    took, consumers = await leave_in_state(fake, "gave_up")
    assert took <= CLOSE_TIMEOUT
    assert consumers.ended == {"ticker": 0, "trade": 0, "orders": 1, "assets": 1}  # private: ended by leaving
    assert [type(e) for e in consumers.errors] == [ub.ConnectError] * 2  # public: the 404, once each


async def silent_server(stream: trio.SocketStream) -> None:
    await trio.sleep_forever()  # accepts TCP, never answers the HTTP upgrade


async def leave_during_a_real_handshake(fake: FakeUpbit) -> float:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, silent_server, 0, host="127.0.0.1"))
        url = f"ws://127.0.0.1:{listeners[0].socket.getsockname()[1]}/websocket/v1"

        async def handshaking(fake: FakeUpbit, s: ub.UpbitSession) -> None:
            await reach(s, "public", "connecting")
            await trio.sleep(0.5)  # inside trio-websocket's handshake, on a real socket

        STATES["handshaking"] = handshaking
        try:
            took, consumers = await leave_in_state(fake, "handshaking", connector=trio_websocket_connector(),
                                                   connection={"public_url": url})
            assert ended_cleanly(consumers)
        finally:
            del STATES["handshaking"]
        nursery.cancel_scope.cancel()
    return took


async def test_leaving_during_a_real_handshake(fake):
    with warnings.catch_warnings():  # the socket trio-websocket leaves open: see the next test
        warnings.simplefilter("ignore", ResourceWarning)
        assert await leave_during_a_real_handshake(fake) <= CLOSE_TIMEOUT


async def test_an_abandoned_handshake_closes_its_socket(fake):
    await leave_during_a_real_handshake(fake)


async def test_leaving_while_streaming_over_real_sockets(fake):
    took, consumers = await leave_in_state(fake, "streaming", connector=trio_websocket_connector())
    assert took <= CLOSE_TIMEOUT and ended_cleanly(consumers)
