"""Validation of announcement, indicator and indicator_signal Data Type Objects, and their LIST_SUBSCRIPTIONS entries.

The allowed values come from the library's own tables (``_core.indicators``: ``VALUE_RULES``,
``SIGNAL_RULES``, ``TRIGGERS``, ``TIMEFRAMES``, ``MAX_COMBINATIONS``); this module adds what only
the wire has: JSON types (a string, array, object, boolean or null where a number belongs is
``WRONG_FORMAT``), the ``2`` / ``2.0`` / ``2.00`` normalisation of multipliers (``2.04`` is refused,
never rounded) and the choices where Upbit is silent, listed in ``upbit_stream.testing``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import attrs

from .._core.enums import AnnouncementCategory
from .._core.indicators import (
    INDICATOR_CLASSES,
    MAX_COMBINATIONS,
    SIGNAL_RULES,
    TIMEFRAMES,
    TRIGGERS,
    VALUE_RULES,
    IndicatorParams,
    RsiEventParams,
    SignalCondition,
    VolumeEventParams,
    condition_problem,
    params_problem,
    request_item,
)

__all__ = [
    "ALL_CATEGORIES",
    "ANNOUNCEMENT",
    "DOCUMENTED_CATEGORIES",
    "INFO_TYPES",
    "AnnouncementSpec",
    "IndicatorSpec",
    "Refusal",
    "check_combinations",
    "parse_announcement",
    "parse_indicator_object",
    "subscription_entry",
]

ANNOUNCEMENT: Final = "announcement"
INFO_TYPES: Final = frozenset({"indicator", "indicator_signal"})
#: The eight categories Upbit's announcement page lists.
DOCUMENTED_CATEGORIES: Final[tuple[str, ...]] = (
    "notice", "trade", "wallet", "maintenance", "digital_asset", "nft", "service", "event")
#: Those eight and the five more the official SDK 1.1.0 accepts (``trading`` is in Upbit's own guide example).
ALL_CATEGORIES: Final[tuple[str, ...]] = tuple(str(c) for c in AnnouncementCategory)

_TENTHS: Final = Decimal("0.1")
_TEXT_FIELDS: Final = frozenset({"type"})
_TENTHS_FIELDS: Final = frozenset({"multiplier"})


class Refusal(Exception):
    """A request the server refuses: the error ``name`` and ``message`` it answers with."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(name, message)
        self.name = name
        self.message = message


@attrs.frozen
class AnnouncementSpec:
    """What one ``announcement`` object asked: ``categories`` (None: all) and ``include_body`` (None: not given)."""

    categories: tuple[str, ...] | None = None
    include_body: bool | None = None

    def wants(self, category: str) -> bool:
        return self.categories is None or category in self.categories


@attrs.frozen
class IndicatorSpec:
    """What one ``indicator``/``indicator_signal`` object asked besides its codes: a timeframe and its items.

    Items are the library's params classes (``indicator``) or ``SignalCondition``s (``indicator_signal``),
    with multipliers normalised to one decimal place.
    """

    timeframe: str
    items: tuple[IndicatorParams | SignalCondition, ...]


def parse_announcement(obj: dict[str, Any], categories: Collection[str]) -> AnnouncementSpec:
    """Check one ``announcement`` object against the accepted ``categories``; raise ``Refusal``."""
    if "codes" in obj:
        raise Refusal("WRONG_FORMAT", "announcement 타입은 codes 필드를 사용하지 않습니다.")
    raw = obj.get("categories")
    chosen: tuple[str, ...] | None = None
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
            raise Refusal("WRONG_FORMAT", "categories 필드는 문자열 목록이어야 합니다.")
        if not raw:
            raise Refusal("INVALID_PARAM", "categories 필드가 비어 있습니다.")
        for category in raw:
            if category not in categories:
                raise Refusal("INVALID_PARAM", f"{category}은 지원하지 않는 카테고리입니다.")
        chosen = tuple(raw)
    body = obj.get("include_body")
    if body is not None and not isinstance(body, bool):
        raise Refusal("WRONG_FORMAT", "include_body 필드는 true 또는 false 여야 합니다.")
    return AnnouncementSpec(chosen, body)


