"""Issue #11's regressions end to end: admission, in-band failures, containment and honest edges."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
import trio
from event_helpers import sample_wire
from session_helpers import memory_connector, settings_for

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit, open_fake_upbit

REALTIME, SNAPSHOT = ub.StreamType.REALTIME, ub.StreamType.SNAPSHOT
K = ub.ConnectionEventKind


def session(fake: FakeUpbit, connector: ub.Connector | None = None, **sections):
    return ub.open_upbit_session(
        config=settings_for(fake, **sections), access_key=fake.access_key, secret_key=fake.secret_key,
        connector=connector or memory_connector(fake),
    )


async def next_of(channel, kind):
    """The next event of ``channel`` with stream type ``kind``."""
    while True:
        event = await channel.receive()
        if getattr(event, "stream_type", None) is kind:
            return event


# -- admission: a server error never fails a stream that did not cause it ------------------------


async def test_an_unlisted_code_fails_only_its_own_subscriber(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s:
            async with s.ticker("KRW-BTC") as good, s.ticker("KRW-NOPE") as bad:
                await trio.sleep(0.05)
                async with s.trade("KRW-ETH", mode="realtime") as later:  # while the server's answer is pending
                    assert (await good.receive()).stream_type is SNAPSHOT
                    with pytest.raises(ub.ServerError, match="INVALID_PARAM"):
                        await bad.receive()
                    await fake.wait_for_request(lambda r: r.kind == "message" and "KRW-ETH" in str(r.raw)
                                                and r.error is None)
                    assert trio.current_time() < 2  # admitted once the rejected code was narrowed down
                    fake.tick(1, code="KRW-BTC")
                    fake.tick(1, code="KRW-ETH")
                    assert (await next_of(good, REALTIME)).code == "KRW-BTC"
                    assert (await later.receive()).code == "KRW-ETH"
            assert s.health().status == "healthy"


async def test_a_market_delisted_while_subscribed_fails_only_its_subscriber_after_a_reconnect(fake, autojump_clock):
    with trio.fail_after(120):
        async with session(fake) as s:
            async with s.ticker("KRW-BTC") as btc, s.ticker("KRW-ETH") as eth:
                assert (await btc.receive()).code == "KRW-BTC"
                assert (await eth.receive()).code == "KRW-ETH"
                fake.delist("KRW-ETH")
                fake.drop_all()
                with pytest.raises(ub.ServerError, match="INVALID_PARAM"):
                    async for _ in eth:
                        pass
                assert (await next_of(btc, SNAPSHOT)).code == "KRW-BTC"  # the fresh snapshot after reconnecting
                fake.tick(1, code="KRW-BTC")
                assert (await next_of(btc, REALTIME)).code == "KRW-BTC"


async def test_unsolicited_and_repeated_error_frames_fail_nobody(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s:
            async with s.ticker("KRW-BTC") as btc:
                await btc.receive()
                for _ in range(3):
                    fake.send_raw(b'{"error":{"name":"INVALID_PARAM","message":"no such market"}}')
                await trio.sleep(1)
                fake.tick(1, code="KRW-BTC")
                assert (await next_of(btc, REALTIME)).code == "KRW-BTC"
                public = s.stats().connections["public"]
                assert public.unmatched_errors == 3 and public.reconnects == 0


# -- in-band failures: nothing cancels the consumer's own code -----------------------------------


async def test_a_strict_overflow_waits_for_the_consumer_and_counts_every_missed_event(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s:
            async with s.trade("KRW-BTC", mode="realtime", buffer=2) as trades:
                await trio.sleep(1)
                fake.tick(10, code="KRW-BTC")
                await trio.sleep(5)  # an order placement in flight: it is never cancelled
                finished_own_work = True
                got = [await trades.receive(), await trades.receive()]
                with pytest.raises(ub.SlowConsumerError) as caught:
                    await trades.receive()
    assert finished_own_work and len(got) == 2
    assert caught.value.missed == 8


async def test_a_failure_never_read_is_raised_from_the_async_with(fake, autojump_clock):
    finished_own_work = False
    with trio.fail_after(60):
        async with session(fake) as s:
            with pytest.raises(ub.ServerError, match="INVALID_PARAM"):
                async with s.ticker("KRW-NOPE"):
                    await trio.sleep(10)
                    finished_own_work = True
            async with s.ticker("KRW-BTC") as btc:  # the session goes on
                assert (await btc.receive()).code == "KRW-BTC"
    assert finished_own_work


async def test_refused_keys_fail_private_subscribers_in_band_and_public_goes_on(autojump_clock):
    async with open_fake_upbit(seed=7, rate=0, idle_timeout=None) as fake:
        settings = settings_for(fake)
        finished_own_work = False
        with trio.fail_after(60):
            async with ub.open_upbit_session(config=settings, access_key=fake.access_key,
                                             secret_key="S" * 40, connector=memory_connector(fake)) as s:
                async with s.ticker("KRW-BTC") as btc:
                    with pytest.raises(ub.AuthenticationError):
                        async with s.my_asset():
                            await trio.sleep(10)
                            finished_own_work = True
                    assert (await btc.receive()).code == "KRW-BTC"
        assert finished_own_work


async def test_the_users_own_exception_keeps_its_cause_and_context(fake, autojump_clock):
    class AppError(Exception):
        pass

    with pytest.raises(AppError) as caught:
        async with session(fake) as s:
            async with s.ticker("KRW-BTC") as btc:
                await btc.receive()
                try:
                    {}["missing"]
                except KeyError as exc:
                    raise AppError("order rejected") from exc
    assert isinstance(caught.value.__cause__, KeyError)
    assert isinstance(caught.value.__context__, KeyError)


# -- containment: whatever a connector or wire raises ends that attempt only ----------------------


class BrokenWire:
    """A wire whose receive breaks the way a custom transport might: with trio's own exception."""

    async def send(self, message: str | bytes) -> None:
        await trio.lowlevel.checkpoint()

    async def receive(self) -> bytes | str:
        await trio.sleep(0.5)
        raise trio.BrokenResourceError("the custom transport broke")

    async def ping(self) -> None:
        await trio.lowlevel.checkpoint()


