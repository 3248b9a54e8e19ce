"""The websockets wire's fast path for plain data frames: same messages, order, answers and close codes as the protocol.

Plain frames (FIN, no RSV bits, unmasked text/binary within the size limit, valid UTF-8) are cut
from the read buffer by ``FrameSplitter``; everything else goes through websockets'
``ClientProtocol``. These tests script the server's reads byte by byte (``scripted_peer``), so a
frame can be split anywhere, also inside the read that brings the 101 answer.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hostile_wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    close_payload,
    encode_frame,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scripted_peer import exchange

from upbit_stream._transports.frame_split import FrameSplitter

LIMIT = 70_000  # max_message_size of the hypothesis runs: room for a 64-bit length (>= 65,536 bytes)


def binary(payload: bytes) -> bytes:
    return encode_frame(OP_BINARY, payload)


def text(payload: str) -> bytes:
    return encode_frame(OP_TEXT, payload.encode())


def close(code: int, reason: str = "") -> bytes:
    return encode_frame(OP_CLOSE, close_payload(code, reason))


def sent_kinds(outcome_sent: list) -> list[tuple[int, bytes]]:
    return [(frame.opcode, frame.payload) for frame in outcome_sent]


# -- split anywhere -----------------------------------------------------------------------------

MIXED = [binary(b"first"), text("h\u00e9llo \u2713 \U0001f600"), binary(bytes(range(256)) * 2), binary(b""), text(""),
         encode_frame(OP_PING, b"p1"), binary(b"\x00\xff"), text("x" * 125), text("y" * 126)]
MIXED_MESSAGES = [b"first", "h\u00e9llo \u2713 \U0001f600", bytes(range(256)) * 2, b"", "", b"\x00\xff", "x" * 125,
                  "y" * 126]


@pytest.mark.parametrize("with_101", [True, False], ids=["first-part-with-the-101", "101-alone"])
def test_a_stream_of_frames_split_at_every_byte_boundary_gives_the_same_messages(with_101):
    stream = b"".join(MIXED) + close(1000, "bye")
    for cut in range(len(stream) + 1):
        outcome = exchange([stream[:cut], stream[cut:]], with_101=with_101)
        assert outcome.messages == MIXED_MESSAGES, cut
        assert outcome.code == 1000, cut
        assert sent_kinds(outcome.sent) == [(OP_PONG, b"p1"), (OP_CLOSE, close_payload(1000, "bye"))], cut


def test_a_64_bit_length_frame_split_in_its_header_or_payload():
    big = bytes(range(251)) * 300  # 75,300 bytes: the 8-byte length
    stream = binary(b"a") + binary(big) + binary(b"z")
    cuts = [*range(3, 3 + 12), 3 + 10 + 1, 3 + 10 + 65_535, len(stream) - 4, len(stream) - 3]
    for cut in cuts:
        outcome = exchange([stream[:cut], stream[cut:]])
        assert outcome.messages == [b"a", big, b"z"], cut
        assert outcome.code is None  # EOF without a close frame


def test_one_byte_per_read():
    stream = b"".join(MIXED) + close(4001, "done")
    outcome = exchange([stream[i:i + 1] for i in range(len(stream))], batched=True)
    assert outcome.messages == MIXED_MESSAGES and outcome.code == 4001


# -- what the protocol must still see -----------------------------------------------------------


def test_control_frames_between_data_frames_keep_their_place_and_are_answered():
    stream = (binary(b"1") + encode_frame(OP_PING, b"a") + binary(b"2") + encode_frame(OP_PONG, b"unsolicited")
              + text("3") + encode_frame(OP_PING, b"b") + close(1001, "going away") + binary(b"after the close"))
    outcome = exchange([stream], batched=True)
    assert outcome.messages == [b"1", b"2", "3"]
    assert outcome.code == 1001
    assert sent_kinds(outcome.sent) == [(OP_PONG, b"a"), (OP_PONG, b"b"), (OP_CLOSE, close_payload(1001, "going away"))]


def test_a_fragmented_message_with_a_ping_inside_between_plain_frames():
    stream = (binary(b"before") + encode_frame(OP_TEXT, "h\u00e9".encode()[:2], fin=False)
              + encode_frame(OP_PING, b"mid") + encode_frame(OP_CONT, "h\u00e9".encode()[2:] + b"llo", fin=False)
              + encode_frame(OP_CONT, b" world") + binary(b"after") + text("plain again"))
    for cut in range(len(stream) + 1):
        outcome = exchange([stream[:cut], stream[cut:]])
        assert outcome.messages == [b"before", "h\u00e9llo world", b"after", "plain again"], cut
        assert sent_kinds(outcome.sent) == [(OP_PONG, b"mid")], cut


def test_a_plain_looking_frame_inside_a_fragmented_message_is_a_protocol_error():
    stream = encode_frame(OP_BINARY, b"start", fin=False) + binary(b"not a continuation") + binary(b"never")
    for cut in range(len(stream) + 1):
        outcome = exchange([stream[:cut], stream[cut:]])
        assert outcome.messages == [] and outcome.code == 1002, cut
        assert outcome.sent[-1].close_code == 1002, cut


def test_a_continuation_without_a_start_is_a_protocol_error():
    outcome = exchange([binary(b"ok") + encode_frame(OP_CONT, b"stray") + binary(b"never")])
    assert outcome.messages == [b"ok"] and outcome.code == 1002


@pytest.mark.parametrize("rsv", [1, 2, 4, 7])
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_reserved_bits_on_a_data_frame_fail_the_connection_with_1002(rsv, opcode):
    outcome = exchange([binary(b"ok") + encode_frame(opcode, b"x", rsv=rsv) + binary(b"never")])
    assert outcome.messages == [b"ok"] and outcome.code == 1002
    assert outcome.sent[-1].close_code == 1002


@pytest.mark.parametrize("size", [0, 5, 200, 70_000])
def test_a_masked_server_frame_fails_the_connection_with_1002(size):
    stream = binary(b"ok") + encode_frame(OP_BINARY, b"m" * size, mask=b"\x01\x02\x03\x04") + binary(b"never")
    for cut in (0, 3, 5, 8, len(stream) // 2):
        outcome = exchange([stream[:cut], stream[cut:]], max_size=LIMIT)
        assert outcome.messages == [b"ok"] and outcome.code == 1002, cut


def test_reserved_opcodes_fail_the_connection_with_1002():
    outcome = exchange([binary(b"ok") + encode_frame(0x3, b"?") + binary(b"never")])
    assert outcome.messages == [b"ok"] and outcome.code == 1002


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_a_frame_of_exactly_the_limit_passes_and_one_byte_more_is_1009(opcode):
    exact, over = encode_frame(opcode, b"a" * 1000), encode_frame(opcode, b"a" * 1001)
    kind: Callable[[bytes], bytes | str] = (lambda b: b.decode()) if opcode == OP_TEXT else bytes
    outcome = exchange([exact + over + binary(b"never")], max_size=1000)
    assert outcome.messages == [kind(b"a" * 1000)] and outcome.code == 1009
    assert outcome.sent[-1].close_code == 1009


def test_an_oversize_header_alone_is_enough_for_1009():
    header = encode_frame(OP_BINARY, b"a" * 70_000)[:10]  # 64-bit length, payload never sent
    outcome = exchange([binary(b"ok") + header], max_size=1000)
    assert outcome.messages == [b"ok"] and outcome.code == 1009


@pytest.mark.parametrize("bad", [b"\xff", b"\xc3", b"ok \xed\xa0\x80", b"\xf4\x90\x80\x80"],
                         ids=["invalid-byte", "truncated", "surrogate", "beyond-u10ffff"])
def test_invalid_utf8_in_a_plain_text_frame_fails_with_1007_after_what_came_before(bad):
    stream = text("fine") + encode_frame(OP_TEXT, bad) + text("never") + binary(b"never")
    for cut in range(len(stream) + 1):
        outcome = exchange([stream[:cut], stream[cut:]])
        assert outcome.messages == ["fine"] and outcome.code == 1007, cut
        assert outcome.sent[-1].close_code == 1007, cut


def test_a_stream_ending_inside_a_plain_frame_is_lost_without_a_close_frame():
    stream = binary(b"whole") + binary(b"cut short")[:-3]
    outcome = exchange([stream])
    assert outcome.messages == [b"whole"] and outcome.code is None and outcome.sent == []


# -- the splitter's own bounds -------------------------------------------------------------------


def test_the_splitter_holds_at_most_one_frame_and_never_an_oversize_one():
    taken: list[bytes | str] = []
    slow: list[bytes] = []
    splitter = FrameSplitter(max_size=1000)
    frame = binary(b"b" * 1000)
    splitter.split(frame[:500], taken, lambda chunk: slow.append(chunk) or True, True)
    assert len(splitter.pending) == 500 and splitter.need == len(frame)
    splitter.split(frame[500:] + binary(b"c" * 1001)[:20], taken, lambda chunk: slow.append(chunk) or True, True)
    assert taken == [b"b" * 1000] and not splitter.pending and splitter.raw  # 1001 bytes announced: not held
    assert slow == [binary(b"c" * 1001)[:20]]
    splitter.split(b"rest", taken, lambda chunk: slow.append(chunk) or True, True)
    assert slow[-1] == b"rest"  # from then on every byte goes to the protocol


# -- any frames, any reads ----------------------------------------------------------------------

payloads = st.binary(max_size=300) | st.integers(65_536, LIMIT).map(lambda n: b"\x07" * n)
texts = st.text(max_size=120) | st.integers(126, 400).map(lambda n: "\u00e9" * (n // 2))
plain = st.one_of(payloads.map(lambda b: ("binary", b)), texts.map(lambda t: ("text", t)))
ping = st.binary(max_size=125).map(lambda b: ("ping", b))
fragmented = st.tuples(st.sampled_from(["text", "binary"]), st.lists(st.binary(max_size=40), min_size=2, max_size=5),
                       st.booleans()).map(lambda t: ("fragmented", *t))
endings = st.one_of(
    st.sampled_from([1000, 1001, 1011, 3000, 4999]).map(lambda code: ("close", code)),
    st.just(("eof",)),
    st.sampled_from(["rsv", "masked", "oversize", "bad-utf8", "stray-continuation", "data-inside-fragments"])
    .map(lambda kind: ("bad", kind)),
)


def render(items: list[tuple], ending: tuple) -> tuple[bytes, list[bytes | str], list[tuple[int, bytes]], int | None]:
    """The bytes of ``items`` then ``ending``; the messages, the frames a client must send, its close code.

    When the client fails the connection, the frames end with its close frame, whose reason is its own.
    """
    out, messages, answers = bytearray(), [], []
    for item in items:
        if item[0] == "binary":
            out += binary(item[1])
            messages.append(item[1])
        elif item[0] == "text":
            out += text(item[1])
            messages.append(item[1])
        elif item[0] == "ping":
            out += encode_frame(OP_PING, item[1])
            answers.append((OP_PONG, item[1]))
        else:
            _, kind, parts, ping_inside = item
            data = [p.decode("latin-1").encode() if kind == "text" else p for p in parts]  # valid UTF-8 for text
            for index, part in enumerate(data):
                opcode = (OP_TEXT if kind == "text" else OP_BINARY) if index == 0 else OP_CONT
                out += encode_frame(opcode, part, fin=index == len(data) - 1)
                if ping_inside and index == 0:
                    out += encode_frame(OP_PING, b"in")
                    answers.append((OP_PONG, b"in"))
            messages.append(b"".join(data).decode() if kind == "text" else b"".join(data))
    bad = {"rsv": (encode_frame(OP_BINARY, b"r", rsv=4), 1002),
           "masked": (encode_frame(OP_BINARY, b"m", mask=b"abcd"), 1002),
           "oversize": (encode_frame(OP_BINARY, b"o" * (LIMIT + 1)), 1009),
           "bad-utf8": (encode_frame(OP_TEXT, b"\xc3("), 1007),
           "stray-continuation": (encode_frame(OP_CONT, b"c"), 1002),
           "data-inside-fragments": (encode_frame(OP_TEXT, b"open", fin=False) + text("plain-looking"), 1002)}
    if ending[0] == "close":
        out += close(ending[1], "end") + binary(b"after the close")
        return bytes(out), messages, [*answers, (OP_CLOSE, close_payload(ending[1], "end"))], ending[1]
    if ending[0] == "eof":
        return bytes(out), messages, answers, None
    frame, code = bad[ending[1]]
    out += frame + binary(b"never") + encode_frame(OP_PING, b"never")
    return bytes(out), messages, [*answers, (OP_CLOSE, b"")], code


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@example(items=[("fragmented", "text", [b"", b"", b"", b""], False)], ending=("bad", "bad-utf8"), cuts=[0.25],
         with_101=False, batched=False)  # found in CI: a ping behind a bad-UTF-8 frame was answered first
@given(items=st.lists(st.one_of(plain, plain, ping, fragmented), max_size=12), ending=endings,
       cuts=st.lists(st.floats(0, 1), max_size=8), with_101=st.booleans(), batched=st.booleans())
def test_any_frames_cut_into_any_reads_give_what_the_protocol_alone_would(items, ending, cuts, with_101, batched):
    stream, messages, answers, code = render(items, ending)
    points = sorted({int(len(stream) * cut) for cut in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    outcome = exchange(chunks, with_101=with_101, max_size=LIMIT, batched=batched)
    assert outcome.messages == messages
    assert outcome.code == code
    sent = sent_kinds(outcome.sent)
    if ending[0] == "bad":  # failed by us: the reason of our close frame is ours to word
        assert sent[:-1] == answers[:-1] and outcome.sent[-1].close_code == code
    else:
        assert sent == answers
