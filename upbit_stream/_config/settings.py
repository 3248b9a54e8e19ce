"""Configuration: validated, frozen ``Settings`` from TOML and the environment; the documented file."""

from __future__ import annotations

import difflib
import enum
import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs

from .._core.enums import Format
from .._core.errors import ConfigError
from .relay_settings import RelaySettings
from .secrets import ACCESS_KEY_ENV, SECRET_KEY_ENV, Secret
from .setting_fields import (
    _HIDDEN,
    _META,
    _choice,
    _count,
    _path,
    _seconds,
    _secret,
    _Shown,
    _Spec,
    _url,
)

__all__ = [
    "DEFAULT_PATH", "ENV_PREFIX", "AuthSettings", "ConnectionSettings", "HeartbeatSettings",
    "LimitsSettings", "LoggingSettings", "ReconnectSettings", "RelaySettings", "Settings", "SubscriptionSettings",
]

DEFAULT_PATH = "upbit_stream.toml"
ENV_PREFIX = "UPBIT_STREAM_"

_HOSTS = {"kr": "api.upbit.com", **{r: f"{r}-api.upbit.com" for r in ("sg", "id", "th")}}
@attrs.frozen
class ConnectionSettings:
    """Where and how to connect: endpoints, wire format, handshake timeout and transport."""

    section: ClassVar[str] = "connection"
    region: str = _choice(
        "kr", "Upbit region: kr (Korea), sg (Singapore), id (Indonesia) or th (Thailand). It picks "
        "the endpoint URLs unless public_url / private_url / info_url are set.", tuple(_HOSTS))
    public_url: str = _url(
        "Public (market data) endpoint. Empty means the region's wss://…/websocket/v1; set it to "
        "use another server, e.g. the fake exchange.")
    private_url: str = _url(
        "Private (myOrder, myAsset) endpoint. Empty means the region's "
        "wss://…/websocket/v1/private. API keys are sent here, so use wss:// for real servers.")
    info_url: str = _url(
        "Indicator endpoint (indicator, indicator_signal). Empty means private_url with /private "
        "replaced by /info when private_url is set, else the region's wss://…/websocket/v1/info. "
        "API keys are sent here too.")
    format: Format = _choice(
        "DEFAULT", "Wire format asked of Upbit: DEFAULT (full field names), SIMPLE (short names, "
        "less bandwidth), JSON_LIST or SIMPLE_LIST (a list per frame). Events are the same in all.",
        tuple(f.value for f in Format), Format)
    connect_timeout: float = _seconds(10.0, "Longest wait for a TCP + TLS + WebSocket handshake.")
    ca_file: str = _path(
        "PEM file of the certificate authorities trusted for wss:// (e.g. a company proxy's, or "
        "`upbit-stream serve --tls`'s). Empty means the system's (or SSL_CERT_FILE). Relative "
        "paths are read from the working directory.")
    transport: str = _choice(
        "websockets", "WebSocket library: websockets (its sans-I/O protocol driven by upbit_stream, "
        "the faster one) or trio-websocket. Both pass the same tests.",
        ("websockets", "trio-websocket"))
    max_message_size: int = _count(
        4194304, "Largest incoming frame accepted; a bigger one closes the connection.", "bytes")


@attrs.frozen
class HeartbeatSettings:
    """Liveness: WebSocket pings with a pong deadline, and a watchdog for public data that stops."""

    section: ClassVar[str] = "heartbeat"
    interval: float = _seconds(30.0, "Time between WebSocket pings on every connection.")
    timeout: float = _seconds(10.0, "Pong deadline: a connection whose pong is later is replaced.")
    stale_after: float = _seconds(
        90.0, "A public connection with realtime subscribers that receives no data for this long "
        "must prove it still streams (LIST_SUBSCRIPTIONS); it is replaced only if the answer is "
        "missing or wrong. 0 disables the check.", zero_ok=True)
    snapshot_patience: float = _seconds(
        15.0, "A subscriber still waiting for its first snapshot this long after it was requested "
        "makes health() degraded, naming the codes (say, a code Upbit accepts but never streams).")


