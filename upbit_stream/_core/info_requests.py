"""Requests for the 2026 types: merged announcement objects and indicator objects without wasted combinations."""

from __future__ import annotations

from typing import Any

from .indicators import request_item

__all__ = ["NEW_TYPES", "new_type_objects"]

#: (type, code, variant) keys, as ``demand`` defines them.
Key = tuple[str, str, Any]

NEW_TYPES = frozenset({"announcement", "indicator", "indicator_signal"})


def new_type_objects(type_: str, keys: list[Key]) -> list[dict[str, Any]]:
    """The canonical type objects for announcement or indicator keys (no snapshot flags: realtime only).

    Announcements: one object, categories merged (omitted when anyone wants all), the body when
    anyone asked. Indicators: per timeframe, one object per set of codes sharing the same
    indicators, so the combination count is exactly the number of (code, indicator) pairs.
    """
    if not keys:
        return []
    if type_ == "announcement":
        categories = {key[1] for key in keys}
        obj: dict[str, Any] = {"type": type_}
        if "" not in categories:
            obj["categories"] = sorted(categories)
        if any(key[2] for key in keys):
            obj["include_body"] = True
        return [obj]
    by_item: dict[tuple[str, str], tuple[Any, set[str]]] = {}
    for _, code, (timeframe, item) in keys:
        entry = by_item.setdefault((timeframe, repr(item)), (item, set()))
        entry[1].add(code)
    by_codes: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
    for (timeframe, _), (item, codes) in sorted(by_item.items()):
        by_codes.setdefault((timeframe, tuple(sorted(codes))), []).append(item)
    return [{"type": type_, "codes": list(codes), "timeframe": timeframe,
             "indicators": [request_item(item) for item in items]}
            for (timeframe, codes), items in sorted(by_codes.items())]
