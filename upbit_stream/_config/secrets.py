"""Credentials that never show themselves: the ``Secret`` wrapper and the ``Credentials`` key pair."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, final

import attrs

from .._core.errors import AuthenticationError

if TYPE_CHECKING:
    from .settings import AuthSettings

__all__ = ["ACCESS_KEY_ENV", "SECRET_KEY_ENV", "Credentials", "Secret"]

ACCESS_KEY_ENV = "UPBIT_ACCESS_KEY"
SECRET_KEY_ENV = "UPBIT_SECRET_KEY"

_MASK = "Secret('****')"


@final
class Secret:
    """A credential string that shows only a fixed mask; ``reveal()`` is the one way to read it.

    ``repr``, ``str`` and ``format`` give ``Secret('****')`` whatever the value (not even its length
    leaks), equality is constant-time, and pickling or copying raises ``TypeError`` so the value
    cannot travel to a file, a cache or another process by accident.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret() takes a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """Return the wrapped value; call it only where the value is actually used (signing)."""
        return self._value

    def __repr__(self) -> str:
        return _MASK

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return format(_MASK, format_spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def _refuse(self, *args: object) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or copied; pass the object itself")

    __reduce__ = __reduce_ex__ = __getstate__ = __copy__ = __deepcopy__ = _refuse


def _to_secret(value: str | Secret) -> Secret:
    """Wrap a plain string; pass a Secret through unchanged."""
    return value if isinstance(value, Secret) else Secret(value)


def _optional_secret(value: str | Secret | None) -> Secret | None:
    """Wrap a key at once, so no frame keeps it as plain text; None or empty means absent."""
    return _to_secret(value) if value else None


def _sendable(key: str) -> bool:
    return key.isascii() and key.isprintable() and key == key.strip()


def _usable_key(instance: object, attribute: attrs.Attribute[Any], value: Secret) -> None:
    """Refuse an empty key, or one that cannot be signed and sent as is (the message never shows it)."""
    if not value:
        raise AuthenticationError(f"Upbit {attribute.name} must not be empty")
    if not _sendable(value.reveal()):  # no local of this frame holds the key when it raises
        raise AuthenticationError(
            f"Upbit {attribute.name} must be printable ASCII without surrounding spaces (Upbit keys are "
            "letters and digits): check it for a stray newline, quote or non-ASCII character"
        )


@attrs.frozen
class Credentials:
    """An Upbit API key pair; its repr shows only masks."""

    access_key: Secret = attrs.field(converter=_to_secret, validator=_usable_key)
    secret_key: Secret = attrs.field(converter=_to_secret, validator=_usable_key)

    @classmethod
    def resolve(
        cls,
        access_key: str | Secret | None,
        secret_key: str | Secret | None,
        settings_auth: AuthSettings | None,
        env: Mapping[str, str],
    ) -> Credentials | None:
        """Find the key pair: arguments, else ``UPBIT_ACCESS_KEY``/``UPBIT_SECRET_KEY``, else the file.

        The first source that names either key must name both (keys from different sources are
        never mixed); an empty string counts as absent. Returns None when no source has a key, and
        raises ``AuthenticationError`` naming the missing half when a source has only one.
        """
        access_key, secret_key = _optional_secret(access_key), _optional_secret(secret_key)
        sources = [
            ("the arguments of open_upbit_session()", access_key, secret_key),
            ("the environment", _optional_secret(env.get(ACCESS_KEY_ENV)),
             _optional_secret(env.get(SECRET_KEY_ENV))),
        ]
        del env  # tracebacks that show locals must not show the whole environment
        if settings_auth is not None:
            file_keys = (settings_auth.access_key, settings_auth.secret_key)
            sources.append(("the [auth] section of the config file", *file_keys))
        for where, access, secret in sources:
            if not access and not secret:
                continue
            if access and secret:
                return cls(access, secret)
            given, missing = ("access_key", "secret_key") if access else ("secret_key", "access_key")
            raise AuthenticationError(
                f"{given} was found in {where} but {missing} was not; Upbit needs both keys. Set "
                f"{ACCESS_KEY_ENV} and {SECRET_KEY_ENV} in the environment, or pass "
                "open_upbit_session(access_key=..., secret_key=...)"
            )
        return None
