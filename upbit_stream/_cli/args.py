"""Arguments of ``upbit-stream``: the parser, its help layout, one-line errors and the value types."""

from __future__ import annotations

import argparse
import math
import shutil
import textwrap
from typing import Any
from urllib.parse import urlsplit

from .._core.indicators import rsi, signal
from .._core.specs import (
    ticker,
)
from .args_info import add_indicator_options, add_info_views, add_signal_option
from .args_relay import add_relay
from .args_serve import add_serve_options
from .values import parse_duration, parse_size, parse_targets

__all__ = ["USAGE", "build_parser", "parse_duration", "parse_size", "parse_targets"]  # the last three: values

USAGE = 2  # the exit status of bad arguments
FORMATS = ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST")
DEPTHS = (1, 5, 15, 30)


def _help_width() -> int:
    return min(100, shutil.get_terminal_size().columns - 2)


def _formatter(prog: str) -> argparse.HelpFormatter:
    """Help at most 100 columns wide; descriptions and epilogs arrive already wrapped (``_wrapped``)."""
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=28, width=_help_width())


def _wrapped(text: str | None) -> str | None:
    """``text`` with its paragraphs re-wrapped to the help width; indented ones (examples) kept as written."""
    if text is None:
        return None
    paragraphs = []
    for paragraph in text.split("\n\n"):
        if any(line.startswith(" ") for line in paragraph.splitlines()):
            paragraphs.append(paragraph)
        else:
            paragraphs.append(textwrap.fill(" ".join(paragraph.split()), _help_width()))
    return "\n\n".join(paragraphs)


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (exit 2), with a pointer to ``--help``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _formatter)
        for text in ("description", "epilog"):
            kwargs[text] = _wrapped(kwargs.get(text))
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- argument types: each raises ArgumentTypeError with a message that says what is expected -------


def _code(value: str) -> str:
    if "." in value:
        raise argparse.ArgumentTypeError(f"code {value!r} carries a depth suffix: write {value.partition('.')[0]} "
                                         "(orderbook views and records take --depth N)")
    try:
        ticker(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _depth(value: str) -> int:
    if value.isdigit() and int(value) in DEPTHS:
        return int(value)
    raise argparse.ArgumentTypeError(f"depth must be one of {', '.join(map(str, DEPTHS))}: got {value!r}")


def _seconds(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _size(value: str) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("upbit-stream")
    except PackageNotFoundError:  # running from a checkout that was never installed
        from .. import __version__

        return __version__


def _number(low: float, high: float = float("inf"), *, above: bool = False, whole: bool = False) -> Any:
    """An argument type for a number within [low, high] (above ``low`` when ``above``)."""
    def parse(value: str) -> float:
        try:
            number = int(value) if whole else float(value)
        except ValueError:
            number = math.nan
        if not (number > low if above else number >= low) or not number <= high:
            bound = f"above {low:g}" if above else f"from {low:g}"
            upper = f" to {high:g}" if high != float("inf") else ""
            kind = "a whole number" if whole else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind} {bound}{upper}: got {value!r}")
        return number

    return parse


def _count(value: str) -> int:
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise argparse.ArgumentTypeError(f"expected a whole number above 0: got {value!r}")


def _format(value: str) -> str:
    if value.upper() in FORMATS:
        return value.upper()
    raise argparse.ArgumentTypeError(f"format must be one of {', '.join(FORMATS)}: got {value!r}")


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected a ws:// or wss:// URL: got {value!r}")
    return value


#: Stands in for ``--signal``'s conditions while one target's codes and timeframe are checked; cmd_record checks those.
_ANY_SIGNAL = (signal(rsi(14), "oversold", threshold=30),)


def _target(value: str) -> str:
    try:
        parse_targets([value], signals=_ANY_SIGNAL)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _keys(value: str) -> tuple[str, str]:
    access, sep, secret = value.partition(":")
    if not sep or not access or not secret:
        raise argparse.ArgumentTypeError("expected ACCESS:SECRET")
    return access, secret


# -- the parser -----------------------------------------------------------------------------------

_DESCRIPTION = """\
Upbit real-time WebSocket toolkit: live views, recording to JSONL, and an offline fake exchange.

Commands that connect use Upbit (wss://api.upbit.com) unless --url or upbit_stream.toml says
otherwise. Private types read keys from UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY."""

_EPILOG = """\
examples:
  upbit-stream demo                                   offline: fake exchange + live tickers
  upbit-stream watch ticker KRW-BTC KRW-ETH           live prices from Upbit
  upbit-stream watch orderbook KRW-BTC --depth 5
  upbit-stream watch trade KRW-BTC KRW-ETH
  upbit-stream record ticker:KRW-BTC trade:KRW-BTC -o btc.jsonl.gz --rotate-every 1h
  upbit-stream serve --replay btc.jsonl.gz            replay a recording to any client
  upbit-stream config init                            write upbit_stream.toml

exit status: 0 done (also after SIGTERM), 1 failed, 2 bad arguments, 130 Ctrl-C."""

_RECORD_EPILOG = """\
TYPES: ticker, trade, orderbook, candle.1s candle.1m candle.3m candle.5m candle.10m candle.15m
candle.30m candle.60m candle.240m (codes after a colon, comma-separated), my_order[:CODES] (no
codes: every market), my_asset, announcement[:CATEGORIES], indicator.TIMEFRAME:KRW-CODES (the
--rsi/--macd/… options, RSI 14 by default) and indicator_signal.TIMEFRAME:KRW-CODES (those
indicators with --signal TRIGGER[=VALUE], e.g. --rsi 14 --signal oversold=30). Private types and
the last three need UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY.

Each line is {"t": <unix receive time>, "endpoint": "public"|"private"|"info", "frame": "<raw frame>"},
which `upbit-stream serve --replay FILE` and upbit_stream.testing.load_replay read. A name ending
in .gz is gzip-compressed. With --rotate-size or --rotate-every the files are numbered
(btc-0001.jsonl.gz, btc-0002.jsonl.gz, ...); --rotate-every cuts on multiples of the interval
(1h: every UTC hour). Ctrl-C or SIGTERM stops cleanly: every frame received is written and the
files are closed; a second Ctrl-C stops at once.

example:
  upbit-stream record ticker:KRW-BTC,KRW-ETH trade:KRW-BTC orderbook:KRW-BTC -o data.jsonl.gz"""


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", type=_url, help="public endpoint, e.g. the fake exchange's "
                        "ws://127.0.0.1:PORT/websocket/v1 (default: Upbit, or connection.public_url in "
                        "upbit_stream.toml)")
    parser.add_argument("--config", metavar="FILE", help="settings file (default: ./upbit_stream.toml if present)")
    parser.add_argument("--seconds", type=_seconds, default=math.inf, metavar="DURATION",
                        help="stop after this long (90, 90s, 15m, 1h; default: until Ctrl-C)")


