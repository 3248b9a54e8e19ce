"""``upbit_stream.testing``: a local exchange that speaks Upbit's WebSocket protocol, for tests and demos.

::

    async with open_fake_upbit(seed=1, rate=0) as fake:
        # over loopback sockets: fake.public_url / private_url / info_url (keys fake.access_key/secret_key);
        # or in memory, so a whole session runs under trio's virtual clock (pytest-trio autojump_clock):
        async with ub.open_upbit_session(connector=fake.connector(), access_key=fake.access_key,
                                         secret_key=fake.secret_key) as session: ...
        fake.tick(5, code="KRW-BTC")            # five trades now: trade, ticker, orderbook events
        uuid = fake.place_order("KRW-BTC", "bid", "limit", price=..., volume=...)
        fake.fill(uuid); fake.drop_all(); fake.stall(5); fake.refuse_handshakes(2, 429)
        fake.publish_announcement("[거래] 신규 거래 지원 안내", "trade", body="…")
        fake.close_candle("5m")                 # indicator values and signals of that close, now
        fake.inject_indicator("KRW-BTC", "5m", ub.rsi(14), ub.RsiValue(rsi=Decimal("71.5")))
        fake.force_signal("KRW-BTC", "5m", ub.signal(ub.rsi(14), "overbought", threshold=70))
        fake.seed_candles("KRW-BTC", "5m", closes); fake.candle_closes("KRW-BTC", "5m"); fake.restart_indicators()

Documented choices where Upbit's documentation is silent:

* Rate excess on a connection (over 5 requests in any 1 s or 100 in any 60 s window) is answered
  with ``{"error":{"name":"Too Many Requests","message":"요청 한도 초과"}}`` (the name the type pages
  list) and the request is ignored; refused requests do not count. Handshakes beyond 5 per second
  (server-wide, the fake has one IP) get HTTP 429; ``teapot_after`` 429s within 60 s ban every
  handshake with HTTP 418 for ``teapot_seconds`` (``Retry-After`` header). Requests too: ``teapot_after``
  rate-limit refusals within 60 s on one connection make every request on it answered
  ``{"error":{"name":"I'm a teapot",…}}`` for ``teapot_seconds`` (418 is documented per connection).
* A connection whose handshake carried an ``Origin`` header may make 1 request in any 10 s
  (documented for Quotation requests; ``origin_rule=False`` lifts it); the excess is answered
  ``Too Many Requests``. Handshakes with an ``Origin`` header are not limited further.
* A private type on the public endpoint is ``INVALID_AUTH`` (documented cause: "private type without
  authentication"); a public type on the private endpoint, an unknown type, format, method, code,
  flag or level value is ``INVALID_PARAM``; codes on myAsset are ``WRONG_FORMAT``. An unknown or
  lower-case code fails the whole request (``unknown_codes="reject"``, default) or is dropped, the
  rest of the request standing (``"ignore"``; LIST_SUBSCRIPTIONS still echoes it).
* A private connection with a missing or bad token is accepted and every request on it is answered
  ``INVALID_AUTH`` (``auth_failure="frame"``, default) or the handshake is refused with HTTP 401
  (``auth_failure="http"``). Tokens are HS256 or HS512 over the raw secret; a nonce is single use
  (``reject_reused_nonce=True``, default: the docs ask for a new nonce per request; whether Upbit
  enforces it on WebSocket is undocumented). ccxt.pro's private reconnect re-sends its token, so
  it needs ``reject_reused_nonce=False`` (``serve --allow-reused-nonce``).
* The format of a request without a Format object is the connection's current one (DEFAULT at
  first); LIST_SUBSCRIPTIONS replies with an object (also in *_LIST formats), lists only realtime
  streams, echoes codes as requested (``KRW-BTC.15``) and gives ``level`` on orderbook entries.
* ``is_only_snapshot`` and ``is_only_realtime`` both true means snapshot only. Orderbook depth other
  than 1/5/15/30 gives 30; an unsupported ``level`` (not a multiple of the KRW tick, non-zero on
  BTC/USDT markets) is accepted and streams nothing, as the docs warn. ``total_*_size`` sum the units sent.
* Every server frame is binary UTF-8 JSON (also ``{"status":"UP"}``, one per text ``PING``);
  a *_LIST frame carries every event queued for the connection when it is sent (up to 64 and
  64 KiB), as Upbit's samples show several per frame; events produced one at a time go one per frame. Idle connections (no bytes either way for ``idle_timeout``)
  lose their TCP connection without a close frame (``idle_close="abrupt"``, default: the lost
  connection Upbit's best-practice page describes) or get close code 1000 "Idle Timeout" (``"clean"``).
* permessage-deflate (RFC 7692; Upbit documents it, not its parameters) is agreed with every client
  that offers it, on the parameters the client asks for (window sizes, no context takeover);
  ``compression=False`` (``serve --no-compression``) never agrees. Once agreed, every server data
  frame goes out compressed, blast mode's too (frame by frame through the compressor), so such a
  client inflates each one as it would on Upbit; ``fake.connections[i].deflate`` and the
  handshake's ``RequestRecord.deflate`` hold what was agreed (None: uncompressed). A path ending in ``/private`` or
  ``/info`` is that endpoint (both authenticated alike), any other path the public one.
* Candles go out at every whole second of the exchange's clock (``now_ms``, wall time unless
  ``epoch_ms`` is given), each candle a trade changed since the previous second once, stamped with
  that second. A period that ended since then gets its final update first, so the last frame of
  every ``candle_date_time`` equals its trades (open of the first, close of the last, summed volume
  and ``price × volume``); a period without trades gets no frame.
* In replay mode the recording is the market: each recorded event goes out as a live one would
  (in the connection's format, orderbooks cut to the asked depth; a ``level`` groups a level-0 KRW
  book as live, any other level streams nothing; ``total_*_size`` then sum the units sent; fields
  the codec does not know are not replayed). Recorded SNAPSHOT events are not streamed: a
  snapshot is the latest replayed event of that type and code (re-stamped SNAPSHOT, shaped the
  same way), sent only where the request asks for one, and none for a code the recording has not
  reached yet. ``verbatim=True`` (``serve --verbatim``) streams the recorded frames byte for byte.
  A file without a recording line is refused at start; skipped lines are counted (``replay_skipped``).

The 2026 types (``announcement`` on ``/private``, ``indicator``/``indicator_signal`` on ``/info``):

* A type on another endpoint than its own is ``INVALID_AUTH`` on the public one, else ``INVALID_PARAM``.
  On ``/info`` every refused request (validation, rate excess — named ``TOO_MANY_REQUEST`` there —,
  ``INVALID_AUTH``) gets its error frame, then a close with 1008 (policy violation; the official SDK
  reconnects on any code but 1000/1001); what arrives meanwhile is ignored. Other endpoints stay open.
* Indicator requests: a missing ``timeframe``, ``indicators``, ``params``, ``trigger`` or required
  ``event_params``, an empty ``codes``/``indicators`` list, an unknown key inside an item, its
  ``params`` or ``event_params``, ``event_params`` on a trigger without any (``{}`` is accepted), a
  period written ``14.0``, and one combination (type, code, timeframe, params, trigger, event
  parameter) twice in a message are ``INVALID_PARAM``; the 100-combination cap is checked first.
  Any code is accepted and streams nothing unless it is a listed KRW market of the simulation.
* ``announcement``: the categories accepted are the 13 the SDK knows (``strict_categories=True``:
  the 8 documented); an empty list is ``INVALID_PARAM``, ``codes`` ``WRONG_FORMAT``, null means not
  given. A connection gets a notice once if any of its announcement objects takes the category,
  with ``body`` if any of those asked for it (null when the body is "too large").
* LIST_SUBSCRIPTIONS echoes announcement ``categories``/``include_body`` only when given, indicator
  objects as ``{type, codes, timeframe, indicators}`` with normalised numbers (``2.0``) and, for
  signals, always ``event_params`` (``{}`` when none); SIMPLE abbreviates only ``ty`` and ``cds``.
* Candles close on UTC boundaries (``1d`` at 00:00 UTC); values go out at the close (``timestamp``
  the boundary), one frame per code and indicator in subscription order. A (market, timeframe)
  history starts with 260 seeded synthetic closes, so values exist from the first close; a candle
  closes at the market's last trade price with the volume traded since the previous close.
  Textbook formulas (SMA, EMA seeded with the SMA, Wilder's RSI, population deviation, volume
  ratio against the ``period`` candles before), reported rounded to 8 decimal places.
* Signal states belong to the market (derived from its history, whoever subscribes), so the first
  close after subscribing fires if it is a transition. ``≥``/``≤`` for RSI thresholds and volume
  spikes (never without volume); an equal comparison keeps the last differing state for moving
  averages, crossovers, every MACD trigger and Bollinger bands. ``restart_indicators()`` suppresses
  the next close's signals; ``inject_indicator``/``force_signal`` reach the subscribers of exactly
  that combination, listed or not, leaving states alone; ``close_candle()`` closes the candle in
  progress now, and the clock then skips it.

TLS and the control port (``upbit-stream serve --tls --control PORT`` runs both):

* ``open_fake_upbit(tls=True)`` makes a CA and a certificate for ``127.0.0.1``, ``localhost`` and
  ``::1`` (needs ``trustme``: the ``fake-tls`` extra) and serves ``wss://``. ``fake.ca_path`` is the
  CA's PEM file, which a client trusts (``SSL_CERT_FILE=…`` for anything built on
  ``ssl.create_default_context()``, this library's session included); it lives in a temporary
  directory removed when the block ends, or in ``tls_dir`` (kept, with ``server.pem``, mode 0600).
* ``open_fake_upbit(control_port=0)`` listens on ``127.0.0.1`` only (``fake.control_port``) for a line
  protocol any language can speak: UTF-8 lines (LF or CRLF, at most 64 KiB; a longer one is answered
  ``error`` and the connection closed), one command each, answered in order by one line ``ok`` or
  ``ok RESULT`` or ``error REASON``; ``help`` first sends one ``# …`` line per command. Blank lines
  and ``#`` comments get ``ok``. At most 8 control connections at once (the 9th gets ``error`` and is
  closed). ENDPOINT is ``public``, ``private``, ``info`` or ``all`` (default all). The commands and
  the control each one calls:

  - ``place CODE bid|ask limit PRICE VOLUME [IDENTIFIER]``, ``place CODE bid price TOTAL``,
    ``place CODE ask market VOLUME`` → ``ok UUID`` (``place_order``); ``fill UUID [VOLUME [PRICE]]``
    (``fill``); ``cancel UUID`` (``cancel``); ``deposit CURRENCY AMOUNT`` (``deposit``).
  - ``announce CATEGORY TITLE…`` or ``announce {JSON}`` with ``title`` and any of ``category``,
    ``event_type``, ``uuid``, ``url``, ``body``, ``body_too_large``, ``first_listed_at``,
    ``listed_at`` → ``ok UUID`` (``publish_announcement``).
  - ``tick [N] [CODE]`` → ``ok N`` (``tick``, N ≤ 10000); ``drop [ENDPOINT]`` and
    ``stall [SECONDS|forever] [ENDPOINT]`` → ``ok CONNECTIONS`` (``drop_all``, ``stall``); ``resume``;
    ``refuse-handshakes N [STATUS]`` (429 by default); ``refuse-stream TYPE CODE [NAME [MESSAGE…]]``;
    ``delist CODE``; ``delay SECONDS``.
  - ``close-candle [TIMEFRAME]`` → ``ok CANDLE_START_UTC`` (``close_candle``, 5m by default);
    ``indicator CODE TIMEFRAME INDICATOR FIELD=N…`` (``inject_indicator``) and
    ``signal CODE TIMEFRAME INDICATOR TRIGGER [threshold=N|multiplier=X] [FIELD=N…]``
    (``force_signal``), INDICATOR written ``rsi:14``, ``volume:20``, ``sma:20``, ``ema:20``,
    ``bollinger:20x2.0``, ``cross:5/20``, ``cross:EMA:20/60`` or ``macd:12/26/9`` and the FIELDs
    those of its value class (``rsi=71.5``; ``macd=… macd_signal=… histogram=…``).
  - ``inject [ENDPOINT] TEXT…`` sends TEXT as one binary frame (as Upbit frames are),
    ``inject-text [ENDPOINT] TEXT…`` as a text frame → ``ok CONNECTIONS`` (``send_raw``).
  - ``connections`` → ``ok public=N private=N info=N``; ``wait-request TYPE [SECONDS]`` answers
    ``ok`` once a request subscribing to TYPE (``myOrder``, ``ticker``, …) has been logged, or
    ``error`` after SECONDS (10, at most 60), so a script acts after its client subscribed.

  A refusal by the control itself (an unknown order, insufficient funds, an unknown market) is
  ``error`` with its message.
"""

from ._auth import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from ._market import MARKETS, Market, tick_size
from ._replay import ReplayFrame, load_replay
from ._server import FakeUpbit, RequestRecord, open_fake_upbit

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_SECRET_KEY",
    "MARKETS",
    "FakeUpbit",
    "Market",
    "ReplayFrame",
    "RequestRecord",
    "load_replay",
    "open_fake_upbit",
    "tick_size",
]


def _fix_module_names() -> None:
    """Show public classes as ``upbit_stream.testing.X`` in reprs and tracebacks."""
    for name in __all__:
        value = globals()[name]
        if getattr(value, "__module__", "").startswith(__name__ + "._"):
            try:
                value.__module__ = __name__
            except (AttributeError, TypeError):
                pass


_fix_module_names()
