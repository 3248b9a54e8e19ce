"""Pure parsing and validation of client request messages into subscriptions or documented errors.

Choices where Upbit's documentation is silent (see the module README in ``__init__``):

* the Ticket, Format and ``method`` objects may appear in any position (Upbit's own examples put
  the method object first or second); a ticket must be a non-empty string or an integer;
* an unknown ``format`` is ``INVALID_PARAM`` ("{}은 지원하지 않는 포맷입니다.", Bithumb's wording);
* a type of an authenticated endpoint (myOrder, myAsset, announcement on ``/private``; indicator,
  indicator_signal on ``/info``) on the public endpoint is ``INVALID_AUTH`` — the documented cause
  "private type 인데 인증 없이 요청했을 경우"; any other type on an endpoint that does not carry it is
  ``INVALID_PARAM``; an unknown type or ``method`` is ``INVALID_PARAM``;
* unknown or lower-case codes (``unknown_codes="reject"``, default) and unparsable flags or levels
  are ``INVALID_PARAM``; ``unknown_codes="ignore"`` drops such codes, the rest of the request stands
  (any code is accepted on ``/info``, as Upbit documents: ``_info_requests`` checks the 2026 types);
* ``is_only_snapshot`` and ``is_only_realtime`` both true: snapshot only.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Container
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from .._core.enums import Format
from .._core.events import CANDLE_INTERVALS
from ._info_requests import (
    ALL_CATEGORIES,
    ANNOUNCEMENT,
    INFO_TYPES,
    AnnouncementSpec,
    IndicatorSpec,
    Refusal,
    check_combinations,
    parse_announcement,
    parse_indicator_object,
    subscription_entry,
)

__all__ = ["ParsedRequest", "RequestError", "TypeRequest", "error_frame", "parse_request"]

PUBLIC_TYPES = frozenset({"ticker", "trade", "orderbook", *(f"candle.{u}" for u in CANDLE_INTERVALS)})
PRIVATE_TYPES = frozenset({"myOrder", "myAsset"})
#: The endpoint carrying each type: "public", "private" or "info".
ENDPOINT_OF = {**dict.fromkeys(PUBLIC_TYPES, "public"), **dict.fromkeys(PRIVATE_TYPES | {ANNOUNCEMENT}, "private"),
               **dict.fromkeys(INFO_TYPES, "info")}
DEPTHS = (1, 5, 15, 30)

MESSAGES = {
    "INVALID_AUTH": "인증 정보가 올바르지 않습니다.",
    "WRONG_FORMAT": "Format 이 맞지 않습니다.",
    "NO_TICKET": "티켓이 존재하지 않거나, 유효하지 않습니다.",
    "NO_TYPE": "type 필드가 존재하지 않습니다.",
    "NO_CODES": "codes 필드가 존재하지 않습니다.",
    "INVALID_PARAM": "codes 필드가 비어 있습니다.",
    "Too Many Requests": "요청 한도 초과",
    "TOO_MANY_REQUEST": "요청 한도를 초과했습니다.",
    "I'm a teapot": "Too Many Requests가 반복되어 일정 시간 요청이 제한된 상태",
}


@attrs.frozen
class RequestError:
    """A documented error answer: ``{"error": {"name": name, "message": message}}``."""

    name: str
    message: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.message:
            object.__setattr__(self, "message", MESSAGES.get(self.name, self.name))

    def frame(self) -> bytes:
        return error_frame(self.name, self.message)


def error_frame(name: str, message: str | None = None) -> bytes:
    """The error frame for ``name`` with its documented message unless ``message`` is given."""
    body = {"error": {"name": name, "message": MESSAGES.get(name, name) if message is None else message}}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@attrs.frozen
class TypeRequest:
    """One Data Type Object: ``codes`` are plain pair codes, ``requested`` as the client wrote them.

    ``spec`` holds what a 2026 type (announcement, indicator, indicator_signal) asked besides codes.
    """

    type: str
    codes: tuple[str, ...] = ()
    requested: tuple[str, ...] = ()
    depths: tuple[int, ...] = ()
    level: Decimal = Decimal(0)
    only_snapshot: bool = False
    only_realtime: bool = False
    spec: AnnouncementSpec | IndicatorSpec | None = None

    @property
    def snapshot(self) -> bool:
        return self.type in PUBLIC_TYPES and not self.only_realtime or self.only_snapshot

    @property
    def realtime(self) -> bool:
        return not (self.type in PUBLIC_TYPES and self.only_snapshot)


@attrs.frozen
class ParsedRequest:
    """A valid request: its ticket, Data Type Objects, optional method and optional format."""

    ticket: str
    types: tuple[TypeRequest, ...] = ()
    method: str | None = None
    format: Format | None = None


def parse_request(raw: str | bytes, endpoint: str, codes: Container[str],
                  categories: Collection[str] = ALL_CATEGORIES,
                  unknown_codes: str = "reject") -> ParsedRequest | RequestError:
    """Parse one client message for ``endpoint`` ("public"/"private"/"info").

    ``codes`` are the listed pairs, ``categories`` the announcement categories accepted;
    ``unknown_codes="ignore"`` drops codes that are not listed (they stream nothing) instead of
    refusing the request.
    """
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return RequestError("WRONG_FORMAT")
    if not isinstance(data, list) or not data or not all(isinstance(o, dict) for o in data):
        return RequestError("WRONG_FORMAT")
    ticket: Any = None
    fmt: Format | None = None
    method: str | None = None
    objects: list[dict[str, Any]] = []
    for obj in data:
        if "ticket" in obj:
            ticket = obj["ticket"]
        elif "format" in obj:
            value = obj["format"]
            try:
                fmt = Format(value) if isinstance(value, str) else None
            except ValueError:
                fmt = None
            if fmt is None:
                return RequestError("INVALID_PARAM", f"{value}은 지원하지 않는 포맷입니다.")
        elif "method" in obj and "type" not in obj:
            method = obj["method"]
            if method != "LIST_SUBSCRIPTIONS":
                return RequestError("INVALID_PARAM", f"{method}은 지원하지 않는 method 입니다.")
        else:
            objects.append(obj)
    if isinstance(ticket, bool) or not isinstance(ticket, (str, int)) or ticket == "":
        return RequestError("NO_TICKET")
    if method is not None:
        if objects:
            return RequestError("WRONG_FORMAT")
        return ParsedRequest(str(ticket), (), method, fmt)
    if not objects:
        return RequestError("NO_TYPE")
    types = []
    for obj in objects:
        parsed = _parse_type(obj, endpoint, codes, categories, unknown_codes == "ignore")
        if isinstance(parsed, RequestError):
            return parsed
        types.append(parsed)
    try:
        check_combinations([(t.type, t.codes, t.spec) for t in types if isinstance(t.spec, IndicatorSpec)])
    except Refusal as refusal:
        return RequestError(refusal.name, refusal.message)
    return ParsedRequest(str(ticket), tuple(types), None, fmt)


def _flag(obj: dict[str, Any], snake: str, camel: str) -> bool | RequestError:
    value = obj.get(snake, obj.get(camel, False))
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return RequestError("INVALID_PARAM", f"{snake} 필드의 값이 올바르지 않습니다.")


def _parse_type(obj: dict[str, Any], endpoint: str, listed: Container[str],
                categories: Collection[str], ignore_unknown: bool = False) -> TypeRequest | RequestError:
    type_ = obj.get("type")
    if type_ is None:
        return RequestError("NO_TYPE")
    if not isinstance(type_, str) or type_ not in ENDPOINT_OF:
        return RequestError("INVALID_PARAM", f"{type_}은 지원하지 않는 타입입니다.")
    if ENDPOINT_OF[type_] != endpoint:
        if endpoint == "public":
            return RequestError("INVALID_AUTH")
        return RequestError("INVALID_PARAM", f"{type_} 타입은 {endpoint.title()} 엔드포인트에서 지원하지 않습니다.")
    if type_ == ANNOUNCEMENT or type_ in INFO_TYPES:
        try:
            if type_ == ANNOUNCEMENT:
                return TypeRequest(type_, spec=parse_announcement(obj, categories))
            info_codes, spec = parse_indicator_object(type_, obj)
        except Refusal as refusal:
            return RequestError(refusal.name, refusal.message)
        return TypeRequest(type_, info_codes, info_codes, spec=spec)
    if type_ == "myAsset":
        if "codes" in obj:
            return RequestError("WRONG_FORMAT")
        return TypeRequest(type_)
    raw_codes = obj.get("codes")
    if raw_codes is None:
        if type_ == "myOrder":
            return TypeRequest(type_)
        return RequestError("NO_CODES")
    if not isinstance(raw_codes, list):
        return RequestError("WRONG_FORMAT")
    if not raw_codes:
        if type_ == "myOrder":
            return TypeRequest(type_)
        return RequestError("INVALID_PARAM")
    codes: list[str] = []
    depths: list[int] = []
    for item in raw_codes:
        if not isinstance(item, str):
            return RequestError("WRONG_FORMAT")
        code, dot, suffix = item.partition(".")
        depth = 30
        if dot:
            if type_ != "orderbook" or not suffix.isdigit() or not suffix.isascii():
                return RequestError("INVALID_PARAM", f"{item}은 지원하지 않는 페어 코드입니다.")
            depth = int(suffix) if int(suffix) in DEPTHS else 30
        if code not in listed:
            if ignore_unknown:
                continue
            return RequestError("INVALID_PARAM", f"{item}은 지원하지 않는 페어 코드입니다.")
        codes.append(code)
        depths.append(depth)
    level = Decimal(0)
    if type_ == "orderbook" and obj.get("level") is not None:
        raw_level = obj["level"]
        try:
            if isinstance(raw_level, bool) or not isinstance(raw_level, (int, Decimal, str)):
                raise InvalidOperation
            level = Decimal(raw_level)
            if not level.is_finite() or level < 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            return RequestError("INVALID_PARAM", f"level {raw_level}은 지원하지 않는 값입니다.")
    only_snapshot = _flag(obj, "is_only_snapshot", "isOnlySnapshot")
    if isinstance(only_snapshot, RequestError):
        return only_snapshot
    only_realtime = _flag(obj, "is_only_realtime", "isOnlyRealtime")
    if isinstance(only_realtime, RequestError):
        return only_realtime
    if type_ == "myOrder":
        only_snapshot = only_realtime = False
    return TypeRequest(type_, tuple(codes), tuple(map(str, raw_codes)), tuple(depths), level,
                       only_snapshot, only_realtime)


def list_subscriptions_frame(ticket: str, types: tuple[TypeRequest, ...], fmt: Format) -> bytes:
    """The LIST_SUBSCRIPTIONS reply for the live (realtime) Data Type Objects of a connection."""
    simple = fmt.simple_keys
    k_type, k_codes, k_level = ("ty", "cds", "lv") if simple else ("type", "codes", "level")
    result = []
    for t in types:
        if not t.realtime:
            continue
        if t.spec is not None:
            result.append(subscription_entry(t.type, t.requested, t.spec, simple))
            continue
        entry: dict[str, Any] = {k_type: t.type}
        if t.requested:
            entry[k_codes] = list(t.requested)
        if t.type == "orderbook":
            entry[k_level] = t.level
        result.append(entry)
    body = ({"mthd": "LIST_SUBSCRIPTIONS", "rslt": result, "tckt": ticket} if simple
            else {"method": "LIST_SUBSCRIPTIONS", "result": result, "ticket": ticket})
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_number).encode()


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(repr(value))
