"""The ``[connection] transport`` setting: its values, the environment, and a clear error for a bad one."""

from __future__ import annotations

import pytest

import upbit_stream as ub
from upbit_stream._config.settings_file import render_settings


@pytest.mark.parametrize(("key", "in_file", "in_env"), [("transport", "websockets", "trio-websocket"),
                                                        ("ca_file", "ca/company.pem", "/etc/company/ca.pem")])
def test_connection_settings_come_from_a_file_and_the_environment_wins(tmp_path, key, in_file, in_env):
    path = tmp_path / "c.toml"
    path.write_text(f'[connection]\n{key} = "{in_file}"\n')
    assert getattr(ub.Settings.load(path, env={}).connection, key) == in_file
    env = {f"UPBIT_STREAM_CONNECTION_{key.upper()}": in_env}
    assert getattr(ub.Settings.load(path, env=env).connection, key) == in_env
    assert getattr(ub.Settings().evolve(connection={key: in_file}).connection, key) == in_file


def test_bad_transport_names_the_key_and_the_choices():
    with pytest.raises(ub.ConfigError) as info:
        ub.Settings().evolve(connection={"transport": "aiohttp"})
    assert info.value.key == "connection.transport"
    assert str(info.value) == (
        "connection.transport = 'aiohttp' is invalid: expected one of 'websockets', 'trio-websocket'")


def test_bad_transport_in_the_environment_names_the_variable():
    with pytest.raises(ub.ConfigError) as info:
        ub.Settings.load(None, env={"UPBIT_STREAM_CONNECTION_TRANSPORT": "trio_websocket"})
    assert info.value.key == "UPBIT_STREAM_CONNECTION_TRANSPORT"
    assert "to set connection.transport" in str(info.value) and "'trio-websocket'" in str(info.value)


def test_the_settings_file_documents_the_transport():
    text = render_settings(ub.Settings().evolve(connection={"transport": "websockets"}))
    section = text[text.index("[connection]"):text.index("[heartbeat]")]
    assert "websockets (its sans-I/O protocol driven by upbit_stream, the faster one) or trio-websocket" in " ".join(
        line.lstrip("# ") for line in section.splitlines())
    assert '\ntransport = "websockets"\n' in section
