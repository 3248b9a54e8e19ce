"""The fast decode path: msgspec decoders per event type and key style, each with its number screen.

msgspec decodes a frame shaped the way Upbit sends it straight into the event classes (SIMPLE
frames through a renamed Struct), but it builds ``Decimal`` fields from any number or string
(``"NaN"``, ``"1e999"``, a 400-digit run) and has no constraint for them. So every decoder here is
generated together with a screen of the class's Decimal fields (``number_policy.SCREEN``): a
value the screen refuses makes the decoder raise, and the codec decodes the frame on its careful
path, which applies the number policy exactly and names the field. Integer fields need no screen:
their ``Long`` annotation makes msgspec check the 64-bit range itself.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import msgspec

from .events import FLAT_EVENT_CLASSES as EVENT_CLASSES
from .number_policy import SCREEN

__all__ = [
    "DEFAULT",
    "FAST_FAILURES",
    "HEAD_BYTES",
    "ONE_OBJECT",
    "SIMPLE",
    "ScreenFailure",
    "decimal_fields",
]


class ScreenFailure(ValueError):
    """A fast-decoded event holds NaN or an infinity, or a type not its decoder's (the careful path decides)."""


#: What a fast decoder raises for a frame it cannot take; the careful path then decides. msgspec
#: raises RecursionError for deeply nested JSON; screens raise ScreenFailure (a ValueError) and the
#: ``decimal`` signals that ``SCREEN`` traps (ArithmeticErrors).
FAST_FAILURES = (msgspec.MsgspecError, ValueError, TypeError, RecursionError, ArithmeticError)

Decode = Callable[[bytes], list[Any]]


def decimal_fields(cls: type) -> tuple[tuple[str, ...], tuple[tuple[str, type], ...]]:
    """The Decimal fields of attrs class ``cls``, and its tuple fields with their item class."""
    hints = typing.get_type_hints(cls)
    flat: list[str] = []
    nested: list[tuple[str, type]] = []
    for field in attrs.fields(cls):
        hint = hints[field.name]
        if typing.get_origin(hint) is tuple:
            nested.append((field.name, typing.get_args(hint)[0]))
        elif hint is Decimal or Decimal in typing.get_args(hint):
            flat.append(field.name)
    return tuple(flat), tuple(nested)


def _screen_lines(cls: type, owner: str, indent: str) -> list[str]:
    """Source lines that raise if a Decimal field of ``owner`` (a ``cls``) fails the screen."""
    # One test per field, written out: a loop over the field names cost a third more per frame.
    # SCREEN.plus raises for every refused value but NaN and the infinities, which is_finite finds.
    # A required field is never None (msgspec refuses a frame without it), so it needs no None test.
    flat, nested = decimal_fields(cls)
    fields = attrs.fields_dict(cls)
    lines = []
    for name in flat:
        present = "" if fields[name].default is attrs.NOTHING else "value is not None and "
        lines += [
            f"{indent}value = {owner}.{name}",
            f"{indent}if {present}not plus(value).is_finite():",
            f"{indent}    raise ScreenFailure({name!r})",
        ]
    for name, item_cls in nested:
        lines.append(f"{indent}for item in {owner}.{name}:")
        lines += _screen_lines(item_cls, "item", indent + "    ") or [f"{indent}    pass"]
    return lines


def _generate(cls: type, decode: Callable[[bytes], Any], convert: Callable[[Any], Any] | None,
              listed: bool) -> Decode:
    """A function from a frame to its screened ``cls`` events: ``decode``, then ``convert`` if given.

    It also refuses an event whose ``type`` is not a wire name of ``cls`` (``ONE_OBJECT`` looks at
    a frame's first bytes only, and a repeated ``type`` key may name another class).
    """
    value = "decode(frame)" if convert is None else "convert(decode(frame))"
    types = sorted(name for name, event_cls in EVENT_CLASSES.items() if event_cls is cls)
    test = f"!= {types[0]!r}" if len(types) == 1 else "not in types"  # a str compare is cheaper
    check_type = [f"if event.type {test}:", "    raise ScreenFailure('type')"]
    if listed:
        body = [f"events = {value}", "for event in events:",
                *(f"    {line}" for line in check_type), *_screen_lines(cls, "event", "    "), "return events"]
    else:
        body = [f"event = {value}", *check_type, *_screen_lines(cls, "event", ""), "return [event]"]
    source = "def decode_screened(frame):\n" + "".join(f"    {line}\n" for line in body)
    namespace: dict[str, Any] = {"decode": decode, "convert": convert, "plus": SCREEN.plus,
                                 "ScreenFailure": ScreenFailure, "types": frozenset(types)}
    exec(compile(source, f"<fast {'list' if listed else 'one'} {cls.__name__}>", "exec"), namespace)  # noqa: S102
    return namespace["decode_screened"]  # type: ignore[no-any-return]


