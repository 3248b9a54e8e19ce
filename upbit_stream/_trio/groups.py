"""Exception-group hygiene: users see one error as itself, never a one-error ExceptionGroup."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import trio

__all__ = ["first_error", "single_errors"]


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf of ``group`` that is not a ``trio.Cancelled`` (else the first leaf)."""
    leaves = list(_leaves(group))
    for leaf in leaves:
        if not isinstance(leaf, trio.Cancelled):
            return leaf
    return leaves[0]


@contextmanager
def single_errors() -> Iterator[None]:
    """Re-raise a group holding one real error (besides cancellations) as that error.

    The error keeps its own ``__cause__``, ``__context__`` and ``__suppress_context__`` (the way
    trio unwraps a single-exception group): a user's ``raise AppError(...) from e`` comes out as
    written.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        real = [leaf for leaf in _leaves(group) if not isinstance(leaf, trio.Cancelled)]
        if len(real) > 1:
            raise
        leaf = real[0] if real else first_error(group)
        context = leaf.__context__
        try:
            raise leaf  # noqa: B904 - the chain is the leaf's own, restored below
        finally:
            leaf.__context__ = context
            del leaf, context, group, real
