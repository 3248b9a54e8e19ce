"""The relay end to end on loopback: the fake exchange, a real nats-server, relay sessions."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit

from relay_helpers import nats_server, needs_nats, relay_on, wait_until

pytestmark = needs_nats


async def drain(channel, quiet=0.5):
    """Everything ``channel`` delivers until it is quiet for ``quiet`` seconds."""
    items = []
    while True:
        with trio.move_on_after(quiet) as scope:
            items.append(await channel.receive())
        if scope.cancelled_caught:
            return items


async def test_a_relay_session_gets_the_trades_the_fake_made(tmp_path):
    with trio.fail_after(20):
        async with open_fake_upbit(seed=1, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [ub.trade("KRW-BTC", mode="realtime")]) as relay:
                async with ub.open_relay_session(server.url) as remote:
                    async with remote.trade("KRW-BTC", mode="realtime") as trades:
                        await trio.sleep(0.3)
                        made = fake.tick(5, code="KRW-BTC")
                        got = [await trades.receive() for _ in range(5)]
            assert [t.sequential_id for t in got] == [t.sequential_id for t in made]
            assert [t.trade_price for t in got] == [t.trade_price for t in made]


async def test_relay_events_equal_the_direct_sessions_with_exact_decimals(tmp_path):
    specs = [ub.trade(["KRW-BTC", "KRW-ETH"], mode="realtime"), ub.ticker("KRW-BTC", mode="realtime"),
             ub.orderbook("KRW-BTC", mode="realtime"), ub.my_order()]
    with trio.fail_after(20):
        async with open_fake_upbit(seed=2, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, specs):
                async with ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                                 secret_key=fake.secret_key) as direct, \
                        ub.open_relay_session(server.url) as remote:
                    async with direct.subscribe(*specs) as mine, remote.subscribe(*specs) as theirs:
                        await trio.sleep(0.5)
                        fake.tick(10, code="KRW-BTC")
                        fake.tick(5, code="KRW-ETH")
                        fake.place_order("KRW-BTC", "bid", "limit", price="100000000", volume="0.001")
                        want = await drain(mine)
                        got = await drain(theirs)
    key = lambda e: (e.type, getattr(e, "code", ""), getattr(e, "timestamp", 0), repr(e))  # noqa: E731
    assert len(want) == 10 * 3 + 5 + 1
    assert sorted(got, key=key) == sorted(want, key=key)  # across streams the order may interleave differently
    prices = [e.trade_price for e in got if isinstance(e, ub.Trade)]
    assert prices and all(type(p).__name__ == "Decimal" for p in prices)


async def test_snapshot_and_mode_both_come_from_the_relay_without_an_upbit_request(tmp_path):
    with trio.fail_after(20):
        async with open_fake_upbit(seed=3, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [ub.ticker(["KRW-BTC", "KRW-ETH"]), ub.trade("KRW-BTC")]):
                await trio.sleep(0.5)
                fake.tick(3, code="KRW-BTC")
                fake.tick(3, code="KRW-ETH")
                await trio.sleep(0.5)
                before = len(fake.requests)
                async with ub.open_relay_session(server.url) as remote:
                    snap = await remote.snapshot(ub.ticker(["KRW-BTC", "KRW-ETH"]))
                    async with remote.trade("KRW-BTC") as trades:  # mode="both": the last trade first
                        first = await trades.receive()
                assert len(fake.requests) == before
    assert set(snap) == {"KRW-BTC", "KRW-ETH"} and isinstance(snap["KRW-BTC"], ub.Ticker)
    assert isinstance(first, ub.Trade) and first.code == "KRW-BTC"


async def test_what_the_relay_does_not_carry_fails_at_once_listing_what_it_does(tmp_path):
    with trio.fail_after(20):
        async with open_fake_upbit(seed=1, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [ub.trade("KRW-BTC")]):
                async with ub.open_relay_session(server.url) as remote:
                    with pytest.raises(ValueError, match=r"does not carry ticker:KRW-BTC; it carries: trade:KRW-BTC"):
                        async with remote.ticker("KRW-BTC"):
                            pass  # pragma: no cover
                    with pytest.raises(ValueError, match="does not carry trade:KRW-ETH"):
                        await remote.snapshot(ub.trade("KRW-ETH"))


async def test_consumer_restart_with_resume_loses_nothing_and_repeats_nothing(tmp_path):
    with trio.fail_after(30):
        async with open_fake_upbit(seed=4, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [ub.trade("KRW-BTC", mode="realtime")]):
                seen: list[int] = []
                async with ub.open_relay_session(server.url) as remote:
                    async with remote.subscribe(ub.trade("KRW-BTC", mode="realtime"), resume="bot") as trades:
                        await trio.sleep(0.3)
                        made = fake.tick(20, code="KRW-BTC")
                        for _ in range(8):
                            seen.append((await trades.receive()).sequential_id)
                made += fake.tick(10, code="KRW-BTC")  # while the consumer is away
                await trio.sleep(0.3)
                async with ub.open_relay_session(server.url) as remote:
                    async with remote.subscribe(ub.trade("KRW-BTC", mode="realtime"), resume="bot") as trades:
                        while len(seen) < len(made):
                            seen.append((await trades.receive()).sequential_id)
                        with trio.move_on_after(0.3):
                            seen.append((await trades.receive()).sequential_id)
    assert seen == [t.sequential_id for t in made]


async def test_relay_restart_is_a_gap_with_one_relay_and_nothing_with_two(tmp_path):
    spec = ub.trade("KRW-BTC", mode="realtime")
    with trio.fail_after(30):
        async with open_fake_upbit(seed=5, rate=0) as fake, nats_server(tmp_path) as server:
            async with ub.open_relay_session(server.url) as remote:
                async with relay_on(fake, server, [spec]):
                    async with remote.subscribe(spec, gaps=True) as trades:
                        await trio.sleep(0.3)
                        fake.tick(2, code="KRW-BTC")
                        assert isinstance(await trades.receive(), ub.Trade)
                        assert isinstance(await trades.receive(), ub.Trade)
                await trio.sleep(1.0)  # the relay is gone for a while: its heartbeats stop
                async with remote.subscribe(spec, gaps=True) as trades:
                    async with relay_on(fake, server, [spec]) as again:
                        gap = await trades.receive()
                        assert isinstance(gap, ub.StreamGap) and gap.reason == "relay restart"
                        assert again.started_gap is not None
                        # a hot standby: with a second relay alive, a restart is no gap and nothing doubles
                        async with relay_on(fake, server, [spec]) as standby:
                            await trio.sleep(0.5)
                            assert standby.started_gap is None
                            made = fake.tick(5, code="KRW-BTC")
                            got = [await trades.receive() for _ in range(5)]
                            with trio.move_on_after(0.5):
                                extra = await trades.receive()
                                raise AssertionError(f"duplicate {extra!r}")
                        assert [t.sequential_id for t in got] == [t.sequential_id for t in made]
                        assert standby.duplicates + again.duplicates >= 5


async def test_broker_sigkill_and_restart_on_the_same_store_loses_no_acknowledged_event(tmp_path):
    spec = ub.trade("KRW-BTC", mode="realtime")
    with trio.fail_after(40):
        async with open_fake_upbit(seed=6, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [spec]) as relay:
                await trio.sleep(0.3)
                made = fake.tick(50, code="KRW-BTC")
                await trio.sleep(0.01)
                server.kill()  # mid-stream: some publishes are unacknowledged
                made += fake.tick(30, code="KRW-BTC")  # while the broker is down
                await server.restart()
                await wait_until(lambda: relay.refresh() or (relay.acked >= len(made) and not relay.unacknowledged),
                                 timeout=20)
            async with ub.open_relay_session(server.url) as remote:
                stored = await stored_trades(remote)
    assert sorted(stored) == sorted(t.sequential_id for t in made)  # every event once: re-sends de-duplicated


async def stored_trades(remote):
    """Every trade in the events stream, oldest first, through a consumer that starts at the beginning."""
    from nats.js import api

    from upbit_stream._relay import nats_side

    async def read(js):
        sub = await js.pull_subscribe("upbit.kr.trade.>", stream="UPBIT_KR_EVENTS",
                                      config=api.ConsumerConfig(deliver_policy=api.DeliverPolicy.ALL,
                                                                ack_policy=api.AckPolicy.NONE))
        out = []
        while True:
            try:
                msgs = await sub.fetch(500, timeout=0.5)
            except Exception:  # nats.errors.TimeoutError: nothing more
                return out
            out += [ub.decode(m.data)[0].sequential_id for m in msgs]

    del nats_side
    return await remote._bridge.call(read, remote._js)


@pytest.mark.parametrize("unread", ["published while away", "delivered but never read"])
async def test_a_consumer_behind_retention_gets_a_stream_gap(tmp_path, unread):
    """Events deleted by retention before the reader read them are a gap when it comes back.

    "delivered but never read": JetStream moves a durable's ack floor up to what it delivered once
    the unacknowledged rest is deleted, so the floor alone would hide them; the position the
    reader writes into the durable's metadata does not move.
    """
    spec = ub.trade("KRW-BTC", mode="realtime")
    held = unread == "delivered but never read"
    with trio.fail_after(30):
        async with open_fake_upbit(seed=7, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [spec], max_age=1.0):
                async with ub.open_relay_session(server.url) as remote:
                    async with remote.subscribe(spec, resume="slow", gaps=True) as trades:
                        await trio.sleep(0.3)
                        fake.tick(3, code="KRW-BTC")
                        await trades.receive()
                        if held:
                            fake.tick(5, code="KRW-BTC")  # delivered to this process, never read
                            await wait_until(lambda: trades.queued >= 7)
                        else:
                            await trio.sleep(0.2)
                    if not held:
                        fake.tick(5, code="KRW-BTC")  # published while away
                    await trio.sleep(2.5)  # every one of them deleted after 1 s
                    fake.tick(1, code="KRW-BTC")
                    if held:
                        assert await wait_for_floor_at_delivered(remote, "UPBIT_KR_EVENTS", "slow-events"), \
                            "JetStream did not move the ack floor: the case this test is for did not happen"
                    else:
                        await trio.sleep(0.2)
                    async with remote.subscribe(spec, resume="slow", gaps=True) as trades:
                        gap = await trades.receive()
    assert isinstance(gap, ub.StreamGap) and gap.reason == "behind retention"


async def wait_for_floor_at_delivered(remote, stream, durable, timeout=10.0):
    """Whether the durable's ack floor reached the last sequence it delivered (its pending ones deleted)."""
    from upbit_stream._relay import nats_side

    with trio.move_on_after(timeout):
        while True:
            info = await remote._bridge.call(nats_side.consumer_info, remote._js, stream, durable)
            if info.ack_floor.stream_seq == info.delivered.stream_seq >= 8:
                return True
            await trio.sleep(0.1)
    return False


