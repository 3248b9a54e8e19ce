"""The fake exchange server: its handle, accept loop, handshake checks and background tasks."""

from __future__ import annotations

import itertools
import math
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator
from urllib.parse import urlsplit

import trio
import trio.testing

from .._transports.seam import Connector, Wire
from .._transports.via_trio_websocket import trio_websocket_connector
from .._trio.groups import single_errors
from ._account import Account
from ._auth import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, Authenticator
from ._blast import BlastRing
from ._connection import Connection
from ._control_server import serve_control
from ._controls import Controls
from ._faults import ConnectLimiter, FaultCounters, Gate, GateStream
from ._handling import RequestHandling, RequestRecord
from ._info_market import InfoMarket
from ._info_publishing import InfoPublishing
from ._info_requests import ALL_CATEGORIES, DOCUMENTED_CATEGORIES
from ._market import MarketSim
from ._publishing import Publishing
from ._replay import ReplayFileError, ReplayFrame, read_replay
from ._replaying import Replaying
from ._requests import RequestError
from ._tls import FakeTls
from ._websocket import Handshake, ServerWebSocket, remote_address

__all__ = ["FakeUpbit", "RequestRecord", "open_fake_upbit"]

_REASONS = {401: b"Unauthorized", 418: b"I'm a teapot", 429: b"Too Many Requests"}


