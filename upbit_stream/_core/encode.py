"""Encoding: events as the server sends them (for the fake exchange and tests) and subscription requests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import msgspec

from .enums import Format
from .all_events import Event

__all__ = ["encode_event", "encode_events", "encode_list_subscriptions", "encode_request", "wire_object"]

_encoder = msgspec.json.Encoder(decimal_format="number")


def wire_object(value: Any, simple: bool) -> Any:
    """``value`` (an event, a nested object or a plain value) as the server's JSON value, DEFAULT or SIMPLE keys.

    An optional nested object that is None is ``{}`` (``event_params``); an optional field the
    server omits when unset (``body``) is left out.
    """
    if isinstance(value, tuple):
        return [wire_object(item, simple) for item in value]
    if isinstance(value, Decimal):
        # str() would write 1E-8 or 1E+3; Upbit writes plain digits (0.00000001, 1000)
        if value.is_finite() and (value.as_tuple().exponent > 0 or value.adjusted() < -6):  # type: ignore[operator]
            return msgspec.Raw(format(value, "f").encode())
        return value
    if not attrs.has(type(value)):
        return value
    out = {}
    for f in attrs.fields(type(value)):
        item = getattr(value, f.name)
        if item is None and f.metadata.get("omit_none"):
            continue
        if item is None and f.metadata.get("empty_none"):
            item = {}
        out[f.metadata["simple"] if simple else f.name] = wire_object(item, simple)
    return out


def encode_event(event: Event, format: Format | str = Format.DEFAULT) -> bytes:
    """Encode one event as the server sends it in ``format`` (a one-item list for *_LIST)."""
    return encode_events([event], format)


def encode_events(events: Sequence[Event], format: Format | str = Format.DEFAULT) -> bytes:
    """Encode events as one server frame: a list for *_LIST formats, else exactly one event."""
    fmt = Format(format)
    objects = [wire_object(event, fmt.simple_keys) for event in events]
    if fmt.listed:
        return _encoder.encode(objects)
    if len(objects) != 1:
        raise ValueError(f"{fmt} frames carry exactly one event, got {len(objects)}")
    return _encoder.encode(objects[0])


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

