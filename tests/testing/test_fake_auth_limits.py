"""JWT handshake checks and Upbit's rate limits on the fake exchange."""

from __future__ import annotations

import jwt
import pytest
import trio
import trio_websocket

from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._auth import make_token

from ._helpers import connect, recv, send, sync

T = {"ticket": "t"}
MY = [T, {"type": "myOrder"}, {"type": "myAsset"}]


@pytest.mark.parametrize("alg", ["HS256", "HS512"])
async def test_valid_tokens_are_accepted(fake, alg):
    with trio.fail_after(10):
        async with connect(fake, private=True, token=make_token(fake.access_key, fake.secret_key, alg)) as ws:
            await send(ws, MY)
            assert await sync(ws) == []
            fake.deposit("KRW", 1000)
            asset = await recv(ws)
            assert asset["type"] == "myAsset" and asset["stream_type"] == "REALTIME"


def _bad_tokens(fake):
    yield None
    yield "not-a-jwt"
    yield make_token(fake.access_key, "wrong-secret")
    yield make_token("unknown-access", fake.secret_key)
    yield jwt.encode({"access_key": fake.access_key}, fake.secret_key, algorithm="HS512")  # no nonce


async def test_bad_tokens_get_invalid_auth_frames(fake):
    with trio.fail_after(10):
        for token in _bad_tokens(fake):
            async with connect(fake, private=True, token=token, headers=[] if token is None else None) as ws:
                await send(ws, MY)
                assert await recv(ws) == {"error": {"name": "INVALID_AUTH", "message": "인증 정보가 올바르지 않습니다."}}
                await send(ws, [T, {"method": "LIST_SUBSCRIPTIONS"}])
                assert (await recv(ws))["error"]["name"] == "INVALID_AUTH"
            await trio.sleep(0.25)  # stay under the connect limit
    handshakes = [r for r in fake.requests if r.kind == "handshake"]
    assert all(r.status == 101 and r.detail for r in handshakes)


async def test_reused_nonce_is_rejected(fake):
    token = make_token(fake.access_key, fake.secret_key, nonce="same-nonce")
    with trio.fail_after(10):
        async with connect(fake, private=True, token=token) as ws:
            await send(ws, MY)
            assert await sync(ws) == []
        async with connect(fake, private=True, token=token) as ws:
            await send(ws, MY)
            assert (await recv(ws))["error"]["name"] == "INVALID_AUTH"
    assert any(r.detail == "nonce reused" for r in fake.requests)


async def test_auth_failure_http_mode_rejects_handshake():
    async with open_fake_upbit(rate=0, auth_failure="http") as fake:
        with trio.fail_after(10):
            with pytest.raises(trio_websocket.ConnectionRejected) as info:
                async with connect(fake, private=True, token="bad"):
                    pass
            assert info.value.status_code == 401
            async with connect(fake, private=True) as ws:  # a good token still works
                await send(ws, MY)
                assert await sync(ws) == []


async def test_message_rate_limit(autojump_clock):
    async with open_fake_upbit(rate=0) as fake:
        with trio.fail_after(1000):
            async with connect(fake) as ws, connect(fake) as other:
                request = [T, {"type": "ticker", "codes": ["KRW-BTC"], "is_only_realtime": True}]
                for _ in range(6):
                    await send(ws, request)
                assert await recv(ws) == {"error": {"name": "Too Many Requests", "message": "요청 한도 초과"}}
                await send(other, request)  # the other connection has its own budget
                assert await sync(other) == []
                await trio.sleep(1.0)
                for _ in range(5):  # a new second: allowed again
                    await send(ws, request)
                assert await sync(ws) == []
                # 100 per minute: spread requests so the 1 s limit never triggers
                await trio.sleep(1.0)
                for _ in range(90):
                    await trio.sleep(0.25)
                    await send(ws, request)
                assert await sync(ws) == []  # 100 sent in under 60 s
                await trio.sleep(0.25)
                await send(ws, request)
                assert (await recv(ws))["error"]["name"] == "Too Many Requests"
        limited = [r for r in fake.requests if r.error and r.error.name == "Too Many Requests"]
        assert len(limited) == 2 and fake.counters.rate_limited_messages == 2


async def test_connect_limit_429_then_418(autojump_clock):
    async with open_fake_upbit(rate=0, teapot_after=3, teapot_seconds=30) as fake:
        with trio.fail_after(1000):
            statuses = []
            for _ in range(9):
                try:
                    async with connect(fake):
                        statuses.append(101)
                except trio_websocket.ConnectionRejected as exc:
                    statuses.append(exc.status_code)
            assert statuses == [101] * 5 + [429, 429, 418, 418]
            await trio.sleep(31)
            async with connect(fake):
                pass
        assert fake.counters.rate_limited_handshakes == 2 and fake.counters.teapot_handshakes == 2
        assert [r.status for r in fake.requests if r.kind == "handshake"][-5:] == [429, 429, 418, 418, 101]
