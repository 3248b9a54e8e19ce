"""Security S1-S3: no key, token or fragment of them in logs, exceptions, reprs, dumps or pickles.

S1 runs private sessions with every logger at DEBUG (in-memory with virtual time for many
reconnects, and once over real sockets) and searches everything a user could see. S2 dumps the
objects that hold keys. S3 checks the token of each of 1000 connection attempts.
"""

from __future__ import annotations

import base64
import logging
import pickle
import traceback
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import jwt
import pytest
import trio

import upbit_stream as ub
from upbit_stream._config.auth import authorization_header
from upbit_stream._config.secrets import Credentials, Secret
from upbit_stream._transports.via_trio_websocket import trio_websocket_connector
from upbit_stream._transports.via_websockets import websockets_connector
from upbit_stream.testing import FakeUpbit, open_fake_upbit

from session_helpers import memory_connector, settings_for

# Upbit keys are 40 letters and digits; distinctive so that any fragment is findable.
ACCESS = "AkQ7vZp3Lm9Xw2Rt5Yb8Nc4Hd6Jf1Gs0Ue3Ki7Oq"
SECRET = "Sk4Tm8Wq2Zx6Cv9Bn3Mh5Lj7Pg1Fd0Rs4Ye8Ua2Io"
WRONG_SECRET = "Ws9Xe3Rd7Tf1Yg5Uh8Ij2Ok6Pl0Az4Sx7Dc1Fv5Gb"
QUICK = {"reconnect": {"initial_delay": 0.05, "max_delay": 0.2, "healthy_after": 0}}
LOGGERS = ["", "trio-websocket", "trio_websocket", "websockets", "websockets.client",
           "websockets.server", "upbit_stream", "upbit_stream.testing"]

#: Real-socket connectors by transport name; every S1 real-socket test runs once per entry.
CONNECTORS: dict[str, Callable[..., ub.Connector]] = {
    "trio-websocket": trio_websocket_connector, "websockets": websockets_connector,
}


@pytest.fixture(params=sorted(CONNECTORS))
def connector_factory(request: pytest.FixtureRequest) -> Callable[..., ub.Connector]:
    """``factory(ssl_context=..., connect_timeout=...)`` for each real transport."""
    return CONNECTORS[request.param]


# -- what must never appear -------------------------------------------------------------------------


def _base64_forms(raw: str) -> set[str]:
    """Fragments of ``raw`` in base64 and base64url at every byte alignment (as inside a JWT)."""
    forms = set()
    data = raw.encode("utf-8", "surrogatepass")
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(data[shift:]).decode().rstrip("=")
            forms.add(text[:-3])  # the last characters depend on what follows in a longer text
    return forms


def _windows(text: str, size: int, stride: int) -> set[str]:
    return {text[i:i + size] for i in range(0, max(1, len(text) - size + 1), stride)}


def forbidden(tokens: Sequence[str], *keys: str) -> set[str]:
    """Secret fragments: any 16 characters of a key or of its base64 forms, any 24 of a token.

    (Windows of 16 at stride 8 cover every 24-character run of a token.) ``Bearer `` and ``eyJ``
    (the start of every base64 JSON object, so of every JWT segment) are refused too.
    """
    found = {"Bearer ", "eyJ"}
    for key in (ACCESS, SECRET, *keys):
        for form in (key, *_base64_forms(key)):
            found |= _windows(form, 16, 1)
    for token in tokens:
        found |= _windows(token, 16, 8)
    return found


def assert_clean(text: str, tokens: Sequence[str], *keys: str) -> None:
    leaks = sorted(f for f in forbidden(tokens, *keys) if f in text)
    assert not leaks, f"secret material in user-visible text ({len(leaks)} fragments)"


def _library_locals(exc: BaseException) -> str:
    """Every local of every frame ``exc`` passed through, but the test's own (which hold the keys)."""
    summary = traceback.TracebackException.from_exception(exc, capture_locals=True)
    return "\n".join(f"{frame.filename}: {frame.locals}" for frame in summary.stack
                     if "/tests/" not in frame.filename)


