"""Tests for settings loading, validation, rendering and secret handling."""

from __future__ import annotations

import copy
import math
import os
import pickle
import stat
import traceback
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from upbit_stream._core.enums import Format
from upbit_stream._core.errors import AuthenticationError, ConfigError
from upbit_stream._config.secrets import Credentials, Secret
from upbit_stream._config.settings import (
    AuthSettings,
    HeartbeatSettings,
    Settings,
)
from upbit_stream._config.settings_file import reference_table, render_settings, write_settings

ROOT = Path(__file__).resolve().parent.parent
ACCESS = "AKxq7Access0123456789abcdefghijklmnopqrst"
SECRET = "SKzz9Secret0123456789abcdefghijklmnopqrst"
NAN, INF = math.nan, math.inf

SECONDS = [0, 0.0, -1, -0.5, NAN, INF, -INF, True, False, "30", None, [1]]
SECONDS_ZERO_OK = [-1, -0.001, NAN, INF, True, "1", None]
COUNT = [0, -1, 1.5, 5.0, True, "5", NAN, None]
# Every key and values it must refuse; test_bad_values_cover_every_key keeps this complete.
BAD: dict[str, list[object]] = {
    "connection.region": ["KR", "us", "", 1, True, None],
    "connection.public_url": ["http://x.test", "api.upbit.com", "wss://", "wss://u:p@x.test/", 1],
    "connection.private_url": ["https://x.test", "x.test/private", "ws:/x", 0, None],
    "connection.info_url": ["https://x.test", "x.test/private", "ws:/x", 0, None],
    "connection.format": ["simple", "JSON", "", 1, None],
    "connection.connect_timeout": SECONDS,
    "connection.ca_file": [1, None, True, ["a.pem"]],
    "connection.transport": ["Websockets", "trio_websocket", "aiohttp", "", 1, None],
    "connection.max_message_size": COUNT,
    "heartbeat.interval": SECONDS,
    "heartbeat.timeout": SECONDS,
    "heartbeat.stale_after": SECONDS_ZERO_OK,
    "heartbeat.snapshot_patience": SECONDS,
    "reconnect.initial_delay": SECONDS,
    "reconnect.max_delay": SECONDS,
    "reconnect.throttled_cooldown": SECONDS,
    "reconnect.banned_cooldown": SECONDS,
    "reconnect.healthy_after": SECONDS_ZERO_OK,
    "limits.requests_per_second": [*COUNT, 6, 1000],
    "limits.requests_per_minute": [*COUNT, 101],
    "limits.connects_per_second": [*COUNT, 6],
    "subscription.debounce": SECONDS_ZERO_OK,
    "subscription.buffer": COUNT,
    "subscription.overflow": ["Latest", "drop", "", 1, None],
    "auth.jwt_algorithm": ["hs512", "RS256", "none", 512, None],
    "auth.access_key": [1, True, 1.5, [ACCESS], {"k": ACCESS}],
    "auth.secret_key": [1, False, 2.5, [SECRET]],
    "logging.level": ["warning", "TRACE", 30, None],
    "relay.nats_url": ["ws://x.test", "nats.internal:4222", "nats://u:p@x.test", 1, None],
    "relay.streams": [[""], ["ok", 1], [" "], 5, None],
    "relay.region": ["", "k r", "a.b", "x" * 65, 1, None],
    "relay.account": ["", "main account", "*", 2, None],
    "relay.max_age": SECONDS,
    "relay.max_bytes": COUNT,
    "relay.window": COUNT,
}
CASES = [pytest.param(key, value, id=f"{key}={value!r}") for key, values in BAD.items() for value in values]


def all_keys() -> set[str]:
    defaults = Settings()
    return {
        f"{s.name}.{f.name}" for s in attrs.fields(Settings) for f in attrs.fields(type(getattr(defaults, s.name)))
    }


def nested(key: str, value: object) -> dict[str, dict[str, object]]:
    section, name = key.split(".")
    return {section: {name: value}}


def secret_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(f'[auth]\naccess_key = "{ACCESS}"\nsecret_key = "{SECRET}"\n')
    path.chmod(mode)
    return path


def assert_no_secret(text: str) -> None:
    for value in (ACCESS, SECRET):
        assert value not in text and value[:8] not in text


# --- defaults and the documented file -------------------------------------------------------------


