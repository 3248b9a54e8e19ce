"""Decoding: server frames (any format) to events and control results; encoding lives in ``_encode``.

Decoding has a fast path and a careful path. Frames shaped the way Upbit sends them (an object
whose first key is ``type``/``ty``, or a list of such objects) are decoded by msgspec straight into
the event classes, reading Doubles into exact ``Decimal``s from their digits, then screened
(``fast_path``). Anything else — other key orders, unknown enum values, numbers the screen
refuses, a required field absent or null, control frames — takes the careful path (stdlib ``json``
with ``Decimal`` floats), which accepts every well-formed frame and raises ``ProtocolError`` naming
the field for the rest (a value of the wrong kind, a required field absent or null). Both paths give
equal events and apply the number policy (``number_policy``): integers fit 64 bits; Decimals are finite,
of at most 60 digits, with an adjusted exponent within ±40.
"""


import enum
import json
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import msgspec

from .errors import ProtocolError
from .all_events import EVENT_CLASSES, WIRE_CLASSES, Event
from .events import Asset, MyAsset, Orderbook, OrderbookUnit
from .fast_path import DEFAULT as FAST_DEFAULT
from .fast_path import DEFAULT_HEAD, FAST_FAILURES, HEAD_BYTES, ONE_OBJECT, SIMPLE_HEAD
from .fast_path import SIMPLE as FAST_SIMPLE
from .indicators import INDICATOR_CLASSES, RsiEventParams, VolumeEventParams
from .number_policy import decimal_problem, excerpt, int_problem

__all__ = [
    "ErrorFrame",
    "Message",
    "Status",
    "SubscribedStream",
    "SubscriptionList",
    "UnknownMessage",
    "decode",
]


@attrs.frozen
class Status:
    """The server's keep-alive answer ``{"status": "UP"}``."""

    status: str


@attrs.frozen
class ErrorFrame:
    """An error frame ``{"error": {"name": …, "message": …}}`` answering the last request."""

    name: str
    message: str


@attrs.frozen
class SubscribedStream:
    """One entry of a LIST_SUBSCRIPTIONS reply: a type and the codes streamed for it."""

    type: str
    codes: tuple[str, ...] = ()
    level: Decimal | None = None


@attrs.frozen
class SubscriptionList:
    """The reply to LIST_SUBSCRIPTIONS: what the server streams on this connection."""

    ticket: str | None
    streams: tuple[SubscribedStream, ...]


@attrs.frozen
class UnknownMessage:
    """A well-formed object the codec does not know (a new Upbit type); reported, never fatal."""

    type: str | None
    data: Mapping[str, Any] = attrs.field(eq=False, repr=False)


Message = Event | Status | ErrorFrame | SubscriptionList | UnknownMessage

# --------------------------------------------------------------------------------------------
# Field plans: how each event field is read in the careful path, derived from the classes.

_NESTED = {Orderbook: ("orderbook_units", OrderbookUnit), MyAsset: ("assets", Asset)}


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, str):  # some mirrors (Bithumb) send numbers as strings
        try:
            result = Decimal(value)
        except ArithmeticError:
            raise TypeError(f"expected a number, got {excerpt(value)}") from None
    else:
        raise TypeError(f"expected a number, got {excerpt(value)}")
    problem = decimal_problem(result)
    if problem is not None:
        raise TypeError(problem)
    return result


#: The adjusted exponent of the largest 64-bit integers (9.2E+18).
_INT64_ADJUSTED = 18


def _to_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        # The range is checked on the exponent first: int(Decimal("1e999999999")) runs for minutes.
        if value and value.adjusted() > _INT64_ADJUSTED:
            raise TypeError(f"integer {excerpt(value)} is outside the signed 64-bit range")
        result = int(value)
    else:
        raise TypeError(f"expected an integer, got {excerpt(value)}")
    problem = int_problem(result)
    if problem is not None:
        raise TypeError(problem)
    return result


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {excerpt(value)}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true/false, got {excerpt(value)}")


def _enum_reader(enum_cls: type[enum.Enum]) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        try:
            return enum_cls(_to_str(value))
        except ValueError:
            return value  # a value Upbit added after this release: keep the raw string

    return read