@pytest.mark.parametrize("overflow", ["strict", "latest"])
async def test_overflow_policies_behave_as_in_a_direct_session(tmp_path, overflow):
    spec = ub.trade("KRW-BTC", mode="realtime")
    with trio.fail_after(20):
        async with open_fake_upbit(seed=8, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [spec]):
                async with ub.open_relay_session(server.url) as remote:
                    if overflow == "strict":
                        with pytest.raises(ub.SlowConsumerError):
                            async with remote.subscribe(spec, buffer=4, overflow="strict") as trades:
                                await trio.sleep(0.3)
                                fake.tick(20, code="KRW-BTC")
                                await trio.sleep(0.5)
                                while True:
                                    await trades.receive()
                    else:
                        async with remote.subscribe(spec, buffer=4, overflow="latest") as trades:
                            await trio.sleep(0.3)
                            made = fake.tick(20, code="KRW-BTC")
                            await trio.sleep(0.5)
                            got = await drain(trades, 0.2)
                            # four in line, then the newest one held in place of the rest (the channel's "latest")
                            assert len(got) == 5 and got[-1].sequential_id == made[-1].sequential_id
                            assert remote.stats().subscriptions[0].conflated == 15


#: Who may read what: the relay writes everything, alice reads her account, guest reads market data only;
#: each reader receives only under its own inbox prefix (_INBOX.<user>, open_relay_session's default).
AUTH = """
authorization {
  users = [
    {user: relay, password: relay-secret}
    {user: alice, password: alice-secret, permissions: {publish: {allow: ["$JS.API.>", "$JS.ACK.>"]},
                                                         subscribe: {allow: ["_INBOX.alice.>"]}}}
    {user: guest, password: guest-secret, permissions: {
      publish: {allow: ["$JS.API.>", "$JS.ACK.>"],
                deny: ["$JS.API.*.*.UPBIT_KR_ACCOUNT_MAIN", "$JS.API.*.*.UPBIT_KR_ACCOUNT_MAIN.>",
                       "$JS.API.*.*.*.UPBIT_KR_ACCOUNT_MAIN", "$JS.API.*.*.*.UPBIT_KR_ACCOUNT_MAIN.>",
                       "$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>"]}
      subscribe: {allow: ["_INBOX.guest.>"]}}}
  ]
}
"""