def test_defaults() -> None:
    s = Settings()
    assert s.connection.region == "kr"
    assert s.connection.format is Format.DEFAULT
    assert s.public_url == "wss://api.upbit.com/websocket/v1"
    assert s.private_url == "wss://api.upbit.com/websocket/v1/private"
    assert (s.heartbeat.interval, s.heartbeat.timeout, s.heartbeat.stale_after) == (30.0, 10.0, 90.0)
    assert (s.reconnect.initial_delay, s.reconnect.max_delay) == (0.5, 30.0)
    assert (s.reconnect.throttled_cooldown, s.reconnect.banned_cooldown) == (60.0, 600.0)
    assert s.reconnect.healthy_after == 5.0
    assert attrs.astuple(s.limits) == (5, 100, 5)
    assert (s.subscription.debounce, s.subscription.buffer, s.subscription.overflow) == (0.02, 256, "auto")
    assert s.auth == AuthSettings("HS512", None, None)
    assert s.logging.level == "WARNING"
    assert s.connection.max_message_size == 4 * 1024 * 1024
    assert Settings.from_mapping({}) == s == Settings.from_mapping(s.to_dict())


def test_repo_file_is_the_rendered_defaults() -> None:
    path = ROOT / "upbit_stream.toml"
    assert path.read_text(encoding="utf-8") == render_settings(), "regenerate it with render_settings()"
    assert Settings.load(path, env={}) == Settings()


def test_readme_configuration_reference_lists_every_setting_as_the_code_declares_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- settings reference: start -->\n", "<!-- settings reference: end -->"
    assert start in readme and end in readme
    table = readme.split(start, 1)[1].split(end, 1)[0]
    assert table == reference_table(), "regenerate the README table with _settings_file.reference_table()"


def test_rendered_file_documents_every_key() -> None:
    text = render_settings()
    for key in all_keys():
        section, name = key.split(".")
        assert f"[{section}]" in text
        if section == "auth" and name.endswith("_key"):
            assert f'# {name} = ""' in text  # a commented placeholder only
        else:
            assert f"\n{name} = " in text
    assert text.count("# Default: ") == len(all_keys())


@pytest.mark.parametrize("region", ["kr", "sg", "id", "th"])
def test_region_urls(region: str) -> None:
    s = Settings().evolve(connection={"region": region})
    host = "api.upbit.com" if region == "kr" else f"{region}-api.upbit.com"
    assert s.public_url == f"wss://{host}/websocket/v1"
    assert s.private_url == f"wss://{host}/websocket/v1/private"
    explicit = s.evolve(connection={"public_url": "ws://127.0.0.1:9000/v1", "private_url": "wss://p.test/x"})
    assert (explicit.public_url, explicit.private_url) == ("ws://127.0.0.1:9000/v1", "wss://p.test/x")
    assert s.info_url == f"wss://{host}/websocket/v1/info"


def test_info_url_follows_an_explicit_private_url_so_keys_never_leave_for_the_region() -> None:
    fake = Settings().evolve(connection={"private_url": "ws://127.0.0.1:9000/websocket/v1/private/"})
    assert fake.info_url == "ws://127.0.0.1:9000/websocket/v1/info"
    other = Settings().evolve(connection={"private_url": "wss://p.test/x"})
    assert other.info_url == "wss://p.test/x/info"
    both = fake.evolve(connection={"info_url": "wss://i.test/info"})
    assert both.info_url == "wss://i.test/info"


def test_ints_are_accepted_for_floats_and_formats_become_enums() -> None:
    s = Settings.from_mapping({"heartbeat": {"interval": 15}, "connection": {"format": "SIMPLE"}})
    assert s.heartbeat.interval == 15.0 and type(s.heartbeat.interval) is float
    assert s.connection.format is Format.SIMPLE


# --- validation -----------------------------------------------------------------------------------


def test_bad_values_cover_every_key() -> None:
    assert set(BAD) == all_keys()


@pytest.mark.parametrize(("key", "value"), CASES)
def test_bad_value_names_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping(nested(key, value), source="test.toml")
    err = info.value
    assert err.key == key
    assert str(err).startswith(f"{key} = ")
    assert "expected" in str(err) and err.expected
    assert err.source == "test.toml" and str(err).endswith(" (in test.toml)")
    if (key.startswith("auth.") and key.endswith("_key")) or "@" in str(value):
        assert str(value) not in str(err) and err.value is not value  # may hold a credential
    else:
        assert repr(value) in str(err)


