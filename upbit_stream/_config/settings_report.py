"""``upbit-stream config show``: each setting in effect, where its value came from, and whether keys were found."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from .secrets import ACCESS_KEY_ENV, SECRET_KEY_ENV, Credentials
from .settings import _SECTIONS, DEFAULT_PATH, ENV_PREFIX, Settings, _read_file
from .settings_file import _toml

__all__ = ["settings_report"]


def settings_report(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> str:
    """The settings in effect as TOML lines, each commented with its source (default, file or variable).

    Raises ``ConfigError`` as ``Settings.load`` does. API keys are never shown: only where they were found.
    """
    environ = os.environ if env is None else env
    file = Path(path) if path is not None else Path(DEFAULT_PATH) if Path(DEFAULT_PATH).is_file() else None
    settings = Settings.load(file, env=environ)
    from_file = _read_file(file) if file is not None else {}
    lines = [f"# settings in effect: defaults{f', then {file}' if file else ''}, then {ENV_PREFIX}* variables"]
    for cls in _SECTIONS:
        lines += ["", f"[{cls.section}]"]
        section = getattr(settings, cls.section)
        for field in attrs.fields(cls):
            if cls.section == "auth" and field.name.endswith("_key"):
                continue  # reported below, never printed
            variable = f"{ENV_PREFIX}{cls.section.upper()}_{field.name.upper()}"
            if variable in environ:
                source = f"from {variable}"
            elif field.name in from_file.get(cls.section, {}):
                source = f"from {file}"
            else:
                source = "default"
            value = getattr(section, field.name)
            lines.append(f"{_toml(field.name, value)}  # {source}")
    lines += ["", "# endpoints in effect", f"#   public:  {settings.public_url}", f"#   private: {settings.private_url}",
              f"#   info:    {settings.info_url}", "", f"# API keys: {_keys_found(settings, environ)}"]
    return "\n".join(lines) + "\n"


def _keys_found(settings: Settings, environ: Mapping[str, str]) -> str:
    try:
        found = Credentials.resolve(None, None, settings.auth, environ)
    except Exception as exc:  # noqa: BLE001 - an unusable pair is reported, not raised: this is a report
        return f"unusable ({exc})"
    if found is None:
        return (f"not found: set {ACCESS_KEY_ENV} and {SECRET_KEY_ENV} for private streams "
                "(public streams need none)")
    if environ.get(ACCESS_KEY_ENV) or environ.get(SECRET_KEY_ENV):
        return f"found in {ACCESS_KEY_ENV} / {SECRET_KEY_ENV} (not shown)"
    return "found in the [auth] section of the settings file (not shown)"