class FakeUpbit(RequestHandling, Publishing, InfoPublishing, Controls, Replaying):
    """Handle of a running fake exchange (yielded by ``open_fake_upbit``)."""

    #: With ``tls=True``: the CA certificate file a client trusts (``SSL_CERT_FILE``); else None.
    ca_path: str | None = None
    #: With ``control_port=``: the port of the line-protocol control server on 127.0.0.1; else None.
    control_port: int | None = None

    def __init__(self, *, host: str, seed: int, rate: float, blast: bool, blast_rate: float | None,
                 keys: Mapping[str, str],
                 auth_failure: str, idle_timeout: float | None, requests_per_second: int | None,
                 requests_per_minute: int | None, connects_per_second: int | None, teapot_after: int | None,
                 teapot_seconds: float, send_queue_size: int, balances: Mapping[str, Any] | None,
                 epoch_ms: int | None, replay: str | None, pace: str, replay_loop: bool,
                 blast_ring_size: int, log_size: int, ssl_context: ssl.SSLContext | None = None,
                 strict_categories: bool = False, verbatim: bool = False, origin_rule: bool = True,
                 reject_reused_nonce: bool = True, unknown_codes: str = "reject", idle_close: str = "abrupt",
                 compression: bool = True) -> None:
        if auth_failure not in ("frame", "http"):
            raise ValueError("auth_failure must be 'frame' or 'http'")
        if unknown_codes not in ("reject", "ignore"):
            raise ValueError("unknown_codes must be 'reject' or 'ignore'")
        if idle_close not in ("clean", "abrupt"):
            raise ValueError("idle_close must be 'clean' or 'abrupt'")
        self.origin_rule, self.unknown_codes, self.idle_close = origin_rule, unknown_codes, idle_close
        self.compression = compression
        self.teapot_after, self.teapot_seconds = teapot_after, teapot_seconds
        if pace not in ("recorded", "fast"):
            raise ValueError("pace must be 'recorded' or 'fast'")
        self.host = host
        self.port = 0
        self.ssl_context = ssl_context
        self.seed = seed
        self.rate = rate
        self.blast = blast
        self.blast_rate = blast_rate
        self.keys = dict(keys)
        self.access_key, self.secret_key = next(iter(self.keys.items()))
        self.auth_failure = auth_failure
        self.idle_timeout = idle_timeout
        self.requests_per_second = requests_per_second
        self.requests_per_minute = requests_per_minute
        self.send_queue_size = send_queue_size
        self.close_timeout = 2.0
        self.connect_timeout = 10.0
        self.counters = FaultCounters()
        self.delay_seconds = 0.0
        self.blast_frames_sent = 0
        self.server_errors: list[BaseException] = []
        self._t0 = trio.current_time()
        self._epoch_ms = int(time.time() * 1000) if epoch_ms is None else epoch_ms
        self.market = MarketSim(seed, now_ms=self.now_ms())
        self.info_market = InfoMarket(seed, self.market.price)
        self.categories = DOCUMENTED_CATEGORIES if strict_categories else ALL_CATEGORIES
        self._init_info()
        self.account = Account(balances, price_of=self.market.best)
        self._auth = Authenticator(self.keys, reject_reused_nonce)
        self._connect_limiter = ConnectLimiter(connects_per_second, teapot_after, teapot_seconds)
        self._refusals: deque[int] = deque()  # bounded: what refuse_handshakes() was asked for
        self._delisted: set[str] = set()  # bounded: the market's codes
        self._refused_streams: dict[tuple[str, str], RequestError] = {}  # bounded: what refuse_stream() named
        self._log: deque[RequestRecord] = deque(maxlen=log_size)
        self._log_lot = trio.lowlevel.ParkingLot()
        self._conns: dict[int, Connection] = {}
        self._ids = itertools.count(1)
        self._ring = BlastRing(seed, blast_ring_size, self.now_ms()) if blast else None
        self.verbatim = verbatim
        self._replay_frames: list[ReplayFrame] = []
        self.replay_skipped = 0  # lines of the replay file that were not recording entries
        if replay:
            self._replay_frames, self.replay_skipped = read_replay(replay)
            if not self._replay_frames:
                raise ReplayFileError(f"{replay}: no recording line ({self.replay_skipped} lines skipped; "
                                      "a replay file holds {\"t\", \"endpoint\", \"frame\"} lines from "
                                      "`upbit-stream record`)")
        self._replay_codes = {code for f in self._replay_frames for _, code in f.keys if code}  # announcements: none
        self._replayed: dict[tuple[str, str], Any] = {}  # latest replayed public event per (type, code)
        self._replay_pace, self._replay_repeat = pace, replay_loop
        self._first_request = trio.Event()
        self.nursery: trio.Nursery | None = None

    # -- public views ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``ws://host:port`` (``wss://`` with TLS; what upbit-sdk's ``websocket_base_url`` wants)."""
        return f"{'ws' if self.ssl_context is None else 'wss'}://{self.host}:{self.port}"

    @property
    def public_url(self) -> str:
        return f"{self.base_url}/websocket/v1"

    @property
    def private_url(self) -> str:
        return f"{self.base_url}/websocket/v1/private"

    @property
    def info_url(self) -> str:
        """The endpoint of ``indicator`` and ``indicator_signal`` (authenticated like ``private_url``)."""
        return f"{self.base_url}/websocket/v1/info"

    @property
    def replay_frame_count(self) -> int:
        """How many frames the replay file given to ``open_fake_upbit`` holds (0: no replay)."""
        return len(self._replay_frames)

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log, oldest first (bounded to the last ``log_size`` entries)."""
        return list(self._log)

    @property
    def connections(self) -> list[Connection]:
        """Open connections, oldest first."""
        return list(self._conns.values())

    def connector(self) -> Connector:
        """A connector reaching this fake exchange over in-memory streams, for ``open_upbit_session(connector=…)``.

        The real handshake, frames and codec run, but no socket: a whole session then runs under
        trio's virtual clock (pytest-trio's ``autojump_clock``), so reconnects, backoffs and
        heartbeats take no real time. Settings' URLs are ignored; the endpoint follows the path
        (``…/private`` is the private endpoint, ``…/info`` the info endpoint).
        """
        async def open_stream(host: str, port: int) -> trio.abc.Stream:
            client, server = trio.testing.memory_stream_pair()
            assert self.nursery is not None, "the fake exchange is not running"
            self.nursery.start_soon(self._handle_tcp, server)
            return client

        inner = trio_websocket_connector(open_stream=open_stream)

        @asynccontextmanager
        async def connect(url: str, headers: Sequence[tuple[str, str]]) -> AsyncIterator[Wire]:
            path = urlsplit(url).path or "/websocket/v1"  # no TLS in memory, whatever the URL says
            async with inner(f"ws://{self.host}{path}", headers) as wire:
                yield wire

        return connect

    def now_ms(self) -> int:
        return self._epoch_ms + int((trio.current_time() - self._t0) * 1000)

    def codes(self) -> set[str]:
        return (set(self.market.codes) | self._replay_codes) - self._delisted

    async def wait_for_request(self, predicate: Callable[[RequestRecord], bool] | None = None,
                               count: int = 1) -> list[RequestRecord]:
        """Wait until the log holds ``count`` records matching ``predicate``; return them."""
        while True:
            found = [r for r in self._log if predicate is None or predicate(r)]
            if len(found) >= count:
                return found
            await self._log_lot.park()

    async def wait_for_connections(self, count: int = 1) -> list[Connection]:
        """Wait until at least ``count`` connections are open."""
        while len(self._conns) < count:
            await self._log_lot.park()
        return self.connections

    def _record(self, record: RequestRecord) -> None:
        self._log.append(record)
        self._log_lot.unpark_all()

    # -- connections ----------------------------------------------------------------------------

    async def _handle_tcp(self, stream: trio.abc.Stream) -> None:
        conn_id = next(self._ids)
        gate = Gate()
        conn: Connection | None = None

        def touch() -> None:
            if conn is not None:
                conn.touch()

        if self.ssl_context is not None:
            stream = trio.SSLStream(stream, self.ssl_context, server_side=True)
        gated = GateStream(stream, gate, touch)
        ws = ServerWebSocket(gated, max_message_size=1 << 20, queue_size=8)
        try:
            async with trio.open_nursery() as nursery:
                with trio.move_on_after(self.connect_timeout):
                    request = await ws.read_request()
                    if request is not None:
                        conn = await self._handshake(ws, request, conn_id, gated, gate)
                if conn is not None:
                    self._conns[conn_id] = conn
                    self._log_lot.unpark_all()
                    nursery.start_soon(ws.reader)
                    with conn.cancel_scope:
                        nursery.start_soon(conn.send_loop)
                        nursery.start_soon(conn.idle_watch, self.idle_timeout)
                        await conn.receive_loop()
                        closed = conn.ws.closed
                        self._record(RequestRecord(trio.current_time(), conn_id, conn.endpoint, "close",
                                                   status=closed.code if closed is not None else None,
                                                   detail=conn.closed_by))
                nursery.cancel_scope.cancel()
        except Exception as exc:  # one connection's trouble never reaches the others
            self.server_errors.append(exc)
        finally:
            self._conns.pop(conn_id, None)
            await trio.aclose_forcefully(stream)

    async def _handshake(self, ws: ServerWebSocket, request: Handshake, conn_id: int, gated: GateStream,
                         gate: Gate) -> Connection | None:
        path = request.path.partition("?")[0].rstrip("/")
        endpoint = "private" if path.endswith("/private") else "info" if path.endswith("/info") else "public"
        now = trio.current_time()
        status: int | None = None
        detail = None
        if self._refusals:
            status = self._refusals.popleft()
            self.counters.refused_handshakes += 1
            detail = "refused by refuse_handshakes()"
        else:
            status = self._connect_limiter.check(now)
            if status == 429:
                self.counters.rate_limited_handshakes += 1
            elif status == 418:
                self.counters.teapot_handshakes += 1
        auth_error = self._auth.verify(request.headers) if endpoint != "public" and status is None else None
        if auth_error and self.auth_failure == "http":
            status, detail = 401, auth_error
        error = {401: RequestError("INVALID_AUTH"), 418: RequestError("I'm a teapot")}.get(
            status or 0, RequestError("Too Many Requests") if status == 429 else None)
        names = tuple(name.decode("latin-1").lower() for name, _ in request.headers)
        names += ("sec-websocket-extensions",) if request.extensions else ()
        accepted = status is None and await ws.accept(compression=self.compression)
        self._record(RequestRecord(now, conn_id, endpoint, "handshake", status=status or 101, error=error,
                                   detail=detail or auth_error, header_names=names, deflate=ws.extensions))
        if status is not None:
            headers = [(b"Retry-After", str(math.ceil(max(1.0, self._connect_limiter.banned_until - now)
                                                      if status == 418 else 1)).encode())]
            await ws.reject(status, headers, _REASONS.get(status, b"Refused"))
            return None
        if not accepted:  # the client went while the answer was on its way
            return None
        origin = any(name.lower() == b"origin" for name, _ in request.headers)
        return Connection(self, conn_id, endpoint, path, remote_address(gated.inner), ws, gated, gate, auth_error,
                          origin)

    def _blast_chunks_for(self, conn: Connection) -> tuple[tuple[bytes, int], ...]:
        if self._ring is None or not conn.realtime:
            return ()
        return self._ring.chunks(conn.format, conn.realtime)

    # -- background tasks -------------------------------------------------------------------------

    async def _replay_loop(self) -> None:
        if not self._replay_frames:
            return
        await self._first_request.wait()
        while True:
            await self.replay(self._replay_frames, pace=self._replay_pace)
            if not self._replay_repeat:
                return


@asynccontextmanager
async def open_fake_upbit(
    *, host: str = "127.0.0.1", port: int = 0, seed: int = 0, rate: float = 50.0, blast: bool = False,
    blast_rate: float | None = None,
    keys: Mapping[str, str] | None = None, auth_failure: str = "frame", idle_timeout: float | None = 120.0,
    requests_per_second: int | None = 5, requests_per_minute: int | None = 100,
    connects_per_second: int | None = 5, teapot_after: int | None = 10, teapot_seconds: float = 60.0,
    send_queue_size: int = 1024, balances: Mapping[str, Any] | None = None, epoch_ms: int | None = None,
    replay: str | None = None, pace: str = "recorded", replay_loop: bool = False,
    blast_ring_size: int = 4096, log_size: int = 100_000, ssl_context: ssl.SSLContext | None = None,
    strict_categories: bool = False, verbatim: bool = False, origin_rule: bool = True,
    reject_reused_nonce: bool = True, unknown_codes: str = "reject", idle_close: str = "abrupt",
    compression: bool = True, tls: bool = False, tls_dir: str | None = None, control_port: int | None = None,
) -> AsyncIterator[FakeUpbit]:
    """Run a fake Upbit exchange on ``host:port`` (an ephemeral port by default) while the block runs.

    ``rate`` is simulated trades per second across all markets (0 = only ``tick()``); ``blast`` sends
    a pre-encoded ring as fast as each connection takes it (or ``blast_rate`` frames per second,
    each stamped with its send time); ``keys`` maps access keys to secret keys
    (default one fixed test pair); ``auth_failure`` "frame" answers requests on a badly authenticated
    private connection with INVALID_AUTH, "http" rejects its handshake with 401. ``None`` disables a
    limit. ``ssl_context`` (a server context) serves ``wss://`` instead of ``ws://``.
    ``strict_categories`` accepts only the 8 documented announcement categories (default: also the
    SDK's 5 more). ``replay`` serves a recording (from ``upbit-stream record``) instead of the
    simulation, its events answered as live ones (each connection's format, depth, ``level``);
    ``verbatim`` sends its frames byte for byte as recorded instead. A replay file without a single
    recording line raises ``ValueError`` here; skipped lines are counted in ``replay_skipped``.
    ``origin_rule``: a connection whose handshake carried an ``Origin`` header may make 1 request
    per 10 s (Upbit's documented policy). ``reject_reused_nonce``: a private handshake whose JWT
    nonce was seen before is refused like a bad token (False: accepted, as ccxt.pro's private
    reconnect needs). ``unknown_codes`` "reject" refuses a request naming an unlisted (or
    lower-case) code with INVALID_PARAM, "ignore" drops the code. ``idle_close`` "abrupt" ends an
    idle connection without a close frame (the lost connection Upbit's best-practice page
    describes), "clean" with close code 1000 "Idle Timeout". ``compression``: a client that offers
    permessage-deflate (RFC 7692) gets it, on the parameters it asks for, as on Upbit (False: never).
    Leaving the block closes every connection and task.

    ``tls=True`` serves ``wss://`` with a certificate for 127.0.0.1/localhost signed by a CA made
    now (needs ``trustme``); ``fake.ca_path`` is that CA's file, in a temporary directory removed
    on exit, or in ``tls_dir`` (kept). ``control_port`` (0: any free port) runs the line-protocol
    control server on 127.0.0.1 (see the package docs); ``fake.control_port`` is its port.
    """
    tls_files = _tls_files(tls, tls_dir, ssl_context)
    if tls_files is not None:
        ssl_context = tls_files.server_context
    server = FakeUpbit(
        host=host, seed=seed, rate=rate, blast=blast, blast_rate=blast_rate,
        keys=keys if keys else {DEFAULT_ACCESS_KEY: DEFAULT_SECRET_KEY}, auth_failure=auth_failure,
        idle_timeout=idle_timeout, requests_per_second=requests_per_second,
        requests_per_minute=requests_per_minute, connects_per_second=connects_per_second,
        teapot_after=teapot_after, teapot_seconds=teapot_seconds, send_queue_size=send_queue_size,
        balances=balances, epoch_ms=epoch_ms, replay=replay, pace=pace, replay_loop=replay_loop,
        blast_ring_size=blast_ring_size, log_size=log_size, ssl_context=ssl_context,
        strict_categories=strict_categories, verbatim=verbatim, origin_rule=origin_rule,
        reject_reused_nonce=reject_reused_nonce, unknown_codes=unknown_codes, idle_close=idle_close,
        compression=compression,
    )
    listeners = await trio.open_tcp_listeners(port, host=host)
    server.port = listeners[0].socket.getsockname()[1]
    with single_errors():
        async with trio.open_nursery() as nursery:
            server.nursery = nursery
            if tls_files is not None:
                server.ca_path = await nursery.start(tls_files.keep_files, tls_dir)
            if control_port is not None:
                server.control_port = await nursery.start(serve_control, server, control_port)
            await nursery.start(trio.serve_listeners, server._handle_tcp, listeners)
            nursery.start_soon(server._market_loop)
            nursery.start_soon(server._candle_loop)
            nursery.start_soon(server._replay_loop)
            nursery.start_soon(server._info_loop)
            try:
                yield server
            finally:
                nursery.cancel_scope.cancel()


def _tls_files(tls: bool, tls_dir: str | None, ssl_context: ssl.SSLContext | None) -> FakeTls | None:
    if not tls:
        if tls_dir is not None:
            raise ValueError("tls_dir= is for tls=True")
        return None
    if ssl_context is not None:
        raise ValueError("pass tls=True or ssl_context=, not both")
    return FakeTls()