def parse_indicator_object(type_: str, obj: dict[str, Any]) -> tuple[tuple[str, ...], IndicatorSpec]:
    """Check one ``indicator``/``indicator_signal`` object; its codes (any string: unknown ones stream nothing)."""
    raw_codes = obj.get("codes")
    if raw_codes is None:
        raise Refusal("NO_CODES", "codes 필드가 존재하지 않습니다.")
    if not isinstance(raw_codes, list) or not all(isinstance(c, str) for c in raw_codes):
        raise Refusal("WRONG_FORMAT", "codes 필드는 문자열 목록이어야 합니다.")
    if not raw_codes:
        raise Refusal("INVALID_PARAM", "codes 필드가 비어 있습니다.")
    timeframe = _required(obj, "timeframe", str, "")
    if timeframe not in TIMEFRAMES:
        raise Refusal("INVALID_PARAM", f"{timeframe}은 지원하지 않는 캔들 단위입니다: {', '.join(TIMEFRAMES)}")
    raw_items = _required(obj, "indicators", list, "")
    if not raw_items:
        raise Refusal("INVALID_PARAM", "indicators 필드가 비어 있습니다.")
    items = tuple(_item(type_ == "indicator_signal", raw, i) for i, raw in enumerate(raw_items))
    return tuple(raw_codes), IndicatorSpec(timeframe, items)


def check_combinations(objects: Sequence[tuple[str, tuple[str, ...], IndicatorSpec]]) -> None:
    """Refuse more than 100 (code × indicator) combinations in one message, then any combination twice."""
    total = sum(len(codes) * len(spec.items) for _, codes, spec in objects)
    if total > MAX_COMBINATIONS:
        raise Refusal("TOO_MANY_REQUEST",
                      f"구독 조합은 최대 {MAX_COMBINATIONS}개까지 요청할 수 있습니다: {total}개를 요청했습니다.")
    seen: set[tuple[str, str, str, IndicatorParams | SignalCondition]] = set()
    for type_, codes, spec in objects:
        for code in codes:
            for item in spec.items:
                key = (type_, code, spec.timeframe, item)
                if key in seen:
                    raise Refusal("INVALID_PARAM", f"동일한 조합은 하나만 구독할 수 있습니다: {type_} {code} "
                                                   f"{spec.timeframe} {request_item(item)}")
                seen.add(key)


def subscription_entry(type_: str, codes: tuple[str, ...], spec: AnnouncementSpec | IndicatorSpec,
                       simple: bool) -> dict[str, Any]:
    """The LIST_SUBSCRIPTIONS ``result`` entry of one registered object (numbers as JSON numbers).

    Only ``type``/``codes`` take their SIMPLE keys (``ty``/``cds``) in SIMPLE formats; the rest echoes
    the request, whose keys are always DEFAULT names. Signals always carry ``event_params`` (``{}``
    for triggers without parameters), as their events do.
    """
    entry: dict[str, Any] = {"ty" if simple else "type": type_}
    if isinstance(spec, AnnouncementSpec):
        if spec.categories is not None:
            entry["categories"] = list(spec.categories)
        if spec.include_body is not None:
            entry["include_body"] = spec.include_body
        return entry
    entry["cds" if simple else "codes"] = list(codes)
    entry["timeframe"] = spec.timeframe
    items = []
    for item in spec.items:
        wire = request_item(item)
        if isinstance(item, SignalCondition):
            wire.setdefault("event_params", {})
        items.append(_json_numbers(wire))
    entry["indicators"] = items
    return entry


# -- helpers ---------------------------------------------------------------------------------------


def _required(obj: dict[str, Any], name: str, kind: type, where: str) -> Any:
    """``obj[name]`` of JSON type ``kind``: missing is ``INVALID_PARAM``, another type ``WRONG_FORMAT``."""
    value = obj.get(name)
    if value is None:
        raise Refusal("INVALID_PARAM", f"{where}{name} 필드가 존재하지 않습니다.")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Refusal("WRONG_FORMAT", f"{where}{name} 필드의 형식이 올바르지 않습니다.")
    return value