async def eavesdrop(url, subject, seconds):
    """Connect as guest with plain nats-py, subscribe to ``subject`` for ``seconds``: (messages, errors)."""
    import asyncio

    import nats

    from upbit_stream._relay.bridge import open_bridge

    async def listen():
        errors, messages = [], []

        async def on_error(exc):
            errors.append(str(exc))

        async def on_message(msg):
            messages.append(msg.subject)

        nc = await nats.connect(url, user="guest", password="guest-secret", inbox_prefix="_INBOX.guest",
                                error_cb=on_error, allow_reconnect=False)
        try:
            await nc.subscribe(subject, cb=on_message)
            await nc.flush()
            await asyncio.sleep(seconds)
        finally:
            await nc.close()
        return messages, errors

    async with open_bridge() as bridge:
        return await bridge.call(listen)


async def test_account_subjects_are_readable_only_with_that_accounts_credentials(tmp_path):
    config = tmp_path / "auth.conf"
    config.write_text(AUTH)
    specs = [ub.my_order(), ub.trade("KRW-BTC", mode="realtime")]
    with trio.fail_after(30):
        async with open_fake_upbit(seed=9, rate=0) as fake, nats_server(tmp_path, config=config) as server:
            async with relay_on(fake, server, specs, user="relay", password="relay-secret"):
                async with ub.open_relay_session(server.url, user="alice", password="alice-secret") as alice:
                    async with alice.my_order() as orders, trio.open_nursery() as nursery:
                        await trio.sleep(0.3)
                        # guest listens on alice's inbox prefix while her order is delivered there
                        overheard: list = []

                        async def overhear():
                            overheard.extend(await eavesdrop(server.url, "_INBOX.alice.>", 1.0))

                        nursery.start_soon(overhear)
                        await trio.sleep(0.3)
                        uuid = fake.place_order("KRW-BTC", "bid", "limit", price="100000000", volume="0.001")
                        assert (await orders.receive()).uuid == uuid
                    messages, errors = overheard
                    assert messages == [] and any("permissions violation" in e.lower() and "_inbox.alice" in e.lower() for e in errors), errors
                    with pytest.raises(ValueError, match="inbox_prefix"):
                        async with ub.open_relay_session(server.url, inbox_prefix="_INBOX.*"):
                            pass  # pragma: no cover
                async with ub.open_relay_session(server.url, user="guest", password="guest-secret") as guest:
                    async with guest.trade("KRW-BTC", mode="realtime") as trades:  # market data: allowed
                        await trio.sleep(0.3)
                        fake.tick(1, code="KRW-BTC")
                        assert isinstance(await trades.receive(), ub.Trade)
                    with pytest.raises(ub.AuthenticationError, match="UPBIT_KR_ACCOUNT_MAIN"):
                        async with guest.my_order():
                            pass  # pragma: no cover
                with pytest.raises(ub.AuthenticationError, match="refused these credentials"):
                    async with ub.open_relay_session(server.url, user="guest", password="wrong"):
                        pass  # pragma: no cover


