"""The number policy: which integers and Decimals an event may carry, and how a violation reads."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Annotated

import msgspec

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_ADJUSTED",
    "MAX_DIGITS",
    "MIN_ADJUSTED",
    "SCREEN",
    "Long",
    "decimal_problem",
    "excerpt",
    "int_problem",
    "passes_screen",
]

#: Integer fields (timestamps, ids, counts) are Upbit Longs: signed 64-bit.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: A Decimal carries at most this many significant digits (coefficient digits, zero counts one) …
MAX_DIGITS = 60
#: … and its adjusted exponent (the power of ten of its leading digit) lies in this range.
MIN_ADJUSTED = -40
MAX_ADJUSTED = 40

#: An ``int`` annotation that msgspec checks against the 64-bit range while decoding.
Long = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]

_EXCERPT = 24


def excerpt(value: object, limit: int = _EXCERPT) -> str:
    """A short printable form of ``value`` for error messages, cut with an ellipsis past ``limit``."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        bits = value.bit_length()
        digits = f"{len(str(abs(value)))}" if bits < 1000 else f"about {int(bits * 0.30103) + 1}"
        return f"{'-' if value < 0 else ''}<an integer of {digits} digits>"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def int_problem(value: int) -> str | None:
    """Why ``value`` cannot be an integer field (outside signed 64 bits), or None if it can."""
    if INT64_MIN <= value <= INT64_MAX:
        return None
    return f"integer {excerpt(value)} is outside the signed 64-bit range"


def decimal_problem(value: Decimal) -> str | None:
    """Why ``value`` cannot be a Decimal field, or None if it can.

    A field's Decimal must be finite, have at most ``MAX_DIGITS`` significant digits, and an
    adjusted exponent in ``[MIN_ADJUSTED, MAX_ADJUSTED]`` (zeros included: ``0E-50`` is refused).
    """
    if not value.is_finite():
        return f"{excerpt(value)} is not a finite number"
    adjusted = value.adjusted()
    if not MIN_ADJUSTED <= adjusted <= MAX_ADJUSTED:
        return (
            f"number {excerpt(value)} has magnitude 10^{adjusted}, "
            f"outside 10^{MIN_ADJUSTED}..10^{MAX_ADJUSTED}"
        )
    digits = len(value.as_tuple().digits)
    if digits > MAX_DIGITS:
        return f"number {excerpt(value)} has {digits} significant digits, more than {MAX_DIGITS}"
    return None


#: The fast path's screen: ``SCREEN.plus(value)`` of a finite ``value`` returns without raising
#: only if the policy accepts ``value``. It raises (a trapped ``decimal`` signal) unless the
#: exponent is at least ``MIN_ADJUSTED`` (the context's Etiny), the digits fit its precision (41)
#: and the adjusted exponent is at most ``MAX_ADJUSTED``. That is stricter than the policy: a value
#: it refuses (say 45 digits, or a digit below 10^-40) is then judged by ``decimal_problem``.
SCREEN = decimal.Context(
    prec=min(MAX_DIGITS, 1 - MIN_ADJUSTED),
    Emin=min(MAX_DIGITS, 1 - MIN_ADJUSTED) - 1 + MIN_ADJUSTED,
    Emax=MAX_ADJUSTED,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.Rounded, decimal.Clamped],
)
assert SCREEN.Etiny() == MIN_ADJUSTED and SCREEN.Emin <= 0


def passes_screen(value: Decimal) -> bool:
    """True if ``value`` is finite and ``SCREEN.plus`` takes it silently (then the policy accepts it)."""
    if not value.is_finite():
        return False
    try:
        SCREEN.plus(value)
    except ArithmeticError:
        return False
    return True