@pytest.mark.parametrize("key", ["limits.requests_per_second", "limits.connects_per_second"])
def test_limits_above_upbit_say_so(key: str) -> None:
    with pytest.raises(ConfigError, match=r"6 exceeds Upbit's documented limit of 5 "):
        Settings.from_mapping(nested(key, 6))
    with pytest.raises(ConfigError, match=r"101 exceeds Upbit's documented limit of 100 requests per minute"):
        Settings.from_mapping(nested("limits.requests_per_minute", 101))


def test_zero_is_allowed_where_it_means_something() -> None:
    s = Settings.from_mapping(
        {"heartbeat": {"stale_after": 0}, "subscription": {"debounce": 0}, "reconnect": {"healthy_after": 0}}
    )
    assert (s.heartbeat.stale_after, s.subscription.debounce, s.reconnect.healthy_after) == (0.0, 0.0, 0.0)
    assert Settings.from_mapping(nested("limits.requests_per_second", 1)).limits.requests_per_second == 1


def test_initial_delay_must_not_exceed_max_delay() -> None:
    with pytest.raises(ConfigError, match=r"^reconnect\.initial_delay = 40\.0 .*reconnect\.max_delay"):
        Settings.from_mapping({"reconnect": {"initial_delay": 40}})
    assert Settings.from_mapping({"reconnect": {"initial_delay": 5, "max_delay": 5}}).reconnect.max_delay == 5.0


def test_sections_validate_when_built_directly() -> None:
    with pytest.raises(ConfigError, match=r"^heartbeat\.interval = -1 "):
        HeartbeatSettings(interval=-1)
    with pytest.raises(ConfigError, match=r"^heartbeat\.timeout = "):
        attrs.evolve(Settings().heartbeat, timeout=math.nan)


