"""How one setting is declared, checked and documented: its type, bounds, expected form and text."""

from __future__ import annotations

import enum
import math
import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from .._core.errors import ConfigError
from .secrets import ACCESS_KEY_ENV, SECRET_KEY_ENV, Secret

_META = "upbit_stream.setting"


class _Shown(str):
    """Text shown as is in error messages in place of a value (so that secrets stay hidden)."""

    def __repr__(self) -> str:
        return str(self)


_HIDDEN = _Shown("<hidden>")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


@attrs.frozen
class _Spec:
    """The type, bounds and documentation of one setting."""

    kind: str  # "float" | "int" | "choice" | "url" | "secret" | "nats_url" | "token" | "words" | "path"
    doc: str
    expected: str  # the accepted form, as error messages say it
    unit: str = ""
    zero_ok: bool = False  # numbers must be > 0, or >= 0 when this is true
    high: int | None = None  # Upbit's documented limit
    choices: tuple[str, ...] = ()
    enum_type: type[enum.Enum] | None = None

    def coerce(self, label: str, value: object) -> Any:
        """Return ``value`` as the setting's type, or raise ConfigError naming ``label``."""
        if self.kind == "secret":
            if value is None or isinstance(value, (str, Secret)):
                return (value if isinstance(value, Secret) else Secret(value)) if value else None
            raise ConfigError(label, _HIDDEN, self.expected)
        if self.kind in ("float", "int"):
            types = (int, float) if self.kind == "float" else (int,)
            if (isinstance(value, bool) or not isinstance(value, types)
                    or (isinstance(value, float) and not math.isfinite(value))
                    or value < 0 or (value == 0 and not self.zero_ok)):
                raise ConfigError(label, value, self.expected)
            if self.high is not None and value > self.high:
                limit = f"{value} exceeds Upbit's documented limit of {self.high} {self.unit}"
                raise ConfigError(label, value, f"{self.expected}; {limit}")
            return float(value) if self.kind == "float" else value
        if self.kind == "words":
            if isinstance(value, str):
                value = value.split()
            if not isinstance(value, (list, tuple)) or not all(isinstance(w, str) and w and not w.isspace()
                                                                for w in value):
                raise ConfigError(label, value, self.expected)
            return tuple(value)
        if not isinstance(value, str) or (self.choices and value not in self.choices):
            raise ConfigError(label, value, self.expected)
        if self.kind == "token" and not _TOKEN.fullmatch(value):
            raise ConfigError(label, value, self.expected)
        if self.kind == "nats_url" and value:
            parts = urlsplit(value)
            if parts.username is not None or parts.password is not None:
                raise ConfigError(label, _Shown("<URL with credentials>"), self.expected)
            if parts.scheme not in ("nats", "tls") or not parts.hostname or "://" not in value:
                raise ConfigError(label, value, self.expected)
        if self.kind == "url" and value:
            parts = urlsplit(value)
            if parts.username is not None or parts.password is not None:
                raise ConfigError(label, _Shown("<URL with credentials>"), self.expected)
            if parts.scheme not in ("ws", "wss") or not parts.hostname or "://" not in value:
                raise ConfigError(label, value, self.expected)
        return self.enum_type(value) if self.enum_type is not None else value

    def parse_env(self, var: str, text: str) -> object:
        """Read an environment variable's text as this setting's type (checked by ``coerce``)."""
        try:
            return {"float": float, "int": int}.get(self.kind, str)(text)
        except ValueError:
            raise ConfigError(var, text, self.expected) from None


def _convert(value: object, self: Any, field: attrs.Attribute[Any]) -> Any:
    """Check and convert a field's value; errors name ``section.key``."""
    return field.metadata[_META].coerce(f"{self.section}.{field.name}", value)


def _field(default: object, spec: _Spec) -> Any:
    """An attrs field whose value ``spec`` checks and converts, also for defaults."""
    check = attrs.Converter(_convert, takes_self=True, takes_field=True)
    return attrs.field(default=default, converter=check, metadata={_META: spec})


def _seconds(default: float, doc: str, *, zero_ok: bool = False) -> Any:
    """A duration in seconds: a finite number > 0, or >= 0 with ``zero_ok``."""
    expected = f"a finite number {'>=' if zero_ok else '>'} 0 (seconds)"
    return _field(default, _Spec("float", doc, expected, "seconds", zero_ok))


def _count(default: int, doc: str, unit: str, upbit_limit: int | None = None) -> Any:
    """A whole number >= 1, at most ``upbit_limit`` when Upbit documents one."""
    to = f"from 1 to {upbit_limit}" if upbit_limit else ">= 1"
    return _field(default, _Spec("int", doc, f"a whole number {to} ({unit})", unit, high=upbit_limit))


def _choice(default: str, doc: str, choices: tuple[str, ...], enum_type: Any = None) -> Any:
    expected = "one of " + ", ".join(map(repr, choices))
    return _field(default, _Spec("choice", doc, expected, choices=choices, enum_type=enum_type))


def _url(doc: str) -> Any:
    expected = "'' (the region's URL) or a ws:// or wss:// URL with a host and no user:password@"
    return _field("", _Spec("url", doc, expected))


def _nats_url(doc: str) -> Any:
    expected = "'' (none) or a nats:// or tls:// URL with a host and no user:password@"
    return _field("", _Spec("nats_url", doc, expected))


def _path(doc: str) -> Any:
    """A file's path, or '' for none (whether the file can be read is found out where it is opened)."""
    return _field("", _Spec("path", doc, "'' (none) or a file path"))


def _token(default: str, doc: str) -> Any:
    return _field(default, _Spec("token", doc, "1-64 letters, digits, '_' or '-'"))


def _words(doc: str) -> Any:
    expected = "a list of non-empty strings (in the environment: separated by spaces)"
    return _field((), _Spec("words", doc, expected))


def _secret(doc: str) -> Any:
    expected = f"a string; better, unset it and use {ACCESS_KEY_ENV} / {SECRET_KEY_ENV}"
    return _field(None, _Spec("secret", doc, expected))