@attrs.frozen
class ReconnectSettings:
    """Reconnection: capped exponential backoff with equal jitter; cooldowns after rate limiting."""

    section: ClassVar[str] = "reconnect"
    initial_delay: float = _seconds(0.5, "Upper bound of the first retry's random delay.")
    max_delay: float = _seconds(30.0, "Cap of the retry delay, which doubles per failed attempt.")
    throttled_cooldown: float = _seconds(
        60.0, "Wait after the server refuses a handshake with HTTP 429 (too many requests).")
    banned_cooldown: float = _seconds(
        600.0, "Wait after the server refuses a handshake with HTTP 418 (temporarily banned).")
    healthy_after: float = _seconds(
        5.0, "Data must flow this long before a connection counts as healthy and the backoff "
        "starts over.", zero_ok=True)

    def __attrs_post_init__(self) -> None:
        if self.initial_delay > self.max_delay:
            raise ConfigError("reconnect.initial_delay", self.initial_delay,
                              f"a number <= reconnect.max_delay ({self.max_delay:g})")


@attrs.frozen
class LimitsSettings:
    """Client-side rate limits; Upbit's documented limits are the largest values allowed."""

    section: ClassVar[str] = "limits"
    requests_per_second: int = _count(
        5, "Subscription requests per connection in any sliding 1 s window.",
        "requests per second", 5)
    requests_per_minute: int = _count(
        100, "Subscription requests per connection in any sliding 60 s window.",
        "requests per minute", 100)
    connects_per_second: int = _count(
        5, "Connection attempts of the whole session in any sliding 1 s window.",
        "connection attempts per second", 5)


@attrs.frozen
class SubscriptionSettings:
    """Subscriber defaults: request debouncing, channel buffer size and overflow policy."""

    section: ClassVar[str] = "subscription"
    debounce: float = _seconds(
        0.02, "Subscription changes within this window are merged into one request.", zero_ok=True)
    buffer: int = _count(256, "Default size of each subscriber's channel.", "events")
    overflow: str = _choice(
        "auto", "What a full channel does: latest keeps only the newest event per code; strict "
        "fails the subscription with SlowConsumerError; auto is latest for ticker, orderbook, "
        "candle and myAsset, strict for trade and myOrder.", ("auto", "latest", "strict"))


@attrs.frozen
class AuthSettings:
    """Private streams: the JWT algorithm and, optionally, the API keys (never shown or written)."""

    section: ClassVar[str] = "auth"
    jwt_algorithm: str = _choice(
        "HS512", "JWT signature algorithm for the private endpoint; Upbit recommends HS512.",
        ("HS512", "HS256"))
    access_key: Secret | None = _secret(
        f"Upbit access key. Prefer the {ACCESS_KEY_ENV} environment variable: a file holding a "
        "key must be readable only by its owner (chmod 600) or it is refused.")
    secret_key: Secret | None = _secret(
        f"Upbit secret key. Prefer the {SECRET_KEY_ENV} environment variable; the same file rule "
        "applies.")


