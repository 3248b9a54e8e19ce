"""Number screens for the fast decode path: one generated function per event class.

msgspec builds ``Decimal`` fields from any number or string (``"NaN"``, ``"1e999"``, a 400-digit
run) and offers no constraint for them, so each fast-decoded event passes through the screen of its
class before it is returned. The screen refuses every Decimal the number policy refuses (and a
few more, see ``number_policy.SCREEN``); the codec then decodes the frame on its careful path,
which applies the policy exactly and names the field. Integers need no screen: their ``Long``
annotation makes msgspec check the 64-bit range itself.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from .number_policy import SCREEN

__all__ = ["ScreenFailure", "decimal_fields", "screen_for"]

T = TypeVar("T")


class ScreenFailure(ValueError):
    """A fast-decoded event holds a Decimal outside the screen (the careful path decides)."""


def decimal_fields(cls: type) -> tuple[tuple[str, ...], tuple[tuple[str, type], ...]]:
    """The Decimal fields of attrs class ``cls``, and its tuple fields with their item class."""
    hints = typing.get_type_hints(cls)
    flat: list[str] = []
    nested: list[tuple[str, type]] = []
    for field in attrs.fields(cls):
        hint = hints[field.name]
        if typing.get_origin(hint) is tuple:
            nested.append((field.name, typing.get_args(hint)[0]))
        elif Decimal in typing.get_args(hint) or hint is Decimal:
            flat.append(field.name)
    return tuple(flat), tuple(nested)


def _field_lines(owner: str, names: tuple[str, ...], indent: str) -> list[str]:
    lines = []
    for name in names:
        lines += [
            f"{indent}value = {owner}.{name}",
            f"{indent}if value is not None and not plus(value).is_finite():",
            f"{indent}    raise ScreenFailure({name!r})",
        ]
    return lines


def screen_for(cls: type[T]) -> Callable[[T], T]:
    """A function returning its ``cls`` event unchanged, or raising when a Decimal fails the screen.

    It raises ``ScreenFailure`` for NaN and infinities and the ``decimal`` signal (an
    ``ArithmeticError``) that ``SCREEN`` traps for other refused values. The body is generated as
    straight-line code, one test per field: a loop over field names cost a third more per frame.
    """
    flat, nested = decimal_fields(cls)
    lines = ["def screen(event):", *_field_lines("event", flat, "    ")]
    for name, item_cls in nested:
        item_flat, item_nested = decimal_fields(item_cls)
        if item_nested:  # pragma: no cover - no event nests deeper than one level
            raise AssertionError(f"{item_cls.__name__} nests tuples")
        if item_flat:
            lines.append(f"    for item in event.{name}:")
            lines += _field_lines("item", item_flat, "        ")
    lines.append("    return event")
    namespace: dict[str, Any] = {"plus": SCREEN.plus, "ScreenFailure": ScreenFailure}
    exec(compile("\n".join(lines), f"<screen for {cls.__name__}>", "exec"), namespace)  # noqa: S102
    return namespace["screen"]  # type: ignore[no-any-return]