def test_nan_and_inf_from_a_file(tmp_path: Path) -> None:
    for literal in ("nan", "inf", "-inf"):
        path = tmp_path / "bad.toml"
        path.write_text(f"[heartbeat]\ninterval = {literal}\n")
        with pytest.raises(ConfigError, match=r"^heartbeat\.interval = ") as info:
            Settings.load(path, env={})
        assert info.value.source == str(path) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"heartbeat": {"intervall": 1}}, r"^heartbeat\.intervall = .*did you mean interval\?"),
        ({"limits": {"request_per_second": 1}}, r"did you mean requests_per_second\?"),
        ({"hearbeat": {"interval": 1}}, r"^hearbeat = .*did you mean \[heartbeat\]\?"),
        ({"logs": {}}, r"^logs = .*a section.*\[logging\]"),
        ({"interval": 5}, r"^interval = .*put interval under \[heartbeat\]"),
        ({"heartbeat": 5}, r"^heartbeat = 5 is invalid: expected a table \[heartbeat\]"),
    ],
)
def test_unknown_names_get_suggestions(data: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Settings.from_mapping(data)


def test_unknown_key_never_echoes_its_value() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping({"auth": {"acess_key": ACCESS}})
    assert "did you mean access_key?" in str(info.value)
    assert_no_secret(str(info.value))


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[heartbeat\ninterval = 1\n")
    with pytest.raises(ConfigError, match="TOML") as info:
        Settings.load(path, env={})
    assert info.value.key == str(path)


def test_evolve() -> None:
    s = Settings().evolve(heartbeat={"interval": 15}, limits={"requests_per_minute": 50})
    assert (s.heartbeat.interval, s.limits.requests_per_minute, s.heartbeat.timeout) == (15.0, 50, 10.0)
    assert s.evolve(heartbeat=HeartbeatSettings()).heartbeat == HeartbeatSettings()
    with pytest.raises(ConfigError, match="did you mean interval"):
        Settings().evolve(heartbeat={"intervals": 1})
    with pytest.raises(ConfigError, match=r"^heartbeat\.interval = 0 "):
        Settings().evolve(heartbeat={"interval": 0})
    with pytest.raises(ConfigError, match=r"did you mean \[heartbeat\]"):
        Settings().evolve(heartbeats={})


# --- loading and the environment ------------------------------------------------------------------


def test_load_without_path_uses_the_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings.load(env={}) == Settings()
    (tmp_path / "upbit_stream.toml").write_text("[heartbeat]\ninterval = 12\n")
    assert Settings.load(env={}).heartbeat.interval == 12.0
    with pytest.raises(ConfigError, match="No such file"):
        Settings.load(tmp_path / "missing.toml", env={})


def test_environment_overrides_file_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[heartbeat]\ninterval = 12\ntimeout = 4\n[connection]\nregion = "sg"\n')
    env = {
        "UPBIT_STREAM_HEARTBEAT_INTERVAL": "15",
        "UPBIT_STREAM_LIMITS_REQUESTS_PER_MINUTE": "60",
        "UPBIT_STREAM_CONNECTION_FORMAT": "SIMPLE_LIST",
        "UPBIT_STREAM_SUBSCRIPTION_DEBOUNCE": "0.05",
        "UPBIT_STREAM_CONFIG": "/not/a/setting",  # other UPBIT_STREAM_* names are ignored
        "HOME": "/root",
    }
    s = Settings.load(path, env=env)
    assert (s.heartbeat.interval, s.heartbeat.timeout) == (15.0, 4.0)
    assert s.limits.requests_per_minute == 60
    assert s.connection.format is Format.SIMPLE_LIST and s.connection.region == "sg"
    assert s.subscription.debounce == 0.05
    assert Settings.load(None, env={"UPBIT_STREAM_LOGGING_LEVEL": "DEBUG"}).logging.level == "DEBUG"


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPBIT_STREAM_HEARTBEAT_TIMEOUT", "3.5")
    assert Settings.load().heartbeat.timeout == 3.5


@pytest.mark.parametrize(
    ("var", "text"),
    [
        ("UPBIT_STREAM_HEARTBEAT_INTERVAL", "abc"),
        ("UPBIT_STREAM_HEARTBEAT_INTERVAL", "-1"),
        ("UPBIT_STREAM_HEARTBEAT_INTERVAL", "nan"),
        ("UPBIT_STREAM_HEARTBEAT_STALE_AFTER", "inf"),
        ("UPBIT_STREAM_LIMITS_REQUESTS_PER_SECOND", "6"),
        ("UPBIT_STREAM_LIMITS_REQUESTS_PER_SECOND", "2.5"),
        ("UPBIT_STREAM_SUBSCRIPTION_BUFFER", "0"),
        ("UPBIT_STREAM_CONNECTION_REGION", "us"),
        ("UPBIT_STREAM_CONNECTION_PUBLIC_URL", "http://x.test"),
    ],
)
def test_bad_environment_value_names_the_variable(var: str, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(None, env={var: text})
    assert info.value.key == var
    assert str(info.value).startswith(f"{var} = {text!r} is invalid")
    section, key = var.removeprefix("UPBIT_STREAM_").lower().split("_", 1)
    assert f"{section}.{key}" in str(info.value)


def test_unknown_environment_variable_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"did you mean UPBIT_STREAM_HEARTBEAT_INTERVAL\?"):
        Settings.load(None, env={"UPBIT_STREAM_HEARTBEAT_INTERVALL": "5"})


def test_keys_are_not_taken_from_settings_variables() -> None:
    with pytest.raises(ConfigError, match="UPBIT_ACCESS_KEY") as info:
        Settings.load(None, env={"UPBIT_STREAM_AUTH_ACCESS_KEY": ACCESS})
    assert_no_secret(str(info.value))


# --- secrets --------------------------------------------------------------------------------------


def test_secret_never_shows_its_value() -> None:
    s = Secret(SECRET)
    for text in (repr(s), str(s), f"{s}", f"{s!r}", f"{s:>60}", "%s %r" % (s, s), format(s, "")):
        assert_no_secret(text)
    assert repr(s) == str(s) == repr(Secret("")) == repr(Secret("x")) == "Secret('****')"
    assert s.reveal() == SECRET
    assert s == Secret(SECRET) and s != Secret(ACCESS) and s != SECRET
    assert hash(s) == hash(Secret(SECRET))
    assert bool(s) and not Secret("")
    assert not hasattr(s, "__dict__")
    with pytest.raises(AttributeError):
        s._value = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Secret(123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "leak",
    [pickle.dumps, lambda o: pickle.dumps(o, protocol=0), copy.deepcopy],
    ids=["pickle", "pickle-0", "deepcopy"],
)
def test_secret_holders_refuse_pickling(leak: object) -> None:
    creds = Credentials(ACCESS, SECRET)
    settings = Settings.from_mapping({"auth": {"access_key": ACCESS, "secret_key": SECRET}})
    for obj in (Secret(SECRET), creds, settings):
        with pytest.raises(TypeError, match="cannot be pickled or copied"):
            leak(obj)  # type: ignore[operator]
    with pytest.raises(TypeError):
        copy.copy(Secret(SECRET))
    assert copy.copy(creds) == creds  # a shallow copy shares the same Secret objects


def test_settings_and_credentials_reprs_are_masked() -> None:
    settings = Settings.from_mapping({"auth": {"access_key": ACCESS, "secret_key": SECRET}})
    creds = Credentials(ACCESS, SECRET)
    for text in (repr(settings), str(settings), repr(settings.auth), repr(creds), str(creds)):
        assert_no_secret(text)
    assert "Secret('****')" in repr(creds)
    assert_no_secret(repr(settings.to_dict()) + render_settings(settings))
    assert "access_key" not in settings.to_dict()["auth"]


def test_traceback_locals_are_masked() -> None:
    def sign(credentials: Credentials) -> None:
        key = credentials.secret_key
        settings = Settings.from_mapping({"auth": {"access_key": ACCESS, "secret_key": SECRET}})
        raise RuntimeError(f"signing failed with {key} under {settings.auth}")

    try:
        sign(Credentials(ACCESS, SECRET))
    except RuntimeError as exc:
        text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert "key = Secret('****')" in text
    assert_no_secret(text)


def traceback_with_locals(call: Callable[[], object]) -> str:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - any failure is what we want to format
        return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    raise AssertionError("expected a failure")


def test_failures_never_show_keys_in_traceback_locals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPBIT_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("UPBIT_SECRET_KEY", SECRET)
    broken = tmp_path / "broken.toml"
    broken.write_bytes(f'[auth]\naccess_key = "{ACCESS}"\nsecret_key = "{SECRET}"\n[x\n'.encode())
    binary = tmp_path / "binary.toml"
    binary.write_bytes(f'[auth]\naccess_key = "{ACCESS}"\n# \xff\n'.encode("latin-1"))
    # The lambdas use only globals and paths: their own closures must not hold a key.
    calls: list[Callable[[], object]] = [
        lambda: Settings.load(secret_file(tmp_path, 0o644)),
        lambda: Settings.load(broken),
        lambda: Settings.load(binary),
        lambda: Settings.from_mapping({"auth": {"access_key": ACCESS, "jwt_algorithm": "RS256"}}),
        lambda: Settings.from_mapping({"auth": {"acess_key": ACCESS}}),
        lambda: Settings.from_mapping({"auth": {"secret_key": SECRET}, "heartbeat": {"interval": -1}}),
        lambda: Settings().evolve(auth={"access_key": ACCESS, "jwt_algorithm": "none"}),
        lambda: Credentials.resolve(SECRET, None, None, {}),
    ]
    for call in calls:
        assert_no_secret(traceback_with_locals(call))
    with monkeypatch.context() as patch:
        patch.setenv("UPBIT_STREAM_HEARTBEAT_INTERVAL", "soon")
        assert_no_secret(traceback_with_locals(lambda: Settings.load()))
        patch.setenv("UPBIT_STREAM_AUTH_SECRET_KEY", SECRET)
        assert_no_secret(traceback_with_locals(lambda: Settings.load()))
    monkeypatch.delenv("UPBIT_SECRET_KEY")
    assert_no_secret(traceback_with_locals(lambda: Credentials.resolve(None, None, None, os.environ)))


def test_credentials_precedence() -> None:
    env = {"UPBIT_ACCESS_KEY": "env-a", "UPBIT_SECRET_KEY": "env-s"}
    auth = Settings.from_mapping({"auth": {"access_key": "file-a", "secret_key": "file-s"}}).auth
    got = Credentials.resolve("arg-a", "arg-s", auth, env)
    assert got == Credentials("arg-a", "arg-s")
    assert Credentials.resolve(None, None, auth, env) == Credentials("env-a", "env-s")
    assert Credentials.resolve(None, "", auth, {"UPBIT_ACCESS_KEY": ""}) == Credentials("file-a", "file-s")
    assert Credentials.resolve(None, None, Settings().auth, {}) is None
    assert Credentials.resolve(None, None, None, {}) is None
    assert Credentials.resolve(Secret("a"), Secret("s"), None, {}).access_key.reveal() == "a"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "env", "file", "missing"),
    [
        ((ACCESS, None), {}, {}, "secret_key"),
        ((None, SECRET), {"UPBIT_ACCESS_KEY": "x", "UPBIT_SECRET_KEY": "y"}, {}, "access_key"),
        ((None, None), {"UPBIT_ACCESS_KEY": ACCESS}, {}, "secret_key"),
        ((None, None), {"UPBIT_SECRET_KEY": SECRET}, {"access_key": "f", "secret_key": "g"}, "access_key"),
        ((None, None), {}, {"secret_key": SECRET}, "access_key"),
    ],
)
def test_half_a_key_pair_is_an_error(
    args: tuple[str | None, str | None], env: dict[str, str], file: dict[str, str], missing: str
) -> None:
    auth = Settings.from_mapping({"auth": file}).auth
    with pytest.raises(AuthenticationError) as info:
        Credentials.resolve(*args, auth, env)
    message = str(info.value)
    assert f"but {missing} was not" in message
    assert "UPBIT_ACCESS_KEY" in message and "UPBIT_SECRET_KEY" in message
    assert "open_upbit_session(access_key=..., secret_key=...)" in message
    assert_no_secret(message)