def _simple_struct(cls: type, cache: dict[type, type]) -> type:
    """A msgspec Struct mirroring attrs class ``cls`` with SIMPLE keys."""
    if cls in cache:
        return cache[cls]
    hints = typing.get_type_hints(cls, include_extras=True)
    _, nested = decimal_fields(cls)
    nested_items = dict(nested)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for field in attrs.fields(cls):
        hint = hints[field.name]
        if field.name in nested_items:
            hint = tuple[_simple_struct(nested_items[field.name], cache), ...]  # type: ignore[misc]
        required = field.default is attrs.NOTHING
        fields.append((field.name, hint) if required else (field.name, hint, field.default))
    rename = {f.name: f.metadata["simple"] for f in attrs.fields(cls)}
    # kw_only: a required field may follow a defaulted one, as in the attrs classes.
    struct = msgspec.defstruct(f"Simple{cls.__name__}", fields, rename=rename, kw_only=True, gc=False)
    cache[cls] = struct
    return struct


def _tables() -> tuple[dict[bytes, tuple[Decode, Decode]], dict[bytes, tuple[Decode, Decode]]]:
    """Per wire type name: (one-object decoder, list decoder), for DEFAULT and for SIMPLE keys."""
    default: dict[bytes, tuple[Decode, Decode]] = {}
    simple: dict[bytes, tuple[Decode, Decode]] = {}
    cache: dict[type, type] = {}
    for name, cls in EVENT_CLASSES.items():
        one: Callable[[bytes], Any] = msgspec.json.Decoder(cls).decode
        many = msgspec.json.Decoder(list[cls]).decode  # type: ignore[valid-type]
        default[name.encode()] = (_generate(cls, one, None, False), _generate(cls, many, None, True))
        struct = _simple_struct(cls, cache)
        struct_one: Callable[[bytes], Any] = msgspec.json.Decoder(struct).decode
        struct_many = msgspec.json.Decoder(list[struct]).decode  # type: ignore[valid-type]
        to_event = functools.partial(msgspec.convert, type=cls, from_attributes=True)
        to_events = functools.partial(msgspec.convert, type=list[cls], from_attributes=True)  # type: ignore[valid-type]
        simple[name.encode()] = (_generate(cls, struct_one, to_event, False),
                                 _generate(cls, struct_many, to_events, True))
    return default, simple


#: (one-object decoder, list decoder) per wire type name, for DEFAULT and for SIMPLE keys. Each
#: returns a list of screened events or raises one of ``FAST_FAILURES``.
DEFAULT, SIMPLE = _tables()
DEFAULT_HEAD = b'{"type":"'
SIMPLE_HEAD = b'{"ty":"'
#: How many first bytes of a frame pick its one-object decoder in ``ONE_OBJECT``.
HEAD_BYTES = 12


def _one_object() -> dict[bytes, Decode]:
    table: dict[bytes, Decode] = {}
    classes: dict[bytes, type] = {}
    for head, decoders in ((DEFAULT_HEAD, DEFAULT), (SIMPLE_HEAD, SIMPLE)):
        for name, (one, _) in decoders.items():
            key = (head + name)[:HEAD_BYTES]
            # Wire names may share their first bytes (the candles) only if they share their class.
            if classes.setdefault(key, EVENT_CLASSES[name.decode()]) is not EVENT_CLASSES[name.decode()]:
                raise AssertionError(f"{name!r} and another type start alike")  # pragma: no cover
            table.setdefault(key, one)
    return table


#: One-object decoders by a frame's first ``HEAD_BYTES`` bytes (``{"type":"tra``, ``{"ty":"trade``).
#: A fixed slice costs a third of finding the end of the type name; the decoders check the type.
ONE_OBJECT = _one_object()