async def test_an_upbit_reconnect_of_the_relay_reaches_readers_as_a_gap_between_the_events(tmp_path):
    spec = ub.trade("KRW-BTC", mode="realtime")
    with trio.fail_after(30):
        async with open_fake_upbit(seed=6, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [spec]), ub.open_relay_session(server.url) as remote:
                async with remote.subscribe(spec, gaps=True) as trades:
                    await trio.sleep(0.3)
                    before = fake.tick(1, code="KRW-BTC")
                    assert (await trades.receive()).sequential_id == before[0].sequential_id
                    fake.drop_all()  # the relay's own Upbit connection breaks; its session reconnects
                    await wait_until(lambda: len([r for r in fake.requests if r.kind == "handshake"]) == 2)
                    await trio.sleep(0.5)
                    after = fake.tick(1, code="KRW-BTC")
                    gap = await trades.receive()
                    assert isinstance(gap, ub.StreamGap), gap  # told between the last event before and the next
                    assert "connection" in gap.reason and gap.since <= gap.until  # the session's marker, as it is
                    assert (await trades.receive()).sequential_id == after[0].sequential_id


async def test_announcements_and_indicator_values_go_through_the_relay_unchanged(tmp_path):
    notices, values = ub.announcement("trade", include_body=True), ub.indicator("KRW-BTC", "5m", ub.rsi(14))
    with trio.fail_after(30):
        async with open_fake_upbit(seed=7, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [notices, values]), ub.open_relay_session(server.url) as remote:
                async with remote.subscribe(notices, values) as events:
                    await wait_until(lambda: sum(r.request is not None for r in fake.requests
                                                 if r.endpoint in ("private", "info")) == 2)
                    await trio.sleep(0.5)
                    notice = fake.publish_announcement("[거래] 신규 거래지원 안내", "trade", body="본문")
                    value = fake.inject_indicator("KRW-BTC", "5m", ub.rsi(14), ub.RsiValue(rsi=Decimal("58.75323648")))
                    got = [await events.receive(), await events.receive()]
            assert sorted(got, key=lambda e: e.type) == sorted([notice, value], key=lambda e: e.type)