# --- file security --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620, 0o601])
def test_key_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = secret_file(tmp_path, mode)
    with pytest.raises(ConfigError) as info:
        Settings.load(path, env={})
    message = str(info.value)
    assert str(path) in message and f"chmod 600 {path}" in message
    assert stat.filemode(stat.S_IFREG | mode) in message
    assert_no_secret(message)


def test_private_key_file_is_accepted(tmp_path: Path) -> None:
    settings = Settings.load(secret_file(tmp_path, 0o600), env={})
    assert settings.auth.access_key == Secret(ACCESS) and settings.auth.secret_key == Secret(SECRET)
    creds = Credentials.resolve(None, None, settings.auth, {})
    assert creds is not None and creds.secret_key.reveal() == SECRET
    assert Settings.load(secret_file(tmp_path, 0o400), env={}).auth.access_key is not None


def test_file_without_keys_may_be_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "public.toml"
    path.write_text('[heartbeat]\ninterval = 20\n[auth]\njwt_algorithm = "HS256"\naccess_key = ""\n')
    path.chmod(0o644)
    settings = Settings.load(path, env={})
    assert settings.heartbeat.interval == 20.0 and settings.auth.access_key is None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_key_file_of_another_user_is_refused(tmp_path: Path) -> None:
    path = secret_file(tmp_path, 0o600)
    os.chown(path, 65534, -1)
    with pytest.raises(ConfigError, match="owned by uid 65534") as info:
        Settings.load(path, env={})
    assert str(path) in str(info.value) and "current user" in str(info.value)
    assert_no_secret(str(info.value))


