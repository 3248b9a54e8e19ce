"""The relay's publish window on a real nats-server: a publish refused for good is dropped and marked as a gap, a
deleted stream is made again, and every task waiting for room goes on."""

from __future__ import annotations

import pytest
import trio
from relay_helpers import nats_server, needs_nats, relay_on, wait_until

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit

pytestmark = needs_nats


async def _on_streams(server, work):
    """Run ``work(js)`` on a plain nats-py connection of the operator's (in a bridge of its own)."""
    import nats

    from upbit_stream._relay.bridge import open_bridge

    async def operate():
        nc = await nats.connect(server.url, allow_reconnect=False)
        try:
            return await work(nc.jetstream())
        finally:
            await nc.close()

    async with open_bridge() as bridge:
        return await bridge.call(operate)


def _max_msg_size(stream, size):
    async def work(js):
        config = (await js.stream_info(stream)).config
        config.max_msg_size = size
        await js.update_stream(config)

    return work


async def test_events_jetstream_refuses_are_dropped_and_marked_as_a_gap_while_other_streams_flow(tmp_path):
    specs = [ub.trade("KRW-BTC", mode="realtime"), ub.ticker("KRW-BTC", mode="realtime")]
    with trio.fail_after(30):
        async with open_fake_upbit(seed=5, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, specs, window=4) as relay, ub.open_relay_session(server.url) as remote:
                events = relay.names.stream("events")
                async with remote.trade("KRW-BTC", mode="realtime", gaps=True) as trades, \
                        remote.ticker("KRW-BTC", mode="realtime") as tickers:
                    await trio.sleep(0.3)
                    fake.tick(1, code="KRW-BTC")
                    assert isinstance(await trades.receive(), ub.Trade)
                    await tickers.receive()
                    # an operator caps the events stream below a trade's size (a trade about 490 bytes with its headers; a gap marker about 240)
                    await _on_streams(server, _max_msg_size(events, 350))
                    made = fake.tick(8, code="KRW-BTC")
                    # tickers keep flowing through a window of 4 that 8 refused trades would have filled
                    got = [await tickers.receive() for _ in range(8)]
                    assert [t.timestamp for t in got] == sorted(t.timestamp for t in got)
                    await wait_until(lambda: relay.rejected == 8, timeout=10)
                    gap = await trades.receive()
                    assert isinstance(gap, ub.StreamGap) and gap.reason.startswith("rejected by JetStream")
                    assert "message size exceeds maximum allowed" in gap.reason
                    assert gap.since <= gap.until
                    await _on_streams(server, _max_msg_size(events, -1))
                    after = fake.tick(1, code="KRW-BTC")
                    following = await trades.receive()
                    assert isinstance(following, ub.Trade)
                    assert following.sequential_id == after[0].sequential_id  # none of the refused came late
                    await wait_until(lambda: relay.unacknowledged == 0)
    assert len(made) == 8 and relay.rejected == 8


def _delete(name):
    async def work(js):
        await js.delete_stream(name)
    return work


def _stored(name):
    async def work(js):
        return (await js.stream_info(name)).state.messages
    return work


@pytest.mark.parametrize("resume", [None, "keeper"])
async def test_a_stream_deleted_under_a_running_relay_is_made_again_and_its_reader_goes_on_after_a_gap(
        tmp_path, monkeypatch, resume):
    from upbit_stream._relay import consumer

    monkeypatch.setattr(consumer, "ALIVE_CHECK_AFTER", 0.3)
    spec = ub.trade("KRW-BTC", mode="realtime")
    with trio.fail_after(30):
        async with open_fake_upbit(seed=6, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [spec]) as relay, ub.open_relay_session(server.url) as remote:
                events = relay.names.stream("events")
                async with remote.subscribe(spec, gaps=True, resume=resume) as trades:
                    await trio.sleep(0.3)
                    before = fake.tick(2, code="KRW-BTC")
                    assert [(await trades.receive()).sequential_id for _ in before] == [t.sequential_id for t in before]
                    await _on_streams(server, _delete(events))  # its consumers go with it, without a word
                    after = fake.tick(3, code="KRW-BTC")
                    await wait_until(lambda: relay.acked >= 5 and relay.unacknowledged == 0, timeout=15)
                    assert relay.rejected == 0 and relay.resent >= 3
                    assert await _on_streams(server, _stored(events)) == 3  # the three after the deletion
                    gap = await trades.receive()
                    assert isinstance(gap, ub.StreamGap) and gap.reason == "relay consumer lost", gap
                    assert [(await trades.receive()).sequential_id for _ in after] == [t.sequential_id for t in after]
                if resume is not None:  # the position moved to the new stream: a restart repeats nothing
                    later = fake.tick(1, code="KRW-BTC")
                    async with remote.subscribe(spec, resume=resume) as again:
                        assert (await again.receive()).sequential_id == later[0].sequential_id


async def test_every_pump_waiting_on_a_full_window_goes_on_when_it_empties(tmp_path):
    specs = [ub.trade("KRW-BTC", mode="realtime"), ub.ticker("KRW-BTC", mode="realtime")]
    with trio.fail_after(30):
        async with open_fake_upbit(seed=7, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, specs, window=4) as relay, ub.open_relay_session(server.url) as remote:
                async with remote.trade("KRW-BTC", mode="realtime") as trades, \
                        remote.ticker("KRW-BTC", mode="realtime") as tickers:
                    await trio.sleep(0.3)
                    made = fake.tick(40, code="KRW-BTC")
                    got = [await trades.receive() for _ in made]
                    await tickers.receive()
                    await wait_until(lambda: relay.published == relay.acked and relay.unacknowledged == 0)
    assert [t.sequential_id for t in got] == [t.sequential_id for t in made]


async def test_a_control_stream_deleted_under_a_running_relay_is_made_again_by_its_heartbeats(tmp_path):
    with trio.fail_after(30):
        async with open_fake_upbit(seed=8, rate=0) as fake, nats_server(tmp_path) as server:
            async with relay_on(fake, server, [ub.trade("KRW-BTC", mode="realtime")]) as relay:
                control = relay.names.stream("control")
                await trio.sleep(0.5)
                await _on_streams(server, _delete(control))
                while True:  # heartbeats every 0.2 s here: the next ones find it gone, make it, beat again
                    await trio.sleep(0.2)
                    try:
                        if await _on_streams(server, _stored(control)) >= 2:  # a heartbeat and the catalog
                            break
                    except Exception:  # noqa: BLE001 - not there yet
                        continue
                async with ub.open_relay_session(server.url) as remote, remote.trade("KRW-BTC") as trades:
                    made = fake.tick(1, code="KRW-BTC")
                    assert (await trades.receive()).sequential_id == made[0].sequential_id