def exception_texts(exc: BaseException) -> Iterator[str]:
    """str, repr and formatted traceback of ``exc`` and of every exception chained or grouped in it."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield "".join(traceback.format_exception(current))
        yield _library_locals(current)
        todo += [current.__cause__, current.__context__, *getattr(current, "exceptions", ())]


# -- capturing --------------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    """Every logger at DEBUG; yields a function giving all log output (messages, args, tracebacks)."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def text() -> str:
        parts = [caplog.text]
        for record in collect.records:
            parts += [formatter.format(record), repr(record.args), repr(vars(record))]
        return "\n".join(parts)

    try:
        yield text
    finally:
        logging.getLogger().removeHandler(collect)


class Recorder:
    """Wraps a connector: keeps every token sent and every exception that crossed the transport."""

    def __init__(self, connector: ub.Connector) -> None:
        self._connector = connector
        self.tokens: list[str] = []
        self.errors: list[BaseException] = []

    def __call__(self, url: str, headers: Sequence[tuple[str, str]]) -> Any:
        return self._connect(url, headers)

    @asynccontextmanager
    async def _connect(self, url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[ub.Wire]:
        self.tokens += [v.removeprefix("Bearer ") for k, v in headers if k.lower() == "authorization"]
        try:
            async with self._connector(url, headers) as wire:
                yield _RecordingWire(wire, self.errors)
        except BaseException as exc:
            self.errors.append(exc)
            raise


class _RecordingWire:
    def __init__(self, wire: ub.Wire, errors: list[BaseException]) -> None:
        self._wire, self._errors = wire, errors

    async def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return await method(*args)
        except BaseException as exc:
            self._errors.append(exc)
            raise

    async def send(self, message: str | bytes) -> None:
        await self._call(self._wire.send, message)

    async def receive(self) -> bytes | str:
        return await self._call(self._wire.receive)

    async def ping(self) -> None:
        await self._call(self._wire.ping)


# -- S1 ---------------------------------------------------------------------------------------------


async def drop_private(fake: FakeUpbit, accepted: int) -> None:
    """Wait for the ``accepted``-th private connection to be open, then drop it."""
    shakes = await fake.wait_for_request(
        lambda r: r.kind == "handshake" and r.endpoint == "private" and r.status == 101, count=accepted)
    newest = shakes[accepted - 1].connection
    while not any(c.id == newest for c in fake.connections):
        await trio.sleep(0.001)
    assert fake.drop_all("private") == 1


async def private_scenario(fake: FakeUpbit, connector: ub.Connector, *, reconnects: int) -> list[str]:
    """Private connect, ``reconnects`` drops, an in-band error; returns what the user saw as text."""
    shown: list[str] = []
    async with ub.open_upbit_session(
        config=settings_for(fake, **QUICK), access_key=ACCESS, secret_key=SECRET, connector=connector,
    ) as session:
        async with session.connection_events(buffer=4 * reconnects + 16) as events:
            async with session.my_order() as orders, session.my_asset() as assets:
                await fake.wait_for_request(lambda r: r.kind == "message" and r.endpoint == "private")
                fake.place_order("KRW-BTC", "bid", "limit", price="100000000", volume="0.001")
                shown += [repr(await orders.receive()), repr(await assets.receive())]
                for n in range(reconnects):
                    await drop_private(fake, n + 1)
                await fake.wait_for_request(
                    lambda r: r.kind == "handshake" and r.endpoint == "private" and r.status == 101,
                    count=reconnects + 1)
                shown += [repr(session), repr(session.stats()), repr(session.health()), repr(vars(session))]
            with pytest.raises(ub.ServerError, match="INVALID_PARAM") as info:  # in-band, private endpoint
                async with session.my_order("KRW-NOPE") as orders:
                    await orders.receive()
            shown += list(exception_texts(info.value))
            shown += [repr(session.stats()), repr(session.health())]
            while True:
                try:
                    shown.append(repr(events.receive_nowait()))
                except trio.WouldBlock:
                    break
    private = [r for r in fake.requests if r.kind == "handshake" and r.endpoint == "private"]
    assert len(private) >= reconnects + 1 and all(r.status == 101 for r in private)
    return shown


async def auth_failures(make_connector: Callable[[FakeUpbit], ub.Connector]) -> tuple[list[str], list[str]]:
    """A wrong secret (in-band INVALID_AUTH) and an HTTP 401; returns (texts shown, tokens sent)."""
    shown: list[str] = []
    tokens: list[str] = []
    for failure in ("frame", "http"):  # in-band INVALID_AUTH, then HTTP 401: both AuthenticationError
        async with open_fake_upbit(seed=1, rate=0, idle_timeout=None, keys={ACCESS: SECRET},
                                   auth_failure=failure) as fake:
            recorder = Recorder(make_connector(fake))
            async with ub.open_upbit_session(
                config=settings_for(fake, **QUICK), access_key=ACCESS, secret_key=WRONG_SECRET,
                connector=recorder,
            ) as session:
                with pytest.raises(ub.AuthenticationError) as info:
                    async with session.my_asset() as assets:
                        await assets.receive()
                shown += [*exception_texts(info.value), repr(session.stats()), repr(session.health())]
            for error in recorder.errors:
                shown += exception_texts(error)
            tokens += recorder.tokens
            assert len(recorder.tokens) == 1, "an authentication failure is not retried"
    return shown, tokens


async def test_s1_debug_logs_and_errors_in_memory_with_many_reconnects(debug_logs, autojump_clock):
    with trio.fail_after(600):
        async with open_fake_upbit(seed=1, rate=0, idle_timeout=None, keys={ACCESS: SECRET}) as fake:
            recorder = Recorder(memory_connector(fake))
            shown = await private_scenario(fake, recorder, reconnects=60)
        failures, wrong_tokens = await auth_failures(memory_connector)
    for error in recorder.errors:
        shown += exception_texts(error)
    tokens = recorder.tokens + wrong_tokens
    assert len(recorder.tokens) >= 61 and len(set(tokens)) == len(tokens)
    text = debug_logs()
    assert "upbit_stream" in text and "trio-websocket" in text  # the capture really saw DEBUG output
    assert_clean("\n".join([text, *shown, *failures]), tokens, WRONG_SECRET)


async def test_s1_debug_logs_and_errors_over_real_sockets(debug_logs, connector_factory):
    with trio.fail_after(30):
        async with open_fake_upbit(seed=1, rate=0, idle_timeout=None, keys={ACCESS: SECRET}) as fake:
            recorder = Recorder(connector_factory())
            shown = await private_scenario(fake, recorder, reconnects=3)
        failures, wrong_tokens = await auth_failures(lambda fake: connector_factory())
    for error in recorder.errors:
        shown += exception_texts(error)
    text = debug_logs()
    assert "upbit_stream" in text
    assert_clean("\n".join([text, *shown, *failures]), recorder.tokens + wrong_tokens, WRONG_SECRET)


@pytest.mark.parametrize("answer", [401, 403, 404, 302, "dropped"])
async def test_s1_private_handshake_failures_show_no_key_even_in_traceback_locals(
        debug_logs, connector_factory, answer):
    """What the session raises for each handshake failure, with every frame's locals, and the DEBUG logs."""
    from hostile import open_hostile_server

    tokens: list[str] = []

    async def script(peer) -> None:  # type: ignore[no-untyped-def]
        request = await peer.read_request()
        tokens.append(request.headers.get("authorization", "").removeprefix("Bearer "))
        if answer == "dropped":
            await peer.hang_up()
        elif answer == 302:
            await peer.redirect(302, "wss://elsewhere.example/websocket/v1/private")
        else:
            await peer.respond(answer, (), b"refused")

    with trio.fail_after(30):
        async with open_hostile_server(script) as server:
            settings = ub.Settings().evolve(
                connection={"public_url": server.url, "private_url": server.url + "/private"},
                reconnect={"initial_delay": 0.05, "max_delay": 0.1})
            recorder = Recorder(connector_factory())  # keeps what the connector raised, as the driver saw it
            async with ub.open_upbit_session(config=settings, access_key=ACCESS, secret_key=SECRET,
                                             connector=recorder) as session:
                with pytest.raises(ub.UpbitStreamError) as info:
                    async with session.my_asset() as assets:
                        if answer == "dropped":  # retried: give it a few attempts, then leave
                            with trio.move_on_after(1):
                                await assets.receive()
                            raise ub.UpbitStreamError("left while it retried")
                        await assets.receive()
                shown = [*exception_texts(info.value), repr(session.stats()), repr(session.health())]
    for error in recorder.errors:
        shown += exception_texts(error)
    assert tokens and all(tokens) and recorder.errors
    assert_clean("\n".join([debug_logs(), *shown]), tokens, SECRET)


def test_s1_the_checker_finds_planted_leaks():
    token = authorization_header(Credentials(ACCESS, SECRET))[1].removeprefix("Bearer ")
    payload = token.split(".")[1]
    for leak in (SECRET, ACCESS[5:21], token, payload[10:34], token.split(".")[2][-24:],
                 base64.b64encode(b"x" + SECRET.encode()).decode()[5:25], f"Authorization: Bearer {token}",
                 base64.urlsafe_b64encode(b'{"access_key":"' + ACCESS.encode()).decode()):
        with pytest.raises(AssertionError, match="secret material"):
            assert_clean(f"log line {leak} end", [token])
    assert_clean(f"log line {SECRET[:15]} {ACCESS[-15:]} {token[:23]} end".replace("eyJ", ""), [token])


# -- S2 ---------------------------------------------------------------------------------------------


def deep_dump(root: object, limit: int = 10_000) -> str:
    """Every repr reachable through ``vars()``, attrs fields and containers (as error reporters walk)."""
    out: list[str] = []
    seen: set[int] = set()
    todo = [root]
    while todo and len(seen) < limit:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (type, Callable)) and not hasattr(obj, "__self__"):  # type: ignore[arg-type]
            continue
        seen.add(id(obj))
        out.append(repr(obj))
        if isinstance(obj, dict):
            todo += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo += list(obj)
        elif hasattr(obj, "__self__"):  # a bound method: its object
            todo.append(obj.__self__)
        elif hasattr(obj, "__dict__"):
            todo += list(vars(obj).values())
        elif hasattr(obj, "__attrs_attrs__"):
            todo += [getattr(obj, a.name, None) for a in obj.__attrs_attrs__]
    return "\n".join(out)


