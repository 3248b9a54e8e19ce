"""Encoding: events as the server sends them (for the fake exchange and tests) and subscription requests."""

from __future__ import annotations

import enum
import operator
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import attrs
import msgspec

from .enums import Format
from .all_events import WIRE_CLASSES, Event

__all__ = ["encode_event", "encode_events", "encode_list_subscriptions", "encode_request", "wire_object"]

_encoder = msgspec.json.Encoder(decimal_format="number")


@attrs.frozen
class _Layout:
    """How one attrs class is written: its values in one call, under DEFAULT or SIMPLE keys."""

    values: Callable[[Any], tuple[Any, ...]]
    default_keys: tuple[str, ...]
    simple_keys: tuple[str, ...]
    omitted_when_none: frozenset[str]  # DEFAULT and SIMPLE keys of fields left out when None
    empty_when_none: frozenset[str]  # ... and of fields written {} when None
    nested: tuple[int, ...]  # positions of the fields whose type holds attrs classes (units, params, ...)

    @classmethod
    def of(cls, kind: type) -> _Layout:
        fields = attrs.fields(kind)
        names = [f.name for f in fields]
        getter = operator.attrgetter(*names)
        hints = typing.get_type_hints(kind)
        return cls(
            values=getter if len(names) > 1 else lambda value: (getter(value),),
            default_keys=tuple(names), simple_keys=tuple(f.metadata["simple"] for f in fields),
            omitted_when_none=frozenset(k for f in fields if f.metadata.get("omit_none")
                                        for k in (f.name, f.metadata["simple"])),
            empty_when_none=frozenset(k for f in fields if f.metadata.get("empty_none")
                                      for k in (f.name, f.metadata["simple"])),
            nested=tuple(index for index, name in enumerate(names) if _holds_attrs(hints[name])),
        )


def _holds_attrs(hint: Any) -> bool:
    """Whether a field annotated ``hint`` may hold an attrs instance (itself, in a tuple, in a union)."""
    return attrs.has(hint) if isinstance(hint, type) else any(_holds_attrs(arg) for arg in typing.get_args(hint))


#: The layout of every event class and every class nested in one, read once at import.
_LAYOUTS: Final = {kind: _Layout.of(kind) for kind in WIRE_CLASSES}
_PLAIN: Final = frozenset({str, int, float, bool, type(None)})


def wire_object(value: Any, simple: bool) -> Any:
    """``value`` (an event, a nested object or a plain value) as the server's JSON value, DEFAULT or SIMPLE keys.

    An optional nested object that is None is ``{}`` (``event_params``); an optional field the
    server omits when unset (``body``) is left out.
    """
    kind = type(value)
    if kind in _PLAIN or isinstance(value, enum.Enum):
        return value
    if kind is Decimal:
        # str() would write 1E-8 or 1E+3; Upbit writes plain digits (0.00000001, 1000)
        return msgspec.Raw(format(value, "f").encode()) if "E" in str(value) else value
    if isinstance(value, tuple):
        return [wire_object(item, simple) for item in value]
    layout = _LAYOUTS.get(kind)
    if layout is None:
        if not attrs.has(kind):
            return value
        layout = _Layout.of(kind)
    out = dict(zip(layout.simple_keys if simple else layout.default_keys, layout.values(value)))
    for key, item in out.items():
        kind = type(item)
        if kind is Decimal:  # as above, written out: most fields are numbers
            if "E" in str(item):
                out[key] = msgspec.Raw(format(item, "f").encode())
        elif kind not in _PLAIN:
            out[key] = wire_object(item, simple)
    return _nones_as_sent(out, layout)


def _nones_as_sent(out: dict[str, Any], layout: _Layout) -> dict[str, Any]:
    """``out`` with the fields the server leaves out when None removed, and those it writes ``{}`` filled."""
    for key in layout.omitted_when_none:
        if key in out and out[key] is None:
            del out[key]
    for key in layout.empty_when_none:
        if out.get(key, False) is None:
            out[key] = {}
    return out


def _dict_of(value: Any, simple: bool) -> Any:
    """``wire_object`` without its look at each Decimal: ``encode_events`` checks the bytes instead."""
    layout = _LAYOUTS.get(type(value))
    if layout is None:
        if isinstance(value, tuple):
            return [_dict_of(item, simple) for item in value]
        return wire_object(value, simple) if attrs.has(type(value)) else value
    keys = layout.simple_keys if simple else layout.default_keys
    out = dict(zip(keys, layout.values(value)))
    for index in layout.nested:
        key = keys[index]
        out[key] = _dict_of(out[key], simple)
    return _nones_as_sent(out, layout)


def _has_exponent(frame: bytes) -> bool:
    """Whether ``frame`` may hold a Decimal in exponent notation (``str()`` of 1E-8, 1E+3); a string may look
    the same, and then the exact path runs for nothing. A one-byte search first: ``+`` is rare in frames."""
    return b"E-" in frame or (b"+" in frame and b"E+" in frame)


def encode_event(event: Event, format: Format | str = Format.DEFAULT) -> bytes:
    """Encode one event as the server sends it in ``format`` (a one-item list for *_LIST)."""
    return encode_events([event], format)


def encode_events(events: Sequence[Event], format: Format | str = Format.DEFAULT) -> bytes:
    """Encode events as one server frame: a list for *_LIST formats, else exactly one event."""
    fmt = Format(format)
    if not fmt.listed and len(events) != 1:
        raise ValueError(f"{fmt} frames carry exactly one event, got {len(events)}")
    simple = fmt.simple_keys
    objects = [_dict_of(event, simple) for event in events]
    frame = _encoder.encode(objects if fmt.listed else objects[0])
    if _has_exponent(frame):  # 1E-8 must read 0.00000001, as Upbit writes it
        objects = [wire_object(event, simple) for event in events]
        frame = _encoder.encode(objects if fmt.listed else objects[0])
    return frame


def encode_request(
    ticket: str, type_objects: Iterable[Mapping[str, Any]], format: Format | str = Format.DEFAULT
) -> str:
    """Encode a subscription request ``[{ticket}, {type}…, {format}]`` as compact JSON text."""
    body: list[Any] = [{"ticket": ticket}, *type_objects, {"format": str(Format(format))}]
    if len(body) == 2:
        raise ValueError("a request needs at least one type object; Upbit rejects empty requests")
    return _encoder.encode(body).decode()


def encode_list_subscriptions(ticket: str, format: Format | str = Format.DEFAULT) -> str:
    """Encode a LIST_SUBSCRIPTIONS request; ``format`` must be the connection's current format."""
    body = [{"ticket": ticket}, {"method": "LIST_SUBSCRIPTIONS"}, {"format": str(Format(format))}]
    return _encoder.encode(body).decode()