async def test_a_custom_wire_raising_a_foreign_exception_is_retried_then_given_up(autojump_clock):
    attempts = 0

    @asynccontextmanager
    async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[BrokenWire]:
        nonlocal attempts
        attempts += 1
        yield BrokenWire()

    with trio.fail_after(600):
        async with ub.open_upbit_session(connector=connect) as s, s.connection_events() as events:
            with pytest.raises(ub.ConnectError, match="gave up after 5 failures"):
                async with s.ticker("KRW-BTC") as btc:
                    await btc.receive()
            kinds = []
            async for event in events:
                kinds.append(event.kind)
                if event.kind is K.GAVE_UP:
                    break
            assert s.stats().connections["public"].state == "failed"
    assert attempts == 5


async def test_a_connector_raising_anything_never_ends_the_session(fake, autojump_clock):
    calls = 0
    real = memory_connector(fake)

    @asynccontextmanager
    async def flaky(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[ub.Wire]:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError("a bug in a custom connector")
        async with real(url, headers) as wire:
            yield wire

    with trio.fail_after(120):
        async with session(fake, connector=flaky) as s, s.ticker("KRW-BTC") as btc:
            assert (await btc.receive()).code == "KRW-BTC"
    assert calls == 3


def hostile(cls: type, **fields: object) -> bytes:
    """A KRW-BTC event of ``cls`` as the server sends it, with ``fields`` replaced."""
    return json.dumps({**sample_wire(cls, code="KRW-BTC"), **fields}).encode()


async def test_a_hostile_frame_is_skipped_and_counted(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s, s.ticker("KRW-BTC") as btc:
            await btc.receive()
            fake.send_raw(hostile(ub.Ticker, timestamp=int("9" * 400)))
            fake.send_raw(hostile(ub.Orderbook, level="sNaN"))
            fake.send_raw(hostile(ub.Ticker, trade_price="NaN"))
            fake.send_raw(hostile(ub.Ticker, trade_price=None))  # a field Upbit always sends is null
            fake.tick(1, code="KRW-BTC")
            assert (await next_of(btc, REALTIME)).trade_price.is_finite()
            stats = s.stats().connections["public"]
            assert stats.protocol_errors == 4 and stats.reconnects == 0


# -- honest edges ---------------------------------------------------------------------------------


async def test_after_the_session_closes_its_methods_raise(fake, autojump_clock):
    async with session(fake) as s, s.ticker("KRW-BTC") as btc:
        await btc.receive()
    with pytest.raises(trio.ClosedResourceError):
        async with s.connection_events():
            pass
    with pytest.raises(trio.ClosedResourceError):
        await s.list_subscriptions()
    with pytest.raises(trio.ClosedResourceError):
        async with s.ticker("KRW-BTC"):
            pass


async def test_an_unanswered_list_subscriptions_raises_a_library_error(fake, autojump_clock):
    with trio.fail_after(60):
        async with session(fake) as s, s.ticker("KRW-BTC") as btc:
            await btc.receive()
            fake.stall()
            with pytest.raises(ub.UpbitStreamError, match="no answer to LIST_SUBSCRIPTIONS"):
                await s.list_subscriptions(timeout=0.5)


async def test_message_rate_is_a_sliding_window_that_a_reconnect_does_not_inflate(fake, autojump_clock):
    async def pump() -> None:
        while True:
            await trio.sleep(0.1)
            fake.tick(1, code="KRW-BTC")  # 10 trades (and tickers) a second

    with trio.fail_after(600):
        async with session(fake) as s, trio.open_nursery() as nursery:
            async with s.trade("KRW-BTC", mode="realtime", buffer=4096):
                nursery.start_soon(pump)
                await trio.sleep(30)
                before = s.stats().connections["public"].message_rate
                fake.drop_all()
                await trio.sleep(30)
                after = s.stats().connections["public"]
                assert after.reconnects == 1
                assert 8 <= before <= 12 and 8 <= after.message_rate <= 12
            nursery.cancel_scope.cancel()


async def test_logging_level_applies_unless_the_application_set_it(fake, autojump_clock):
    logger = logging.getLogger("upbit_stream")
    assert logger.level == logging.NOTSET
    async with session(fake, logging={"level": "DEBUG"}):
        assert logger.level == logging.DEBUG
    assert logger.level == logging.NOTSET
    logger.setLevel(logging.ERROR)
    try:
        async with session(fake, logging={"level": "DEBUG"}):
            assert logger.level == logging.ERROR
    finally:
        logger.setLevel(logging.NOTSET)


async def test_a_subscriber_starved_of_its_snapshot_makes_health_degraded(fake, autojump_clock):
    patience = ub.Settings().heartbeat.snapshot_patience
    with trio.fail_after(120):
        async with session(fake) as s, s.ticker("KRW-BTC") as btc:
            await btc.receive()
            async with s.orderbook("KRW-BTC", level=7):  # a grouping the server never sends
                await trio.sleep(1)
                assert s.health().status == "healthy"
                await trio.sleep(patience)
                health = s.health()
                assert health.status == "degraded"
                assert any("no snapshot" in reason and "KRW-BTC" in reason for reason in health.reasons)
            await trio.sleep(1)
            assert s.health().status == "healthy"


async def test_a_clean_exit_closes_each_connection_with_a_close_frame(make_connector):
    async with open_fake_upbit(seed=7, rate=0, idle_timeout=None) as fake:
        with trio.fail_after(30):
            async with session(fake, connector=make_connector()) as s, s.ticker("KRW-BTC") as btc, s.my_asset():
                await btc.receive()
            closes = await fake.wait_for_request(lambda r: r.kind == "close", count=2)
    assert sorted((r.endpoint, r.status) for r in closes) == [("private", 1000), ("public", 1000)]
