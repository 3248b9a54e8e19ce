"""Valid events for tests: every field Upbit always sends filled in, the rest as the test says."""

from __future__ import annotations

import json
import typing
from decimal import Decimal
from typing import Any, TypeVar

import attrs

import upbit_stream as ub
from upbit_stream._core.encode import encode_event

E = TypeVar("E")

#: What a required field holds unless the test says otherwise, by its annotation (another enum: its
#: first member).
_PLAIN: dict[type, object] = {Decimal: Decimal(1), int: 1_700_000_000_000, str: "x", bool: False,
                              ub.StreamType: ub.StreamType.REALTIME}


def sample(cls: type[E], **fields: Any) -> E:
    """A ``cls`` (event or nested unit) with ``fields``, and a plain value in each other required field."""
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):  # type: ignore[arg-type]  # every event class is an attrs class
        if field.default is attrs.NOTHING and field.name not in fields:
            hint = hints[field.name]
            fields[field.name] = _PLAIN[hint] if hint in _PLAIN else next(iter(hint))
    return cls(**fields)


def sample_wire(cls: type, format: ub.Format | str = ub.Format.DEFAULT, **fields: Any) -> Any:
    """``sample(cls, **fields)`` as the JSON value the server sends in ``format`` (a dict, or a list)."""
    return json.loads(encode_event(sample(cls, **fields), format))
