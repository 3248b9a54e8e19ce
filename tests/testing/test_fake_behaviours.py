"""Upbit behaviours of the fake and their switches (#15): teapot for message floods, the Origin rule, nonce
reuse, unknown codes, idle close clean or abrupt — over real loopback sockets."""

from __future__ import annotations

import json

import pytest
import trio
import trio_websocket

from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._auth import make_token

from ._helpers import connect, recv, send, sync

TRADE = [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True}]


async def _errors(ws: trio_websocket.WebSocketConnection, n: int) -> list[str | None]:
    """Send ``n`` requests at once; the error name each got (None: accepted)."""
    for _ in range(n):
        await send(ws, TRADE)
    return [frame.get("error", {}).get("name") for frame in await sync(ws)]


async def test_a_message_flood_escalates_to_teapot_on_that_connection_only():
    async with open_fake_upbit(rate=0, teapot_after=3, teapot_seconds=60) as fake:
        with trio.fail_after(10):
            async with connect(fake) as ws, connect(fake) as other:
                names = await _errors(ws, 10)  # 5 pass; refusals 1-2 are 429, the 3rd bans
                assert names == ["Too Many Requests", "Too Many Requests", "I'm a teapot", "I'm a teapot",
                                 "I'm a teapot"]
                await trio.sleep(1.1)
                assert await _errors(ws, 1) == ["I'm a teapot"]  # still banned, a second later
                assert await _errors(other, 1) == []  # another connection is not
        assert (fake.counters.rate_limited_messages, fake.counters.teapot_messages) == (2, 4)


async def test_teapot_for_messages_can_be_switched_off():
    async with open_fake_upbit(rate=0, teapot_after=None) as fake:
        with trio.fail_after(10):
            async with connect(fake) as ws:
                assert set(await _errors(ws, 20)) == {"Too Many Requests"}


@pytest.mark.parametrize("origin_rule", [True, False])
async def test_an_origin_header_allows_one_request_per_10_seconds(origin_rule, autojump_clock):
    async with open_fake_upbit(rate=0, origin_rule=origin_rule) as fake:
        with trio.fail_after(100):
            async with connect(fake, headers=[("Origin", "https://example.com")]) as ws, connect(fake) as plain:
                await send(ws, TRADE)
                await sync(ws)
                await trio.sleep(9)
                second = await _errors(ws, 1)
                assert second == (["Too Many Requests"] if origin_rule else [])
                await trio.sleep(1.5)
                assert await _errors(ws, 1) == []
                assert await _errors(plain, 2) == []  # no Origin header: the usual 5 per second
                assert [c.origin for c in fake.connections] == [True, False]
    assert fake.requests[0].header_names.count("origin") == 1


@pytest.mark.parametrize(("reject", "second_status"), [(True, "INVALID_AUTH"), (False, None)])
async def test_a_reused_nonce_is_refused_unless_switched_off(reject, second_status):
    token = make_token(nonce="the-same-nonce")
    async with open_fake_upbit(rate=0, reject_reused_nonce=reject) as fake:
        with trio.fail_after(10):
            for expected in (None, second_status):
                async with connect(fake, private=True, token=token) as ws:
                    await send(ws, [{"ticket": "t"}, {"type": "myAsset"}])
                    frames = await sync(ws)
                    assert [f.get("error", {}).get("name") for f in frames] == ([expected] if expected else [])


@pytest.mark.parametrize("mode", ["reject", "ignore"])
async def test_unknown_and_lower_case_codes(mode):
    async with open_fake_upbit(rate=0, unknown_codes=mode) as fake:
        with trio.fail_after(10):
            async with connect(fake) as ws:
                await send(ws, [{"ticket": "t"}, {"type": "ticker", "codes": ["KRW-BTC", "krw-eth", "KRW-NOPE"]}])
                frames = await sync(ws)
                if mode == "reject":
                    assert [f["error"]["name"] for f in frames] == ["INVALID_PARAM"]
                else:
                    assert [(f["code"], f["stream_type"]) for f in frames] == [("KRW-BTC", "SNAPSHOT")]
                    fake.tick(code="KRW-BTC")
                    assert (await recv(ws))["code"] == "KRW-BTC"
                    await send(ws, [{"ticket": "u"}, {"method": "LIST_SUBSCRIPTIONS"}])
                    assert (await recv(ws))["result"][0]["codes"] == ["KRW-BTC", "krw-eth", "KRW-NOPE"]


def test_bad_switch_values_are_refused():
    async def main() -> None:
        for kwargs in ({"unknown_codes": "drop"}, {"idle_close": "rude"}):
            with pytest.raises(ValueError, match="must be"):
                async with open_fake_upbit(rate=0, **kwargs):  # type: ignore[arg-type]
                    pass

    trio.run(main)


async def test_idle_close_is_abrupt_by_default_as_a_lost_connection():
    async with open_fake_upbit(rate=0, idle_timeout=0.5) as fake:
        with trio.fail_after(10):
            async with connect(fake) as ws:
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await ws.get_message()
                assert closed.value.reason.code == 1006  # no close frame from the server
        assert fake.counters.idle_closes == 1


async def test_idle_close_clean_sends_1000():
    async with open_fake_upbit(rate=0, idle_timeout=0.5, idle_close="clean") as fake:
        with trio.fail_after(10):
            async with connect(fake) as ws:
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await ws.get_message()
                assert (closed.value.reason.code, closed.value.reason.reason) == (1000, "Idle Timeout")


def test_serve_flags_reach_the_fake(monkeypatch):
    from upbit_stream._cli import main as cli_main
    from upbit_stream._cli.args import build_parser

    seen = {}

    def fake_open(**kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr("upbit_stream.testing.open_fake_upbit", fake_open)
    args = build_parser().parse_args(["serve", "--allow-reused-nonce", "--unknown-codes", "ignore",
                                      "--idle-close", "clean"])
    with pytest.raises(SystemExit):
        cli_main.cmd_serve(args)
    assert (seen["reject_reused_nonce"], seen["unknown_codes"], seen["idle_close"]) == (False, "ignore", "clean")


@pytest.mark.trio
@pytest.mark.parametrize("fmt", ["JSON_LIST", "SIMPLE_LIST"])
async def test_list_formats_carry_every_event_ready_in_one_frame(fmt: str) -> None:
    from upbit_stream import decode

    from ._helpers import connect, recv, send

    async with open_fake_upbit(seed=3, rate=0) as fake, connect(fake) as ws:
        await send(ws, [{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True},
                        {"format": fmt}])
        await fake.wait_for_request(lambda r: r.request is not None)
        made = fake.tick(5, code="KRW-BTC")  # five trades at once: their events are all queued together
        frames = []
        while sum(len(frame) for frame in frames) < 5:
            frames.append(await recv(ws))
        assert len(frames) < 5 and max(len(frame) for frame in frames) > 1, frames  # several per frame
        events = [event for frame in frames for event in decode(json.dumps(frame))]
        assert [e.sequential_id for e in events] == [t.sequential_id for t in made]  # in order, none lost
        fake.tick(1, code="KRW-BTC")
        assert len(await recv(ws)) == 1  # one event ready: one per frame
