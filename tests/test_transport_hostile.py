"""Both connectors against the hostile server (tests/hostile.py) on 127.0.0.1: each bug measured from outside.

Half-open peers, close frames without a TCP close, dropped handshakes, close codes (1014 too),
fragment floods, oversize messages, connections lost without a close frame, pings on dying
connections, ``receive_ready``, and hostile bytes that must only ever raise ``Disconnected`` or
``ConnectError``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import pytest
import trio
from hostile import Peer, open_hostile_server, unused_port
from hostile_wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    encode_frame,
    switching_protocols,
)

import upbit_stream as ub
from upbit_stream._transports.seam import CLOSE_TIMEOUT, MAX_FRAGMENTS, Disconnected

QUICK = 0.5  # "at once": well under any timeout involved


def script(*steps: Callable[[Peer], Awaitable[object]]) -> Callable[[Peer], Awaitable[None]]:
    """A server script running ``steps`` in order."""

    async def run(peer: Peer) -> None:
        for step in steps:
            await step(peer)

    return run


def accept_then(*steps: Callable[[Peer], Awaitable[object]]) -> Callable[[Peer], Awaitable[None]]:
    return script(Peer.accept, *steps)


async def until_closed(wire: ub.Wire) -> tuple[list[bytes | str], Disconnected]:
    """Every message until the wire raises ``Disconnected`` (anything else fails the test)."""
    messages: list[bytes | str] = []
    while True:
        try:
            messages.append(await wire.receive())
        except Disconnected as exc:
            return messages, exc


# -- half-open peer -------------------------------------------------------------------------------


async def test_leaving_cancelled_closes_the_socket_at_once_without_a_close_frame(make_connector):
    async with open_hostile_server(accept_then(Peer.stall)) as server:
        with trio.fail_after(10):
            with trio.CancelScope() as scope:
                async with make_connector()(server.url, []) as wire:
                    peer = await server.next_peer()
                    with trio.move_on_after(0.2):
                        await wire.receive()  # nothing comes: the peer is half-open
                    scope.cancel()
                    left = trio.current_time()
                    await trio.sleep(5)
            assert trio.current_time() - left < QUICK
            await peer.drain(2)
    assert peer.close_frame is None and peer.ended in ("eof", "reset")


async def test_leaving_normally_sends_1000_and_waits_at_most_the_close_timeout(make_connector):
    async with open_hostile_server(accept_then(Peer.stall)) as server:
        with trio.fail_after(10):
            async with make_connector()(server.url, []):
                peer = await server.next_peer()
                left = trio.current_time()
            waited = trio.current_time() - left
            await peer.drain(2)
    assert CLOSE_TIMEOUT - 0.1 <= waited < CLOSE_TIMEOUT + QUICK
    assert peer.close_code == 1000 and peer.ended in ("eof", "reset")


async def test_leaving_normally_with_a_polite_peer_is_quick(make_connector):
    async with open_hostile_server() as server:  # echo: answers the close frame, then hangs up
        with trio.fail_after(10):
            async with make_connector()(server.url, []) as wire:
                await wire.send(b"hello")
                assert await wire.receive() == b"hello"
                left = trio.current_time()
            assert trio.current_time() - left < QUICK
        assert (await server.next_peer()).close_code == 1000


# -- close frames ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1001, 1011, 1012, 1013, 1014, 3000, 4000, 4999])
async def test_a_close_frame_without_a_tcp_close_is_disconnected_at_once(make_connector, code):
    async with open_hostile_server(accept_then(lambda p: p.send_close(code, "bye"), Peer.stall)) as server:
        with trio.fail_after(10):
            async with make_connector()(server.url, []) as wire:
                started = trio.current_time()
                messages, ended = await until_closed(wire)
                assert trio.current_time() - started < QUICK
                assert messages == [] and ended.code == code and "bye" in str(ended)
                with pytest.raises(Disconnected):
                    await wire.send("PING")
                with pytest.raises(Disconnected):
                    await wire.ping()
                left = trio.current_time()
            assert trio.current_time() - left < QUICK  # the peer's close is answered: nothing to wait for
            peer = await server.next_peer()
            await peer.drain(2)
    assert peer.close_frame is not None  # answered


async def test_messages_before_the_close_frame_come_first(make_connector):
    async def burst(peer: Peer) -> None:
        await peer.send_raw(b"".join(encode_frame(OP_BINARY, b"%d" % i) for i in range(5)) +
                            encode_frame(OP_CLOSE, b"\x03\xe9going"))

    async with open_hostile_server(accept_then(burst, Peer.stall)) as server:
        with trio.fail_after(10):
            async with make_connector()(server.url, []) as wire:
                messages, ended = await until_closed(wire)
    assert messages == [b"0", b"1", b"2", b"3", b"4"] and ended.code == 1001


@pytest.mark.parametrize("how", ["hang up", "reset"])
async def test_a_connection_lost_without_a_close_frame_has_no_code(make_connector, how):
    end = Peer.hang_up if how == "hang up" else Peer.reset
    async with open_hostile_server(accept_then(lambda p: p.send_binary(b"last"), end)) as server:
        with trio.fail_after(10):
            async with make_connector()(server.url, []) as wire:
                messages, ended = await until_closed(wire)
    assert ended.code is None and "without a close frame" in str(ended)
    assert messages in ([b"last"], [])  # a reset may overtake the last message


# -- handshake ------------------------------------------------------------------------------------


HANDSHAKE_DROPS = {
    "closed before reading": script(Peer.hang_up),
    "reset before reading": script(Peer.reset),
    "closed after the request": script(Peer.read_request, Peer.hang_up),
    "reset after the request": script(Peer.read_request, Peer.reset),
    "half a status line": script(Peer.read_request, lambda p: p.send_raw(b"HTTP/1.1 10"), Peer.hang_up),
    "head without its end": script(Peer.read_request, lambda p: p.send_raw(b"HTTP/1.1 101 OK\r\nUpgrade: we"),
                                   Peer.hang_up),
    "not HTTP": script(Peer.read_request, lambda p: p.send_raw(b"SSH-2.0-OpenSSH_9.2\r\n"), Peer.stall),
    "bad accept key": script(Peer.read_request, lambda p: p.send_raw(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n"), Peer.stall),
}


@pytest.mark.parametrize("drop", list(HANDSHAKE_DROPS))
async def test_a_dropped_handshake_is_a_connect_error_at_once(make_connector, drop):
    async with open_hostile_server(HANDSHAKE_DROPS[drop]) as server:
        started = trio.current_time()
        with trio.fail_after(10), pytest.raises(ub.ConnectError) as info:
            async with make_connector(connect_timeout=5)(server.url, []):
                pass
    assert trio.current_time() - started < QUICK
    assert "no handshake within" not in str(info.value) and info.value.status is None


@pytest.mark.parametrize("status", [301, 302, 307, 400, 401, 403, 404, 418, 429, 500, 503])
@pytest.mark.parametrize("body", ["sized", "never ends"])
async def test_a_non_101_answer_is_refused_with_its_status_at_once(make_connector, status, body):
    async def answer(peer: Peer) -> None:
        headers = (("Location", "ws://127.0.0.1:1/elsewhere"),) if 300 <= status < 400 else ()
        if body == "sized":
            await peer.respond(status, headers, b"no")
        else:  # no Content-Length, connection kept open: the body ends only when the server hangs up
            await peer.respond(status, headers, b"partial body", content_length=False)
            await peer.stall()

    async with open_hostile_server(answer) as server:
        started = trio.current_time()
        with trio.fail_after(10), pytest.raises(ub.ConnectError) as info:
            async with make_connector(connect_timeout=5)(server.url, []):
                pass
        assert trio.current_time() - started < QUICK
        assert len(server.peers) == 1  # a redirect is not followed
    expected = ub.RateLimitedError if status in (418, 429) else ub.ConnectError
    assert type(info.value) is expected and info.value.status == status


async def test_a_refused_tcp_connection_is_a_connect_error(make_connector):
    with trio.fail_after(5), pytest.raises(ub.ConnectError, match="cannot connect"):
        async with make_connector()(f"ws://127.0.0.1:{unused_port()}/websocket/v1", []):
            pass


# -- limits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [OP_BINARY, OP_TEXT])
async def test_a_message_in_max_fragments_arrives_and_one_more_closes_with_1009(make_connector, opcode):
    async def floods(peer: Peer) -> None:
        await peer.accept()
        await peer.send_fragments(MAX_FRAGMENTS, b"a", opcode)
        await peer.send_fragments(MAX_FRAGMENTS + 1, b"b", opcode)
        await peer.send_binary(b"never delivered")
        await peer.until_close()

    async with open_hostile_server(floods) as server:
        with trio.fail_after(20):
            async with make_connector()(server.url, []) as wire:
                messages, ended = await until_closed(wire)
            peer = await server.next_peer()
    assert messages == [("a" if opcode == OP_TEXT else b"a") * MAX_FRAGMENTS]
    assert ended.code == 1009 and "fragments" in str(ended)
    assert peer.close_code == 1009


@pytest.mark.parametrize("shape", ["one frame", "fragments"])
async def test_a_message_over_max_message_size_closes_with_1009(make_connector, shape):
    async def send(peer: Peer) -> None:
        await peer.accept()
        await peer.send_binary(b"x" * 1000)
        if shape == "one frame":
            await peer.send_binary(b"y" * 1001)
        else:
            await peer.send_raw(encode_frame(OP_BINARY, b"y" * 500, fin=False) + encode_frame(OP_CONT, b"y" * 501))
        await peer.until_close()

    async with open_hostile_server(send) as server:
        with trio.fail_after(10):
            async with make_connector(max_message_size=1000)(server.url, []) as wire:
                messages, ended = await until_closed(wire)
            peer = await server.next_peer()
    assert messages == [b"x" * 1000] and ended.code == 1009 and peer.close_code == 1009


# -- ping -----------------------------------------------------------------------------------------


async def _until_ping(peer: Peer) -> None:
    while (frame := await peer.receive_frame()) is not None and frame.opcode != OP_PING:
        pass


@pytest.mark.parametrize("ending", ["close frame", "hang up", "reset"])
async def test_a_ping_on_a_connection_that_ends_raises_instead_of_hanging(make_connector, ending):
    end = {"close frame": lambda p: p.send_close(1001, "restart"), "hang up": Peer.hang_up, "reset": Peer.reset}
    async with open_hostile_server(accept_then(_until_ping, end[ending], Peer.stall)) as server:
        with trio.fail_after(10):
            async with make_connector()(server.url, []) as wire:
                started = trio.current_time()
                with pytest.raises(Disconnected) as info:
                    await wire.ping()
                assert trio.current_time() - started < QUICK
    assert info.value.code == (1001 if ending == "close frame" else None)


async def test_a_ping_returns_on_its_pong(make_connector):
    async with open_hostile_server() as server:
        with trio.fail_after(10):
            async with make_connector()(server.url, []) as wire:
                for _ in range(3):
                    await wire.ping()


@pytest.mark.parametrize("when", ["with the 101", "later"])
async def test_the_peers_ping_is_answered_at_once(make_connector, when):
    pongs: list[float] = []

    async def ping(peer: Peer) -> None:
        request = await peer.read_request()
        answer = switching_protocols(request.headers["sec-websocket-key"])
        if when == "later":
            await peer.send_raw(answer)
            await trio.sleep(0.2)
            answer = b""
        sent = trio.current_time()
        await peer.send_raw(answer + encode_frame(OP_PING, b"are you there"))
        while (frame := await peer.receive_frame()) is not None:
            if frame.opcode == OP_PONG and frame.payload == b"are you there":
                pongs.append(trio.current_time() - sent)
                break
        await peer.until_close()

    async with open_hostile_server(ping) as server:
        with trio.fail_after(10):
            async with make_connector()(server.url, []) as wire:
                with trio.move_on_after(1):
                    await wire.receive()  # the session's reader is always in receive()
    assert len(pongs) == 1 and pongs[0] < QUICK


# -- receive_ready --------------------------------------------------------------------------------


async def test_receive_ready_takes_what_has_arrived_up_to_its_limit(make_connector):
    async def burst(peer: Peer) -> None:
        await peer.accept()
        await peer.send_raw(b"".join(encode_frame(OP_BINARY, b"%d" % i) for i in range(50)) +
                            encode_frame(OP_TEXT, b"text"))  # in one segment: one read takes it all
        await peer.until_close()

    async with open_hostile_server(burst) as server:
        with trio.fail_after(10):
            async with make_connector()(server.url, []) as wire:
                first = await wire.receive()
                await trio.sleep(0.3)  # everything has arrived (and been pumped, for trio-websocket)
                batch = wire.receive_ready(10)
                rest = wire.receive_ready(100)
                assert wire.receive_ready(100) == []
    assert [first, *batch, *rest] == [b"%d" % i for i in range(50)] + ["text"]
    assert len(batch) == 10


# -- hostile bytes --------------------------------------------------------------------------------


HOSTILE_FRAMES = {
    "reserved opcode": (encode_frame(0x3, b"?"), 1002),
    "reserved bits": (encode_frame(OP_BINARY, b"?", rsv=0x4), 1002),
    "masked by the server": (encode_frame(OP_BINARY, b"?", mask=b"abcd"), 1002),
    "control frame over 125 bytes": (encode_frame(OP_PING, b"p" * 126), 1002),
    "fragmented control frame": (encode_frame(OP_PING, b"p", fin=False), 1002),
    "continuation out of nowhere": (encode_frame(OP_CONT, b"?"), 1002),
    "new message inside a fragmented one": (encode_frame(OP_TEXT, b"a", fin=False) + encode_frame(OP_TEXT, b"b"),
                                            1002),
    "close with one byte": (encode_frame(OP_CLOSE, b"\x03"), 1002),
    "close code 999": (encode_frame(OP_CLOSE, b"\x03\xe7"), 1002),
    "close code 1005": (encode_frame(OP_CLOSE, b"\x03\xed"), 1002),
    "close code 1015": (encode_frame(OP_CLOSE, b"\x03\xf7"), 1002),
    "close code 2999": (encode_frame(OP_CLOSE, b"\x0b\xb7"), 1002),
    "close reason not UTF-8": (encode_frame(OP_CLOSE, b"\x03\xe8\xff"), 1007),
    "text not UTF-8": (encode_frame(OP_TEXT, b"\xff"), 1007),
    "fragmented text not UTF-8": (encode_frame(OP_TEXT, b"ok", fin=False) + encode_frame(OP_CONT, b"\xc3"), 1007),
}


@pytest.mark.parametrize("kind", list(HOSTILE_FRAMES))
async def test_a_protocol_violation_is_disconnected_with_our_close_code(make_connector, kind):
    frame, code = HOSTILE_FRAMES[kind]
    async with open_hostile_server(accept_then(lambda p: p.send_raw(frame), Peer.until_close)) as server:
        with trio.fail_after(10):
            async with make_connector()(server.url, []) as wire:
                _messages, ended = await until_closed(wire)
            peer = await server.next_peer()
    assert ended.code == code, str(ended)
    assert peer.close_code == code


@pytest.mark.parametrize("seed", range(12))
async def test_random_bytes_after_the_handshake_only_ever_end_in_disconnected(make_connector, seed):
    rng = random.Random(seed)
    noise = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 4096)))
    async with open_hostile_server(accept_then(lambda p: p.send_raw(noise), Peer.hang_up)) as server:
        with trio.fail_after(10):
            async with make_connector()(server.url, []) as wire:
                await until_closed(wire)


@pytest.mark.parametrize("seed", range(6))
async def test_random_bytes_for_an_answer_only_ever_end_in_connect_error(make_connector, seed):
    rng = random.Random(seed)
    noise = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 4096)))
    async with open_hostile_server(script(Peer.read_request, lambda p: p.send_raw(noise), Peer.hang_up)) as server:
        with trio.fail_after(10), pytest.raises(ub.ConnectError):
            async with make_connector(connect_timeout=5)(server.url, []):
                pass