async def test_s2_session_settings_and_credentials_show_no_key(fake, autojump_clock):
    settings = settings_for(fake).evolve(auth={"access_key": ACCESS, "secret_key": SECRET})
    creds = Credentials(ACCESS, SECRET)
    async with ub.open_upbit_session(config=settings, connector=memory_connector(fake)) as session:
        session_dump = deep_dump(session)  # before connecting: holds the keys from the settings
        texts = [repr(session), str(session), session_dump, repr(vars(session)), deep_dump(settings),
                 deep_dump(creds), str(creds), repr(settings), repr(vars(session)["settings"].auth)]
        assert "Secret('****')" in session_dump
        with pytest.raises(TypeError):
            pickle.dumps(session)
    for obj in (creds, creds.secret_key, settings, settings.auth):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(obj)
    assert_clean("\n".join(texts), [])


def test_s2_a_failure_inside_signing_shows_only_masked_keys():
    # A key read from a non-UTF-8 environment holds a surrogate: signing cannot encode it. Before
    # the fix, PyJWT's frames (key = '...') and UnicodeEncodeError's repr showed the whole key.
    broken = Credentials.__new__(Credentials)
    object.__setattr__(broken, "access_key", Secret(ACCESS))
    object.__setattr__(broken, "secret_key", Secret(SECRET + "\udcff"))
    with pytest.raises(ub.AuthenticationError, match="cannot sign") as info:
        authorization_header(broken)
    exc = info.value
    assert exc.__cause__ is None and exc.__context__ is None
    text = _locals_traceback(exc)
    assert "credentials = Credentials(access_key=Secret('****'), secret_key=Secret('****'))" in text
    assert_clean(text + "\n".join(exception_texts(exc)), [])


