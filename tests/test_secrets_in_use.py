"""Credentials in use: JWTs per attempt, no key-length warnings, nothing secret in logs or reprs."""

from __future__ import annotations

import ast
import logging
import pathlib
import warnings

import jwt
import trio

import upbit_stream as ub
from upbit_stream._config.auth import authorization_header
from upbit_stream._config.secrets import Credentials
from upbit_stream.testing import open_fake_upbit

from session_helpers import memory_connector, settings_for

ACCESS = "A" * 40
SECRET = "s3cr3t-" + "x" * 33  # Upbit secret keys are 40 characters


def test_a_fresh_hs512_token_per_attempt_without_warnings():
    creds = Credentials(ACCESS, SECRET)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        headers = [authorization_header(creds) for _ in range(50)]
    payloads = []
    for name, value in headers:
        assert name == "Authorization" and value.startswith("Bearer ")
        token = value.removeprefix("Bearer ")
        assert jwt.get_unverified_header(token)["alg"] == "HS512"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payloads.append(jwt.decode(token, SECRET, algorithms=["HS512"]))
    assert all(set(p) == {"access_key", "nonce"} and p["access_key"] == ACCESS for p in payloads)
    assert len({p["nonce"] for p in payloads}) == 50
    assert jwt.get_unverified_header(authorization_header(creds, "HS256")[1][7:])["alg"] == "HS256"


async def test_debug_logs_and_reprs_never_show_keys_or_tokens(caplog, autojump_clock):
    caplog.set_level(logging.DEBUG)
    async with open_fake_upbit(seed=1, rate=0, idle_timeout=None) as fake:
        async with ub.open_upbit_session(
            config=settings_for(fake), access_key=fake.access_key, secret_key=fake.secret_key,
            connector=memory_connector(fake),
        ) as session:
            async with session.my_asset():
                await trio.sleep(1)
                fake.drop_all()
                await trio.sleep(5)
            shown = repr(session) + str(session.stats()) + repr(session.settings)
    text = caplog.text + shown
    assert fake.access_key not in text and fake.secret_key not in text
    assert "Bearer" not in text and "eyJ" not in text


def test_no_unbounded_memory_channels_in_the_library():
    package = pathlib.Path(ub.__file__).parent
    calls = 0
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.value if isinstance(node.func, ast.Subscript) else node.func
            if getattr(func, "attr", getattr(func, "id", "")) == "open_memory_channel":
                calls += 1
                assert "inf" not in ast.dump(node), f"{path}:{node.lineno}: unbounded memory channel"
    assert calls >= 1  # a memory channel was found, so the check looks at real code


def test_every_deque_in_the_library_has_a_bound():
    package = pathlib.Path(ub.__file__).parent
    found = 0
    for path in package.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "deque(" in line and "import" not in line:
                found += 1
                assert "maxlen=" in line or "# bounded:" in line, f"{path}:{number}: deque without a stated bound"
    assert found >= 3  # the subscription channel's and the statistics' deques were found