def build_parser() -> argparse.ArgumentParser:
    """The whole parser; each leaf sets ``command`` to the name of the function that runs it."""
    parser = _Parser(prog="upbit-stream", description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"upbit-stream {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for add in (_add_demo, _add_watch, _add_record, _add_serve, _add_config, _add_bench):
        add(sub)
    add_relay(sub, _target, _seconds, _size, _add_connection_options)
    return parser


Commands = Any  # argparse's _SubParsersAction, which is private


def _add_demo(sub: Commands) -> None:
    demo = sub.add_parser("demo", help="offline demo: the fake exchange in-process and a live ticker table",
                          description="Run the fake exchange in this process and watch its tickers: no network "
                          "needed.")
    demo.add_argument("--seconds", type=_seconds, default=math.inf, metavar="DURATION", help="stop after this long")
    demo.add_argument("--rate", type=_number(0, above=True), default=200.0,
                      help="simulated trades per second (default 200)")
    demo.set_defaults(command="demo")


def _add_watch(sub: Commands) -> None:
    watch = sub.add_parser("watch", help="live terminal views: tickers, order book, trade tape, notices, indicators",
                           description="Live terminal views. Colours show rises (red) and falls (blue), as on "
                           "Upbit; no colours when the output is not a terminal or NO_COLOR is set.")
    views = watch.add_subparsers(dest="view", required=True, title="views")
    view = views.add_parser("ticker", help="price, change and 24 h volume of each code",
                            description="A live table: price, change from the previous close, 24 h volume, and "
                            "how long ago each code last updated.")
    view.add_argument("codes", nargs="+", type=_code, metavar="CODE", help="market codes, e.g. KRW-BTC KRW-ETH")
    _add_connection_options(view)
    view.set_defaults(command="watch_ticker")
    view = views.add_parser("orderbook", help="bid/ask ladder of one code, with spread and imbalance",
                            description="A live order book ladder: asks above, bids below, the spread between, "
                            "and the size imbalance of the levels shown.")
    view.add_argument("code", type=_code, metavar="CODE", help="market code, e.g. KRW-BTC")
    view.add_argument("--depth", type=_depth, metavar="N", default=15,
                      help="levels per side: 1, 5, 15 or 30 (default 15)")
    _add_connection_options(view)
    view.set_defaults(command="watch_orderbook")
    view = views.add_parser("trade", help="scrolling tape of every trade",
                            description="One line per trade as it happens: time, code, the taker's side (BUY "
                            "red, SELL blue), price and volume.")
    view.add_argument("codes", nargs="+", type=_code, metavar="CODE", help="market codes, e.g. KRW-BTC KRW-ETH")
    _add_connection_options(view)
    view.set_defaults(command="watch_trade")
    add_info_views(views, _code, _add_connection_options)


def _add_record(sub: Commands) -> None:
    rec = sub.add_parser("record", help="write raw frames with receive times to JSONL (optionally gzip)",
                         usage="upbit-stream record TYPE:CODES [TYPE:CODES ...] -o FILE [options]",
                         description="Subscribe through a session (reconnects, rate limits and fresh snapshots "
                         "included) and write every frame its connections receive, exactly as received.",
                         epilog=_RECORD_EPILOG)
    rec.add_argument("targets", nargs="+", type=_target, metavar="TYPE:CODES",
                     help="what to record, e.g. ticker:KRW-BTC,KRW-ETH")
    rec.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write (.gz: compressed)")
    rec.add_argument("--gzip", action="store_true", help="compress (adds .gz to FILE if missing)")
    rec.add_argument("--force", action="store_true", help="replace existing files")
    rec.add_argument("--format", type=_format, help=f"wire format to ask for: {', '.join(FORMATS)} (default DEFAULT)")
    rec.add_argument("--depth", type=_depth, metavar="N", help="orderbook levels: 1, 5, 15 or 30 (default 30)")
    rec.add_argument("--realtime-only", action="store_true", help="no snapshots, only realtime frames")
    add_indicator_options(rec)  # what indicator.TIMEFRAME targets compute (RSI 14 when none is named)
    add_signal_option(rec)  # what indicator_signal.TIMEFRAME targets watch those indicators for
    rec.add_argument("--count", type=_count, metavar="N", help="stop after N frames")
    rec.add_argument("--rotate-size", type=_size, metavar="SIZE", help="start a new file at this size (100MB, 1GiB)")
    rec.add_argument("--rotate-every", type=_seconds, metavar="DURATION",
                     help="start a new file every interval (1h, 15m)")
    rec.add_argument("--private-url", type=_url, metavar="URL",
                     help="private endpoint (default: --url + /private, or Upbit's)")
    _add_connection_options(rec)
    rec.set_defaults(command="record")


def _add_serve(sub: Commands) -> None:
    serve = sub.add_parser("serve", help="run the fake Upbit exchange (or replay a recording) until Ctrl-C",
                           description="Run the fake Upbit exchange in the foreground; it prints its URLs and "
                           "test keys.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_number(0, 65535, whole=True), default=0,
                       help="port (default: an ephemeral port)")
    serve.add_argument("--rate", type=_number(0), default=50.0, help="simulated trades per second (default 50)")
    serve.add_argument("--blast", action="store_true", help="send pre-encoded frames as fast as possible")
    serve.add_argument("--blast-rate", type=float, metavar="N",
                       help="with --blast: N frames per second per connection, stamped with the send time")
    serve.add_argument("--seed", type=int, default=0, help="random walk seed (default 0)")
    serve.add_argument("--replay", metavar="FILE", help="serve a recording (from `record`) instead of the simulation")
    serve.add_argument("--pace", choices=("recorded", "fast"), default="recorded",
                       help="replay with the recorded gaps (default) or as fast as possible")
    serve.add_argument("--loop", action="store_true", help="repeat the replay forever")
    serve.add_argument("--keys", type=_keys, action="append", metavar="ACCESS:SECRET",
                       help="test API key pair (repeatable; default: the built-in test pair)")
    serve.add_argument("--idle-timeout", type=_number(0, above=True), default=120.0,
                       help="idle close in seconds (default 120)")
    add_serve_options(serve)
    serve.set_defaults(command="serve")


def _add_config(sub: Commands) -> None:
    config = sub.add_parser("config", help="write or show upbit_stream.toml",
                            description="The settings file: every setting documented, with its default.")
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    init = actions.add_parser("init", help="write the documented settings file",
                              description="Write upbit_stream.toml (mode 0600) with every setting, its "
                              "documentation and its default. API keys stay in the environment.")
    init.add_argument("path", nargs="?", metavar="PATH", help="where to write (default ./upbit_stream.toml)")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.set_defaults(command="config_init")
    show = actions.add_parser("show", help="print the settings in effect (file + environment)",
                              description="Print the settings in effect, after the file and UPBIT_STREAM_* "
                              "variables.")
    show.add_argument("path", nargs="?", metavar="PATH", help="settings file (default ./upbit_stream.toml)")
    show.set_defaults(command="config_show")


def _add_bench(sub: Commands) -> None:
    bench = sub.add_parser("bench", help="run the repository's benchmarks and print their tables",
                           description="Run benchmarks/bench_core.py and bench_pipeline.py (and with --peers "
                           "compare_peers.py) with this Python. Needs a source checkout, not just the package.")
    bench.add_argument("--quick", action="store_true", help="shorter runs (rougher figures)")
    bench.add_argument("--peers", action="store_true", help="also compare with other Upbit clients (compare_peers.py)")
    bench.set_defaults(command="bench")