def _reader_for(hint: Any) -> Callable[[Any], Any]:
    """Return the careful-path converter for a field annotated ``hint`` (``X`` or ``X | None``)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    base = args[0]
    if base is Decimal:
        return _to_decimal
    if base is int:
        return _to_int
    if base is bool:
        return _to_bool
    if base is str:
        return _to_str
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return _enum_reader(base)
    raise AssertionError(f"no reader for {hint!r}")  # pragma: no cover - class definitions


#: Per field: name, DEFAULT key, SIMPLE key, reader, and whether a frame must carry it (no default).
_Plan = tuple[tuple[str, str, str, Callable[[Any], Any], bool], ...]


def _plan(cls: type) -> _Plan:
    hints = typing.get_type_hints(cls)
    nested = _NESTED.get(cls)
    steps = []
    for field in attrs.fields(cls):
        if (nested and field.name == nested[0]) or field.metadata.get("nested"):
            continue
        steps.append((field.name, field.name, field.metadata["simple"], _reader_for(hints[field.name]),
                      field.default is attrs.NOTHING))
    return tuple(steps)


_PLANS: dict[type, _Plan] = {cls: _plan(cls) for cls in WIRE_CLASSES}


def _build(cls: type, data: Mapping[str, Any], simple: bool) -> Any:
    """Build ``cls`` from one decoded object in the careful path.

    Absent or null fields take their default; a required field absent or null is a ``ProtocolError``
    naming the class and every such field.
    """
    kwargs: dict[str, Any] = {}
    missing: list[str] = []
    for name, default_key, simple_key, read, required in _PLANS[cls]:
        value = data.get(simple_key if simple else default_key)
        if value is None:
            if required:
                missing.append(name)
            continue
        try:
            kwargs[name] = read(value)
        except TypeError as exc:
            raise ProtocolError(f"{cls.__name__}.{name}: {exc}") from None
    nested = _NESTED.get(cls)
    if nested:
        name, item_cls = nested
        items = data.get(attrs.fields_dict(cls)[name].metadata["simple"] if simple else name)
        if items is not None:
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise ProtocolError(f"{cls.__name__}.{name}: expected a list of objects")
            built = []
            for index, item in enumerate(items):
                try:
                    built.append(_build(item_cls, item, simple))
                except ProtocolError as exc:
                    raise ProtocolError(f"{cls.__name__}.{name}[{index}] {exc}") from None
            kwargs[name] = tuple(built)
    if missing:
        raise ProtocolError(f"{cls.__name__} lacks {', '.join(missing)} (required, absent or null)")
    if cls in _INDICATOR_EVENTS:
        _build_indicator(cls, data, simple, kwargs)
    return cls(**kwargs)


_INDICATOR_EVENTS = frozenset({EVENT_CLASSES["indicator"], EVENT_CLASSES["indicator_signal"]})


def _build_indicator(cls: type, data: Mapping[str, Any], simple: bool, kwargs: dict[str, Any]) -> None:
    """Build the nested ``params``, ``value`` (and ``event_params``) of the classes ``indicator`` names."""
    classes = INDICATOR_CLASSES.get(kwargs.get("indicator", ""))
    if classes is None:
        raise ProtocolError(f"{cls.__name__}.indicator: unknown indicator {excerpt(kwargs.get('indicator'))}")
    fields = attrs.fields_dict(cls)
    parts: tuple[tuple[str, type[Any]], ...] = (("params", classes[0]), ("value", classes[1]),
                                                ("event_params", VolumeEventParams))
    for name, nested_cls in parts:
        if name not in fields:
            continue
        key = fields[name].metadata["simple"] if simple else name
        item = data.get(key)
        if name == "event_params":
            if not item:  # {} (or absent) for triggers without a threshold or multiplier
                continue
            if not isinstance(item, dict):
                raise ProtocolError(f"{cls.__name__}.{name}: expected an object")
            threshold = "th" if simple else "threshold"
            nested_cls = RsiEventParams if threshold in item else VolumeEventParams
        elif not isinstance(item, dict):
            raise ProtocolError(f"{cls.__name__}.{name}: expected an object")
        try:
            kwargs[name] = _build(nested_cls, item, simple)
        except ProtocolError as exc:
            raise ProtocolError(f"{cls.__name__}.{name} {exc}") from None


# --------------------------------------------------------------------------------------------
# Fast path: the decoders of ``fast_path``, for objects and for lists of one type.

_decode_raw_list = msgspec.json.Decoder(list[msgspec.Raw]).decode


def _fast(frame: bytes, listed: bool) -> list[Any] | None:
    """Decode a frame shaped as Upbit sends it (type first; a list of one type), else None.

    A list whose items are not all of the first item's type gives None: the caller then decodes
    it item by item.
    """
    offset = 1 if listed else 0
    if frame.startswith(DEFAULT_HEAD, offset):
        start, table = 9 + offset, FAST_DEFAULT
    elif frame.startswith(SIMPLE_HEAD, offset):
        start, table = 7 + offset, FAST_SIMPLE
    else:
        return None
    end = frame.find(b'"', start)
    decoders = table.get(frame[start:end])
    if decoders is None:
        return None
    try:
        events = decoders[1 if listed else 0](frame)
    except FAST_FAILURES:
        return None
    type_name = events[0].type if events else None
    for event in events:
        if event.type != type_name:
            return None
    return events


def decode(frame: bytes | bytearray | memoryview | str) -> list[Message]:
    """Decode one server frame (any of the four formats, binary or text) into its messages.

    Returns events (``Ticker``, ``Trade``, …) and control results (``Status``, ``ErrorFrame``,
    ``SubscriptionList``, ``UnknownMessage``) in wire order. Raises ``ProtocolError`` with a short
    excerpt when the frame is not UTF-8 JSON made of objects.
    """
    if frame.__class__ is bytes:  # the usual case, inlined: one dict lookup, one screened decode
        data: bytes = frame  # pyright: ignore[reportAssignmentType]  # bytes: the class test says so
        one = ONE_OBJECT.get(data[:HEAD_BYTES])
        if one is not None:
            try:
                return one(data)
            except FAST_FAILURES:
                return _careful(data)
    else:
        data = frame.encode() if isinstance(frame, str) else bytes(frame)
    if data.startswith(b"{"):
        events = _fast(data, listed=False)
        if events is not None:
            return events
    elif data.startswith(b"[{"):
        events = _fast(data, listed=True)
        if events is not None:
            return events
        try:
            parts = _decode_raw_list(data)
        except FAST_FAILURES:
            parts = None
        if parts is not None:
            items = [_fast(bytes(part), listed=False) for part in parts]
            if None not in items:
                return [item[0] for item in items]  # type: ignore[index]
    return _careful(data)


def _careful(data: bytes) -> list[Message]:
    try:
        parsed = json.loads(data, parse_float=Decimal, parse_int=_parse_int, parse_constant=_reject_constant)
    # UnicodeDecodeError and JSONDecodeError are ValueErrors; Decimal raises InvalidOperation (an
    # ArithmeticError) for an exponent beyond its range, such as 1E-2648330639297005599.
    except (ValueError, RecursionError, ArithmeticError) as exc:
        raise ProtocolError(f"frame is not UTF-8 JSON ({exc.__class__.__name__})", data) from None
    items = parsed if isinstance(parsed, list) else [parsed]
    out: list[Message] = []
    for item in items:
        if not isinstance(item, dict):
            raise ProtocolError("frame is not a JSON object or a list of objects", data)
        try:
            out.append(_message(item))
        except ProtocolError as exc:
            raise ProtocolError(str(exc), data) from None
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _parse_int(text: str) -> int | Decimal:
    """An integer literal as an ``int``, or as a ``Decimal`` when it is too long for ``int()``.

    The field readers then refuse it by name (a Long outside 64 bits, a Double of absurd size)
    instead of the whole frame failing as not JSON.
    """
    try:
        return int(text)
    except ValueError:  # more digits than sys.get_int_max_str_digits()
        return Decimal(text)


def _message(item: dict[str, Any]) -> Message:
    if "type" in item or "ty" in item:
        simple = "type" not in item
        type_name = item["ty" if simple else "type"]
        cls = EVENT_CLASSES.get(type_name) if isinstance(type_name, str) else None
        if cls is None:
            return UnknownMessage(str(type_name), item)
        event: Event = _build(cls, item, simple)
        return event
    if "status" in item:
        return Status(str(item["status"]))
    if "error" in item:
        error = item["error"]
        if not isinstance(error, dict):
            raise ProtocolError("error frame without an object")
        return ErrorFrame(str(error.get("name", "")), str(error.get("message", "")))
    if "method" in item or "mthd" in item:
        return _subscription_list(item, simple="method" not in item)
    return UnknownMessage(None, item)


def _subscription_list(item: dict[str, Any], simple: bool) -> SubscriptionList:
    keys = ("rslt", "ty", "cds", "lv", "tckt") if simple else ("result", "type", "codes", "level", "ticket")
    result_key, type_key, codes_key, level_key, ticket_key = keys
    result = item.get(result_key) or []
    if not isinstance(result, list):
        raise ProtocolError("LIST_SUBSCRIPTIONS result is not a list")
    streams = []
    for entry in result:
        if not isinstance(entry, dict) or not isinstance(entry.get(type_key), str):
            raise ProtocolError("LIST_SUBSCRIPTIONS entry without a type")
        codes = entry.get(codes_key) or []
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            raise ProtocolError("LIST_SUBSCRIPTIONS codes are not a list of strings")
        level = entry.get(level_key)
        try:
            level = None if level is None else _to_decimal(level)
        except TypeError as exc:
            raise ProtocolError(f"LIST_SUBSCRIPTIONS level: {exc}") from None
        streams.append(SubscribedStream(entry[type_key], tuple(codes), level))
    ticket = item.get(ticket_key)
    return SubscriptionList(None if ticket is None else str(ticket), tuple(streams))
