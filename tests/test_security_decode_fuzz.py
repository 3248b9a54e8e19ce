"""Decoder fuzzing: mutated valid frames of every type and format only ever raise ProtocolError.

``test_codec.py`` already feeds arbitrary bytes and splices junk into DEFAULT frames; here valid
frames of every type in every format are mutated byte-wise (flip, insert, delete, duplicate,
truncate, invalid UTF-8) and structurally (a value swapped for another JSON type, a huge number,
deep nesting, a key dropped, renamed or added). ``benchmarks/fuzz_decode.py`` runs the same
mutations for minutes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import upbit_stream as ub
from upbit_stream._core.encode import encode_event

from event_helpers import sample_wire
from test_codec import TYPE_NAMES, _documented_frame, events

# Budget: the three property tests together take about 10 s on this machine. The deadline catches
# a decode that runs away (1e999999999 as an integer took minutes) without flaking on a busy box.
FUZZ = settings(max_examples=300, deadline=timedelta(seconds=2), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MESSAGE_TYPES = (ub.Event, ub.Status, ub.ErrorFrame, ub.SubscriptionList, ub.UnknownMessage)

INVALID_UTF8 = [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80"]
HUGE_NUMBERS = [b"1e999999999", b"-1e999999999", b"1E-999999999", b"1E-2648330639297005599", b"1e99999999999", b"9" * 5000, b"1e4299", b"1e4300",
                b"123456789012345678901234567890.123456789012345678901234567890", b"-0", b"0e0",
                b"18446744073709551616", b"-9223372036854775809"]
ODD_STRINGS = ["NaN", "Infinity", "-inf", "sNaN", "", " 1 ", "1_000", "\ud800", "\x00", "KRW-BTC" * 200,
               "1e999999999", "type", "ty"]


def wire(value: Any) -> bytes:
    """Compact JSON for ``value``; ``Decimal`` and ``Raw`` values are written as their own digits."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Decimal):
        return str(value).encode()
    if isinstance(value, dict):
        return b"{" + b",".join(wire(str(k)) + b":" + wire(v) for k, v in value.items()) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(wire(v) for v in value) + b"]"
    return json.dumps(value).encode()


class Raw:
    """Bytes placed verbatim in a re-serialized frame (numbers JSON parsers choke on, nesting)."""

    def __init__(self, text: bytes) -> None:
        self.text = text


def _nesting(depth: int, open_: bytes) -> Raw:
    close = b"]" if open_ == b"[" else b"}"
    inner = b"1" if open_ == b"[" else b'{"a":1}'
    body = (b'{"a":' * depth + inner + close * depth) if open_ == b"{" else (open_ * depth + inner + close * depth)
    return Raw(body)


replacements = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE_NUMBERS).map(Raw),
    st.sampled_from(ODD_STRINGS), st.text(max_size=20),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
    st.builds(_nesting, st.sampled_from([10, 500, 990, 1200, 20_000]), st.sampled_from([b"[", b"{"])),
    st.sampled_from(["ticker", "trade", "orderbook", "candle.1s", "myOrder", "myAsset", "unknown"]),
)


@st.composite
def valid_frames(draw: st.DrawFn) -> tuple[bytes, ub.Format]:
    """A frame the server could send: a documented full frame or a generated event, any format."""
    fmt = draw(st.sampled_from(list(ub.Format)))
    if draw(st.booleans()):
        obj, _ = _documented_frame(draw(st.sampled_from(TYPE_NAMES)), fmt.simple_keys)
        return wire([obj] if fmt.listed else obj), fmt
    return encode_event(draw(events), fmt), fmt


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Callable[[Any], Any]) -> Any:
    if not path:
        return new(value)
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


_DROP = object()


def _without_dropped(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_dropped(v) for k, v in value.items() if v is not _DROP}
    if isinstance(value, list):
        return [_without_dropped(v) for v in value if v is not _DROP]
    return value