@attrs.frozen
class LoggingSettings:
    """Logging through the standard logging module; market data is never logged per message."""

    section: ClassVar[str] = "logging"
    level: str = _choice(
        "WARNING", "Level of the upbit_stream logger while a session runs, unless the application "
        "set that logger's level itself.",
        ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET"))


_SECTIONS: tuple[type[Any], ...] = (
    ConnectionSettings, HeartbeatSettings, ReconnectSettings, LimitsSettings,
    SubscriptionSettings, AuthSettings, LoggingSettings, RelaySettings,
)
_BY_NAME: dict[str, type[Any]] = {cls.section: cls for cls in _SECTIONS}
_ENV_VARS: dict[str, tuple[str, attrs.Attribute[Any]]] = {
    f"{ENV_PREFIX}{cls.section}_{f.name}".upper(): (cls.section, f)
    for cls in _SECTIONS for f in attrs.fields(cls)
}


def _section(cls: type[Any]) -> Any:
    return attrs.field(factory=cls, validator=attrs.validators.instance_of(cls))


@attrs.frozen
class Settings:
    """Every setting of a session, validated when built; ``Settings()`` holds the defaults.

    Change settings with ``settings.evolve(heartbeat={"interval": 15})`` (checked like a file).
    """

    connection: ConnectionSettings = _section(ConnectionSettings)
    heartbeat: HeartbeatSettings = _section(HeartbeatSettings)
    reconnect: ReconnectSettings = _section(ReconnectSettings)
    limits: LimitsSettings = _section(LimitsSettings)
    subscription: SubscriptionSettings = _section(SubscriptionSettings)
    auth: AuthSettings = _section(AuthSettings)
    logging: LoggingSettings = _section(LoggingSettings)
    relay: RelaySettings = _section(RelaySettings)

    @property
    def public_url(self) -> str:
        """The public endpoint: ``connection.public_url``, or the region's when that is empty."""
        return self.connection.public_url or f"wss://{_HOSTS[self.connection.region]}/websocket/v1"

    @property
    def private_url(self) -> str:
        """The private endpoint: ``connection.private_url``, or the region's when that is empty."""
        host = _HOSTS[self.connection.region]
        return self.connection.private_url or f"wss://{host}/websocket/v1/private"

    @property
    def info_url(self) -> str:
        """The indicator endpoint: ``connection.info_url``; else beside ``private_url``; else the region's."""
        if self.connection.info_url:
            return self.connection.info_url
        private = self.connection.private_url
        if private:
            base = private.rstrip("/")
            return (base[: -len("/private")] if base.endswith("/private") else base) + "/info"
        return f"wss://{_HOSTS[self.connection.region]}/websocket/v1/info"

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Read a TOML file (default: ``./upbit_stream.toml`` if it exists), then the environment.

        ``UPBIT_STREAM_<SECTION>_<KEY>`` variables win over the file. A file holding API keys is
        refused unless it belongs to the current user and no one else may access it.
        """
        if path is None and os.path.isfile(DEFAULT_PATH):
            path = DEFAULT_PATH
        data: dict[str, Any] = {} if path is None else _read_file(Path(path))
        overrides = _env_overrides(env)
        for name, values in overrides.items():
            table = data.get(name, {})
            data[name] = {**table, **values} if isinstance(table, Mapping) else table
        source = "<defaults>" if path is None else os.fspath(path)
        return cls.from_mapping(data, source + (" + environment" if overrides else ""))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "<settings>") -> Settings:
        """Settings from ``{section: {key: value}}`` as parsed from TOML; missing keys default."""
        data = _mask_keys(data)
        try:
            return cls(**{name: _build(name, table) for name, table in data.items()})
        except ConfigError as exc:
            if exc.source is None:
                raise ConfigError(exc.key, exc.value, exc.expected, source) from None
            raise

    def evolve(self, **sections: Any) -> Settings:
        """A copy with sections replaced by section objects or changed by ``{key: value}`` maps."""
        sections = _mask_keys(sections)
        changed = {
            name: _build(name, value, getattr(self, name, None)) if isinstance(value, Mapping) else value
            for name, value in sections.items()
        }
        return attrs.evolve(self, **changed)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Every setting as a plain TOML value, ``{section: {key: value}}``, without API keys."""
        return {
            cls.section: {
                f.name: _plain(getattr(getattr(self, cls.section), f.name))
                for f in attrs.fields(cls) if f.metadata[_META].kind != "secret"
            }
            for cls in _SECTIONS
        }


def _plain(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value


def _unknown(label: str, name: str, what: str, known: list[str], shown: list[str]) -> ConfigError:
    """An error for a name that is not ``known``, suggesting the closest one."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {shown[known.index(close[0])]}?)" if close else ""
    return ConfigError(label, _Shown("<unknown name>"), f"{what}{hint}: {', '.join(shown)}")


def _build(name: str, table: object, base: Any = None) -> Any:
    """Section ``name`` made from ``table`` (over ``base``, if given), every name checked."""
    cls = _BY_NAME.get(name)
    if cls is None:
        homes = [c.section for c in _SECTIONS if name in attrs.fields_dict(c)]
        if homes:
            where = f"a section; put {name} under [{homes[0]}]"
            raise ConfigError(name, _Shown("<key outside any section>"), where)
        raise _unknown(name, name, "a section", list(_BY_NAME), [f"[{n}]" for n in _BY_NAME])
    if not isinstance(table, Mapping):
        raise ConfigError(name, _HIDDEN if name == "auth" else table, f"a table [{name}]")
    fields = attrs.fields_dict(cls)
    for key, value in table.items():
        if key not in fields:
            raise _unknown(f"{name}.{key}", key, f"a key of [{name}]", list(fields), list(fields))
        # Check here too: an error raised inside attrs' __init__ has a half-built ``self`` in its
        # frame, whose repr fails under ``TracebackException(capture_locals=True)`` on 3.11.
        fields[key].metadata[_META].coerce(f"{name}.{key}", value)
    return cls(**table) if base is None else attrs.evolve(base, **table)


def _mask_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with the [auth] strings wrapped in Secret (tracebacks may show locals)."""
    auth = data.get("auth")
    if not isinstance(auth, Mapping):
        return dict(data)
    hide = {k: Secret(v) if isinstance(v, str) and k != "jwt_algorithm" else v for k, v in auth.items()}
    return {**data, "auth": hide}


def _env_overrides(env: Mapping[str, str] | None) -> dict[str, dict[str, Any]]:
    """Parse and check every ``UPBIT_STREAM_<SECTION>_<KEY>`` variable; errors name the variable.

    ``os.environ`` (when ``env`` is None) is never bound to a local name, and key variables are
    refused without being read, so tracebacks that show locals cannot show a key.
    """
    out: dict[str, dict[str, Any]] = {}
    for var in [name for name in (os.environ if env is None else env) if name.startswith(ENV_PREFIX)]:
        if var not in _ENV_VARS:
            rest = var[len(ENV_PREFIX):]
            for name in _BY_NAME:
                if rest.startswith(f"{name.upper()}_"):
                    known = [v for v, (section, _) in _ENV_VARS.items() if section == name]
                    raise _unknown(var, var, f"a variable for [{name}]", known, known)
            continue  # other UPBIT_STREAM_* names (not settings) are left to their owners
        section, field = _ENV_VARS[var]
        spec: _Spec = field.metadata[_META]
        if spec.kind == "secret":
            keys = f"{ACCESS_KEY_ENV} / {SECRET_KEY_ENV}"
            raise ConfigError(var, _HIDDEN, f"no such variable: keys are read from {keys}")
        text = (os.environ if env is None else env)[var]
        try:
            value = spec.coerce(var, spec.parse_env(var, text))
        except ConfigError as exc:
            raise ConfigError(var, text, f"{exc.expected}, to set {section}.{field.name}") from None
        out.setdefault(section, {})[field.name] = value
    return out


def _read_file(path: Path) -> dict[str, Any]:
    """Parse a TOML file, refusing one that holds API keys but others could read or replace."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise ConfigError(str(path), _Shown("<unreadable>"), f"a readable settings file ({exc.strerror})") from None
    with file:
        info = os.fstat(file.fileno())
        try:  # the text is never bound to a local name here: tracebacks may show locals
            data = _mask_keys(tomllib.load(file))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(str(path), _Shown("<unreadable>"), f"a UTF-8 TOML file ({exc})") from None
    auth = data.get("auth")
    if isinstance(auth, Mapping) and (auth.get("access_key") or auth.get("secret_key")):
        _check_private(path, info)
    return data


def _check_private(path: Path, info: os.stat_result) -> None:
    """Refuse a key file owned by another user or open to group/others, as netrc and OpenSSH do."""
    if not hasattr(os, "geteuid"):
        return  # no POSIX owner or mode bits (Windows)
    why = "since it holds API keys (or move the keys to the environment)"
    if info.st_uid != os.geteuid():
        raise ConfigError(str(path), _Shown(f"<owned by uid {info.st_uid}>"),
                          f"a file owned by the current user (uid {os.geteuid()}) {why}")
    if info.st_mode & 0o077:
        raise ConfigError(str(path), _Shown(stat.filemode(info.st_mode)),
                          f"a file only its owner can access {why}: run `chmod 600 {path}`")
