"""``NoPublicConstructor``: a metaclass for classes only the library builds (trio's idea, our code)."""

from __future__ import annotations

from abc import ABCMeta
from typing import Any, TypeVar

__all__ = ["NoPublicConstructor"]

T = TypeVar("T")


class NoPublicConstructor(ABCMeta):
    """Calling the class raises ``TypeError``; the library builds instances with ``cls._create(...)``.

    Derived from ``ABCMeta`` so abstract base classes such as ``trio.abc.ReceiveChannel`` can be
    among the bases.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{cls.__module__}.{cls.__qualname__} has no public constructor")

    def _create(cls: type[T], *args: Any, **kwargs: Any) -> T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc, no-any-return]