@st.composite
def structural_mutations(draw: st.DrawFn) -> bytes:
    """A valid frame with one to three values replaced, dropped, renamed or added."""
    frame, _ = draw(valid_frames())
    tree = json.loads(frame, parse_float=Decimal)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(tree)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "drop", "rename", "add"]))
        if action == "replace" or not path:
            replacement = draw(replacements)
            tree = _replace(tree, path, lambda _old, r=replacement: r)
        elif action == "drop":
            tree = _without_dropped(_replace(tree, path, lambda _old: _DROP))
        else:
            parent_path, key = path[:-1], path[-1]
            name = draw(st.sampled_from(["type", "ty", "code", "cd", "status", "error", "method", "mthd",
                                         "result", "rslt", "codes", "level", "assets", "orderbook_units",
                                         "obu", "ast", "tp", "sequential_id", "sid", "zz"]))

            def edit(parent: Any, key: Any = key, name: str = name, keep: bool = action == "add") -> Any:
                if not isinstance(parent, dict):
                    return parent
                out = dict(parent)
                value = out[key] if keep else out.pop(key)
                out[name] = draw(replacements) if keep else value
                return out

            tree = _replace(tree, parent_path, edit)
    return wire(tree)


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    """A valid frame with one to four byte-level edits."""
    frame, _ = draw(valid_frames())
    data = bytearray(frame)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate", "utf8", "nest"]))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=6) | st.sampled_from([b'"', b"{", b"[", b",", b":", b"\\"]))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 12))]
        elif kind == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 40))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "utf8":
            data[at:at] = draw(st.sampled_from(INVALID_UTF8))
        elif kind == "nest":
            depth = draw(st.sampled_from([600, 990, 5000, 50_000]))
            data[at:at] = b"[" * depth + b"]" * depth
    return bytes(data)


def check_decode(frame: bytes) -> list[Any] | None:
    """Decode ``frame`` as bytes and as text: only ProtocolError may escape and both forms agree.

    Returns the messages, or None for a ProtocolError. (Reprs are compared: a NaN is not equal
    to itself.)
    """
    try:
        messages = ub.decode(frame)
    except ub.ProtocolError:
        messages = None
    else:
        assert all(isinstance(m, MESSAGE_TYPES) for m in messages)
    try:
        as_text = ub.decode(frame.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    except ub.ProtocolError:
        assert messages is None, "text and bytes of one frame disagree"
    else:
        assert repr(as_text) == repr(messages), "text and bytes of one frame disagree"
    return messages


@settings(FUZZ, max_examples=100)
@given(valid_frames())
def test_valid_frames_of_every_type_and_format_decode(sample: tuple[bytes, ub.Format]) -> None:
    frame, fmt = sample
    messages = check_decode(frame)
    assert messages, f"a valid {fmt} frame failed to decode: {frame[:120]!r}"
    assert all(isinstance(m, ub.Event) for m in messages)


@FUZZ
@given(structural_mutations())
def test_structurally_mutated_frames_only_raise_protocol_error(frame: bytes) -> None:
    check_decode(frame)


@FUZZ
@given(byte_mutations())
def test_byte_mutated_frames_only_raise_protocol_error(frame: bytes) -> None:
    check_decode(frame)


# Regressions found by the fuzzer, kept as plain examples.
@pytest.mark.parametrize(
    "frame",
    [
        # msgspec's RecursionError escaped the fast paths (object, SIMPLE, list).
        b'{"type":"ticker","x":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"ty":"trade","x":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'[{"type":"trade","x":' + b"[" * 50_000 + b"]" * 50_000 + b"}]",
        b'[{"type":"trade"},{"type":"trade","x":' + b"[" * 50_000 + b"]" * 50_000 + b"}]",
        # An integer field written with a huge exponent: ValueError, or minutes of CPU for 1e999999999.
        b'{"type":"trade","sequential_id":1e5000}',
        b'{"type":"trade","sequential_id":1e999999999}',
        b'{"ty":"trade","sid":1E999999999}',
        # An exponent beyond Decimal's range raised decimal.InvalidOperation (found by fuzz_decode.py).
        b'{"type":"trade","trade_price":5.2E-2648330639297005599}',
        b'[{"ty":"candle.1s","cd":"USDT-BTC","tp":1,"catv":5.2E-2648330639297005599E-26}]',
        b'{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"ticker","level":1E-2648330639297005599}]}',
        # LIST_SUBSCRIPTIONS entries with values of the wrong type raised TypeError or split a string.
        b'{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"ticker","level":{}}]}',
        b'{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"ticker","level":"abc"}]}',
        b'{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"ticker","codes":5}]}',
        b'{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"ticker","codes":"KRW-BTC"}]}',
    ],
)
def test_fuzzer_findings_raise_protocol_error(frame: bytes) -> None:
    with pytest.raises(ub.ProtocolError) as info:
        ub.decode(frame)
    assert " lacks " not in str(info.value)  # refused for what the fuzzer found, not for the fields left out


def test_integers_with_a_small_exponent_still_decode() -> None:
    [trade] = ub.decode(wire({**sample_wire(ub.Trade, code="KRW-BTC"), "sequential_id": Raw(b"1.7e16")}))
    assert trade.sequential_id == 17_000_000_000_000_000