async def test_a_live_reader_sees_a_nats_restart_as_a_gap_and_keeps_streaming(tmp_path):
    """The README's row: a reader's NATS connection drops -> StreamGap("nats reconnect"), then events again.

    A restarted server has forgotten the reader's ephemeral consumer; the reader makes it again
    after the last message it delivered, so what the relay re-sent after the restart comes too.
    Without that the subscription stayed open and silent.
    """
    spec = ub.trade("KRW-BTC", mode="realtime")
    with trio.fail_after(40):
        async with open_fake_upbit(seed=10, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [spec]) as relay, ub.open_relay_session(server.url) as remote:
                async with remote.subscribe(spec, gaps=True) as trades, remote.connection_events() as changes:
                    await trio.sleep(0.3)
                    before = fake.tick(3, code="KRW-BTC")
                    assert [(await trades.receive()).sequential_id for _ in before] == [t.sequential_id for t in before]
                    server.kill()  # the broker goes away under the reader (and the relay)
                    during = fake.tick(2, code="KRW-BTC")  # the relay holds these until it is back
                    await server.restart()  # the same port and store
                    assert (await changes.receive()).kind is ub.ConnectionEventKind.DISCONNECTED
                    assert (await changes.receive()).kind is ub.ConnectionEventKind.RECONNECTED
                    gap = await trades.receive()
                    assert isinstance(gap, ub.StreamGap) and gap.reason == "nats reconnect", gap
                    assert gap.since <= gap.until
                    await wait_until(lambda: relay.refresh() or not relay.unacknowledged, timeout=10)
                    after = fake.tick(5, code="KRW-BTC")
                    got = [(await trades.receive()).sequential_id for _ in during + after]
                    # what was in flight when the broker died may be stored out of order (a re-send after
                    # an acknowledgement timed out); nothing is lost and what came later is in order
                    assert sorted(got) == sorted(t.sequential_id for t in during + after)
                    assert got[len(during):] == [t.sequential_id for t in after]
                    with trio.move_on_after(0.3):
                        extra = await trades.receive()
                        raise AssertionError(f"more than was made: {extra!r}")
                    assert remote.health().status is not ub.HealthStatus.DOWN
