"""The settings file as text: the documented ``upbit_stream.toml``, its writer, and the README table."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import attrs
import tomli_w

from .secrets import ACCESS_KEY_ENV, SECRET_KEY_ENV
from .setting_fields import _META, _Spec
from .settings import _SECTIONS, DEFAULT_PATH, ENV_PREFIX, Settings, _plain

__all__ = ["reference_table", "render_settings", "write_settings"]


_HEADER = f"""\
# upbit_stream configuration ({DEFAULT_PATH}).
#
# Every key is optional: a missing key takes the default shown in its comment. Durations are in
# seconds. An environment variable {ENV_PREFIX}<SECTION>_<KEY> overrides a key, for example
# {ENV_PREFIX}HEARTBEAT_INTERVAL=15.
#
# API keys belong in the environment: {ACCESS_KEY_ENV} and {SECRET_KEY_ENV}. They are never
# written to this file; if you add them to [auth] yourself, the file must be readable only by
# you (chmod 600) or it is refused.
#
# Write a fresh copy with: upbit-stream config init
"""


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, 96, initial_indent="# ", subsequent_indent="# ")


def _toml(name: str, value: object) -> str:
    return tomli_w.dumps({name: _plain(value)}).rstrip("\n")


def render_settings(settings: Settings | None = None) -> str:
    """The documented TOML text of ``settings`` (default: the defaults), without API keys."""
    settings = Settings() if settings is None else settings
    lines = _HEADER.splitlines()
    for cls in _SECTIONS:
        lines += ["", *_comment(cls.__doc__ or ""), f"[{cls.section}]"]
        for field in attrs.fields(cls):
            spec: _Spec = field.metadata[_META]
            lines += ["", *_comment(spec.doc)]
            if spec.kind == "secret":
                lines += ["# Default: not set.", f'# {field.name} = ""']
                continue
            unit = f" ({spec.unit})" if spec.unit else ""
            lines.append(f"# Default: {_toml(field.name, field.default).partition(' = ')[2]}{unit}")
            lines.append(_toml(field.name, getattr(getattr(settings, cls.section), field.name)))
    return "\n".join(lines) + "\n"


def write_settings(
    path: str | os.PathLike[str], settings: Settings | None = None, *, force: bool = False
) -> Path:
    """Write ``render_settings(settings)`` to a new file of mode 0600; replace one only if ``force``."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | (os.O_TRUNC if force else os.O_EXCL), 0o600)
    except FileExistsError:
        message = f"{path} exists; use force=True (CLI: --force) to replace it"
        raise FileExistsError(message) from None
    with open(fd, "w", encoding="utf-8", newline="\n") as file:
        if hasattr(os, "fchmod"):
            os.fchmod(file.fileno(), 0o600)  # a file replaced with force would keep its old mode
        file.write(render_settings(settings))
    return path


def reference_table() -> str:
    """A Markdown table of every setting (key, default, meaning) for the README."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    defaults = Settings()
    for cls in _SECTIONS:
        for field in attrs.fields(cls):
            spec: _Spec = field.metadata[_META]
            if spec.kind == "secret":
                default = "not set"
            else:
                value = _toml(field.name, getattr(getattr(defaults, cls.section), field.name)).partition(" = ")[2]
                unit = " s" if spec.unit == "seconds" else f" {spec.unit}" if spec.unit else ""
                default = f"`{value}`{unit}"
            env = f"{ENV_PREFIX}{cls.section}_{field.name}".upper()
            rows.append(f"| `{cls.section}.{field.name}` (`{env}`) | {default} | {spec.doc.replace('|', '/')} |")
    return "\n".join(rows) + "\n"
