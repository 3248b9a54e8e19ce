"""Security S6: key files as a session opens them, another owner, and the writer under umask 000.

``test_settings.py`` covers ``Settings.load`` on modes 0644/0640/…, 0600 acceptance, a real chown
(when run as root) and ``write_settings`` under umask 0; here the same rules are checked where a
user meets them (``open_upbit_session(config=path)``), and the other-owner rule without root, by
simulation (stated in the test).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import upbit_stream as ub
from upbit_stream._config.secrets import Secret

from test_security_secrets import ACCESS, SECRET, assert_clean


def key_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "upbit_stream.toml"
    path.write_text(f'[auth]\naccess_key = "{ACCESS}"\nsecret_key = "{SECRET}"\n', encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640])
async def test_s6_a_session_refuses_a_key_file_others_can_read(tmp_path, mode):
    path = key_file(tmp_path, mode)
    with pytest.raises(ub.ConfigError) as info:
        async with ub.open_upbit_session(config=path):
            raise AssertionError("the session must not open")
    message = str(info.value)
    assert f"chmod 600 {path}" in message and stat.filemode(stat.S_IFREG | mode) in message
    assert "holds API keys" in message
    assert_clean(message, [])


async def test_s6_a_session_accepts_a_0600_key_file_of_its_user(tmp_path):
    path = key_file(tmp_path, 0o600)
    assert path.stat().st_uid == os.geteuid()
    async with ub.open_upbit_session(config=path) as session:
        assert session._credentials is not None
        assert session._credentials.access_key == Secret(ACCESS)


def test_s6_a_key_file_of_another_owner_is_refused_simulated(tmp_path, monkeypatch):
    # Simulated: the file belongs to us; os.geteuid is made to report another uid, which is how the
    # check sees a file owned by someone else. (test_settings.py chowns for real when run as root.)
    path = key_file(tmp_path, 0o600)
    owner = path.stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)
    with pytest.raises(ub.ConfigError, match=f"owned by uid {owner}") as info:
        ub.Settings.load(path, env={})
    assert f"current user (uid {owner + 1})" in str(info.value)
    assert_clean(str(info.value), [])