def _item(signal: bool, raw: Any, index: int) -> IndicatorParams | SignalCondition:
    where = f"indicators[{index}]."
    if not isinstance(raw, dict):
        raise Refusal("WRONG_FORMAT", f"indicators[{index}]는 객체여야 합니다.")
    known = {"type", "params", "trigger", "event_params"} if signal else {"type", "params"}
    extra = sorted(set(raw) - known)
    if extra:
        raise Refusal("INVALID_PARAM", f"{where}{extra[0]}은 지원하지 않는 필드입니다.")
    indicator = _required(raw, "type", str, where)
    if indicator not in INDICATOR_CLASSES:
        raise Refusal("INVALID_PARAM", f"{indicator}은 지원하지 않는 지표입니다.")
    params = _params(indicator, _required(raw, "params", dict, where), SIGNAL_RULES if signal else VALUE_RULES,
                     where)
    if not signal:
        return params
    trigger = _required(raw, "trigger", str, where)
    triggers = TRIGGERS[indicator]
    if trigger not in triggers:
        raise Refusal("INVALID_PARAM", f"{indicator} 지표의 트리거는 {', '.join(triggers)} 입니다: {trigger}")
    raw_ep = raw.get("event_params")
    if raw_ep is not None and not isinstance(raw_ep, dict):
        raise Refusal("WRONG_FORMAT", f"{where}event_params 필드는 객체여야 합니다.")
    wanted = triggers[trigger]
    event_params: RsiEventParams | VolumeEventParams | None = None
    if wanted is None:
        if raw_ep:
            raise Refusal("INVALID_PARAM", f"{trigger} 트리거는 event_params를 사용하지 않습니다.")
    else:
        name = wanted[0]
        if not raw_ep or name not in raw_ep:
            raise Refusal("INVALID_PARAM", f"{trigger} 트리거에는 event_params.{name} 필드가 필요합니다.")
        if set(raw_ep) != {name}:
            raise Refusal("INVALID_PARAM", f"{trigger} 트리거의 event_params는 {name} 필드만 사용합니다.")
        value = _number(name, raw_ep[name], f"{where}event_params.")
        event_params = (RsiEventParams(threshold=value) if name == "threshold"
                        else VolumeEventParams(multiplier=value))
    condition = SignalCondition(params, trigger, event_params)
    problem = condition_problem(condition)
    if problem is not None:
        raise Refusal("INVALID_PARAM", problem)
    return condition


def _params(indicator: str, raw: dict[str, Any], rules: dict[str, dict[str, tuple[Any, ...]]],
            where: str) -> IndicatorParams:
    cls = INDICATOR_CLASSES[indicator][0]
    names = [f.name for f in attrs.fields(cls)]
    kwargs = {name: _number(name, raw[name], f"{where}params.") for name in names if name in raw}
    missing = [name for name in names if name not in raw]
    if missing:
        raise Refusal("INVALID_PARAM", f"{where}params.{missing[0]} 필드가 존재하지 않습니다.")
    extra = sorted(set(raw) - set(names))
    if extra:
        raise Refusal("INVALID_PARAM", f"{where}params.{extra[0]}은 {indicator} 지표가 사용하지 않는 필드입니다.")
    params: IndicatorParams = cls(**kwargs)
    problem = params_problem(params, rules)
    if problem is not None:
        raise Refusal("INVALID_PARAM", problem)
    return params


def _number(name: str, value: Any, where: str) -> Any:
    """A parameter's value: text for ``type``, else a JSON number (integers, or tenths for multipliers)."""
    if name in _TEXT_FIELDS:
        if not isinstance(value, str):
            raise Refusal("WRONG_FORMAT", f"{where}{name} 필드는 문자열이어야 합니다.")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise Refusal("WRONG_FORMAT", f"{where}{name} 필드는 숫자(JSON number)여야 합니다.")
    if name not in _TENTHS_FIELDS:
        if isinstance(value, Decimal):
            raise Refusal("INVALID_PARAM", f"{where}{name} 필드는 정수로 입력해야 합니다: {value}")
        return value
    number = Decimal(value)
    try:
        tenths = number.quantize(_TENTHS)
    except InvalidOperation:
        raise Refusal("INVALID_PARAM", f"{where}{name} 값 {value}은 지원하지 않는 값입니다.") from None
    if tenths != number:
        raise Refusal("INVALID_PARAM", f"{where}{name} 값은 소수점 첫째 자리까지 지원합니다: {value}")
    return tenths


def _json_numbers(value: Any) -> Any:
    """``value`` with Decimals as floats, so a multiplier is echoed ``2.0`` (never ``2``)."""
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return float(value)
    return value