# Keys that cannot be signed or sent as they are; tests reach them by index so that no frame in a
# traceback holds one as a local (pytest's parameters would).
UNUSABLE = [SECRET + "\udcff", SECRET + "\n", " " + SECRET, SECRET[:20] + "é" + SECRET[21:]]


def _locals_traceback(exc: BaseException) -> str:
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


@pytest.mark.parametrize("index", range(len(UNUSABLE)))
def test_s2_unusable_keys_are_refused_up_front_without_showing_them(index):
    def resolve() -> object:
        return Credentials.resolve(None, None, None, {"UPBIT_ACCESS_KEY": ACCESS, "UPBIT_SECRET_KEY": UNUSABLE[index]})

    with pytest.raises(ub.AuthenticationError, match="printable ASCII") as info:
        resolve()
    text = _locals_traceback(info.value)
    assert "secret_key = Secret('****')" in text
    assert_clean(text + "\n".join(exception_texts(info.value)), [])


@pytest.mark.parametrize("index", [0, 1])
async def test_s2_unusable_key_fails_the_session_before_connecting(fake, index):
    async def open_session() -> None:
        async with ub.open_upbit_session(config=settings_for(fake), access_key=ACCESS, secret_key=UNUSABLE[index],
                                         connector=memory_connector(fake)):
            pass

    with pytest.raises(ub.AuthenticationError, match="stray newline") as info:
        await open_session()
    assert not fake.requests
    text = _locals_traceback(info.value)
    assert "open_upbit_session" in text  # the session's own frame is in the dump, without the keys
    assert_clean(text + "\n".join(exception_texts(info.value)), [])