# --- writing --------------------------------------------------------------------------------------


def test_write_settings_creates_0600_even_with_umask_0(tmp_path: Path) -> None:
    path = tmp_path / "upbit_stream.toml"
    old = os.umask(0)
    try:
        assert write_settings(path) == path
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == render_settings()


def test_write_settings_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "upbit_stream.toml"
    path.write_text("# mine\n")
    path.chmod(0o644)
    with pytest.raises(FileExistsError, match="force=True"):
        write_settings(path)
    assert path.read_text() == "# mine\n"
    custom = Settings().evolve(heartbeat={"interval": 7})
    write_settings(path, custom, force=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings.load(path, env={}) == custom


def test_render_load_round_trip(tmp_path: Path) -> None:
    custom = Settings.from_mapping(
        {
            "connection": {"region": "th", "public_url": "ws://127.0.0.1:8765/websocket/v1",
                           "format": "SIMPLE", "connect_timeout": 2.5, "max_message_size": 65536},
            "heartbeat": {"interval": 5, "timeout": 1.25, "stale_after": 0},
            "reconnect": {"initial_delay": 0.1, "max_delay": 3, "throttled_cooldown": 61.5,
                          "banned_cooldown": 1200, "healthy_after": 0},
            "limits": {"requests_per_second": 4, "requests_per_minute": 90, "connects_per_second": 2},
            "subscription": {"debounce": 0, "buffer": 1, "overflow": "strict"},
            "auth": {"jwt_algorithm": "HS256", "access_key": ACCESS, "secret_key": SECRET},
            "logging": {"level": "DEBUG"},
        }
    )
    path = write_settings(tmp_path / "custom.toml", custom)
    assert_no_secret(path.read_text())
    loaded = Settings.load(path, env={})
    assert loaded == attrs.evolve(custom, auth=AuthSettings("HS256"))
    assert loaded.to_dict() == custom.to_dict()
    assert Settings.from_mapping(custom.to_dict()) == loaded


def test_a_missing_settings_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=r"missing\.toml.*a readable settings file \(No such file or directory\)"):
        Settings.load(missing, env={})