# -- S3 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["HS512", "HS256"])
async def test_s3_a_fresh_token_for_each_of_1000_attempts(autojump_clock, algorithm):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an InsecureKeyLengthWarning (40-byte key, HS512) would fail
        with trio.fail_after(3600):
            async with open_fake_upbit(seed=1, rate=0, idle_timeout=None, keys={ACCESS: SECRET}) as fake:
                recorder = Recorder(memory_connector(fake))
                config = settings_for(fake, **QUICK, auth={"jwt_algorithm": algorithm})
                async with ub.open_upbit_session(
                    config=config, access_key=ACCESS, secret_key=SECRET, connector=recorder,
                ) as session:
                    async with session.my_asset():
                        for n in range(1000):
                            await drop_private(fake, n + 1)
                shakes = [r for r in fake.requests if r.kind == "handshake" and r.endpoint == "private"]
    tokens = recorder.tokens
    assert len(tokens) == len(shakes) >= 1000
    assert all(r.status == 101 for r in shakes)  # the fake verified every signature and nonce
    nonces = set()
    for token in tokens:
        assert jwt.get_unverified_header(token) == {"alg": algorithm, "typ": "JWT"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            payload = jwt.decode(token, SECRET, algorithms=[algorithm])
        assert set(payload) == {"access_key", "nonce"} and payload["access_key"] == ACCESS
        nonces.add(payload["nonce"])
    assert len(nonces) == len(tokens)
    assert all(len(n) == 36 and n[14] == "4" and n[19] in "89ab" for n in nonces)  # uuid4 text
