"""The ``upbit-stream`` command line: argument parsing, one function per subcommand, exit statuses."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trio

from ._errors import UpbitStreamError
from ._groups import single_errors

__all__ = ["main"]

#: Exit statuses: 0 done (also after SIGTERM: a clean stop), 1 the work failed, 2 bad arguments,
#: 130 interrupted with Ctrl-C (after cleaning up).
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130
DEMO_CODES = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "BTC-ETH", "USDT-BTC")
FORMATS = ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST")
DEPTHS = (1, 5, 15, 30)


class _Formatter(argparse.HelpFormatter):
    """Help text at most 100 columns wide; paragraphs are re-wrapped, indented ones (examples) kept."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=28, width=min(100, shutil.get_terminal_size().columns - 2))
        self._action_max_length = 14  # room for sub-command names like "orderbook" beside their help

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            if any(line.startswith(" ") for line in paragraph.splitlines()):
                paragraphs.append("\n".join(indent + line for line in paragraph.splitlines()))
            else:
                paragraphs.append(textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent,
                                                subsequent_indent=indent))
        return "\n\n".join(paragraphs)


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (exit 2), with a pointer to ``--help``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- argument types: each raises ArgumentTypeError with a message that says what is expected -------


def _code(value: str) -> str:
    from ._specs import ticker

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
    from ._record import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _size(value: str) -> int:
    from ._record import parse_size

    try:
        return parse_size(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
codes: every market), my_asset. Private types need UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY.

Each line is {"t": <unix receive time>, "endpoint": "public"|"private", "frame": "<raw frame>"},
which `upbit-stream serve --replay FILE` and upbit_stream.testing.load_replay read. A name ending
in .gz is gzip-compressed. With --rotate-size or --rotate-every the files are numbered
(btc-0001.jsonl.gz, btc-0002.jsonl.gz, ...); --rotate-every cuts on multiples of the interval
(1h: every UTC hour). Ctrl-C or SIGTERM stops cleanly: every frame received is written and the
files are closed; a second Ctrl-C stops at once.

example:
  upbit-stream record ticker:KRW-BTC,KRW-ETH trade:KRW-BTC orderbook:KRW-BTC -o data.jsonl.gz"""


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", type=_url, help="public endpoint, e.g. the fake exchange's ws://127.0.0.1:PORT/websocket/v1 "
                        "(default: Upbit, or connection.public_url in upbit_stream.toml)")
    parser.add_argument("--config", metavar="FILE", help="settings file (default: ./upbit_stream.toml if present)")
    parser.add_argument("--seconds", type=_seconds, default=math.inf, metavar="DURATION",
                        help="stop after this long (90, 90s, 15m, 1h; default: until Ctrl-C)")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="upbit-stream", description=_DESCRIPTION, epilog=_EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")

    demo = sub.add_parser("demo", help="offline demo: the fake exchange in-process and a live ticker table",
                          description="Run the fake exchange in this process and watch its tickers: no network needed.")
    demo.add_argument("--seconds", type=_seconds, default=math.inf, metavar="DURATION", help="stop after this long")
    demo.add_argument("--rate", type=float, default=200.0, help="simulated trades per second (default 200)")
    demo.set_defaults(func=cmd_demo)

    watch = sub.add_parser("watch", help="live terminal views: ticker table, order book ladder, trade tape",
                           description="Live terminal views. Colours show rises (red) and falls (blue), as on "
                           "Upbit; no colours when the output is not a terminal or NO_COLOR is set.")
    views = watch.add_subparsers(dest="view", required=True, metavar="VIEW", title="views")
    view = views.add_parser("ticker", help="price, change and 24 h volume of each code",
                            description="A live table: price, change from the previous close, 24 h volume, and "
                            "how long ago each code last updated.")
    view.add_argument("codes", nargs="+", type=_code, metavar="CODE", help="market codes, e.g. KRW-BTC KRW-ETH")
    _add_connection_options(view)
    view.set_defaults(func=cmd_watch_ticker)
    view = views.add_parser("orderbook", help="bid/ask ladder of one code, with spread and imbalance",
                            description="A live order book ladder: asks above, bids below, the spread between, "
                            "and the size imbalance of the levels shown.")
    view.add_argument("code", type=_code, metavar="CODE", help="market code, e.g. KRW-BTC")
    view.add_argument("--depth", type=_depth, metavar="N", default=15, help="levels per side: 1, 5, 15 or 30 (default 15)")
    _add_connection_options(view)
    view.set_defaults(func=cmd_watch_orderbook)
    view = views.add_parser("trade", help="scrolling tape of every trade",
                            description="One line per trade as it happens: time, code, the taker's side (BUY "
                            "red, SELL blue), price and volume.")
    view.add_argument("codes", nargs="+", type=_code, metavar="CODE", help="market codes, e.g. KRW-BTC KRW-ETH")
    _add_connection_options(view)
    view.set_defaults(func=cmd_watch_trade)

    rec = sub.add_parser("record", help="write raw frames with receive times to JSONL (optionally gzip)",
                         usage="upbit-stream record TYPE:CODES [TYPE:CODES ...] -o FILE [options]",
                         description="Subscribe through a session (reconnects, rate limits and fresh snapshots "
                         "included) and write every frame its connections receive, exactly as received.",
                         epilog=_RECORD_EPILOG)
    rec.add_argument("targets", nargs="+", metavar="TYPE:CODES", help="what to record, e.g. ticker:KRW-BTC,KRW-ETH")
    rec.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write (.gz: compressed)")
    rec.add_argument("--gzip", action="store_true", help="compress (adds .gz to FILE if missing)")
    rec.add_argument("--force", action="store_true", help="replace existing files")
    rec.add_argument("--format", type=_format, help=f"wire format to ask for: {', '.join(FORMATS)} (default DEFAULT)")
    rec.add_argument("--depth", type=_depth, metavar="N", help="orderbook levels: 1, 5, 15 or 30 (default 30)")
    rec.add_argument("--realtime-only", action="store_true", help="no snapshots, only realtime frames")
    rec.add_argument("--count", type=_count, metavar="N", help="stop after N frames")
    rec.add_argument("--rotate-size", type=_size, metavar="SIZE", help="start a new file at this size (100MB, 1GiB)")
    rec.add_argument("--rotate-every", type=_seconds, metavar="DURATION", help="start a new file every interval (1h, 15m)")
    rec.add_argument("--private-url", type=_url, metavar="URL", help="private endpoint (default: --url + /private, or Upbit's)")
    _add_connection_options(rec)
    rec.set_defaults(func=cmd_record)

    serve = sub.add_parser("serve", help="run the fake Upbit exchange (or replay a recording) until Ctrl-C",
                           description="Run the fake Upbit exchange in the foreground; it prints its URLs and test keys.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default: an ephemeral port)")
    serve.add_argument("--rate", type=float, default=50.0, help="simulated trades per second (default 50)")
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
    serve.add_argument("--idle-timeout", type=float, default=120.0, help="idle close in seconds (default 120)")
    serve.set_defaults(func=cmd_serve)

    config = sub.add_parser("config", help="write or show upbit_stream.toml",
                            description="The settings file: every setting documented, with its default.")
    config_sub = config.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    init = config_sub.add_parser("init", help="write the documented settings file",
                                 description="Write upbit_stream.toml (mode 0600) with every setting, its "
                                 "documentation and its default. API keys stay in the environment.")
    init.add_argument("path", nargs="?", default=None, metavar="PATH", help="where to write (default ./upbit_stream.toml)")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.set_defaults(func=cmd_config_init)
    show = config_sub.add_parser("show", help="print the settings in effect (file + environment)",
                                 description="Print the settings in effect, after the file and UPBIT_STREAM_* variables.")
    show.add_argument("path", nargs="?", default=None, metavar="PATH", help="settings file (default ./upbit_stream.toml)")
    show.set_defaults(func=cmd_config_show)

    bench = sub.add_parser("bench", help="run the repository's benchmarks and print their tables",
                           description="Run benchmarks/bench_core.py and bench_pipeline.py (and with --peers "
                           "compare_peers.py) with this Python. Needs a source checkout, not just the package.")
    bench.add_argument("--quick", action="store_true", help="shorter runs (rougher figures)")
    bench.add_argument("--peers", action="store_true", help="also compare with other Upbit clients (compare_peers.py)")
    bench.set_defaults(func=cmd_bench)
    return parser


# -- running: signals, errors, exit statuses ------------------------------------------------------


def _run(body: Callable[[trio.Event], Awaitable[int]], *, graceful: bool = False) -> int:
    """Run ``body(stop)`` under trio; Ctrl-C gives 130, SIGTERM 0, a library or OS error 1.

    ``graceful``: the first signal only sets ``stop`` (the body finishes its work), a second one
    cancels. Otherwise the first signal cancels the body.
    """
    try:
        return trio.run(_until_signal, body, graceful)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:  # the reader of our output left (`… | head`): nothing more to say
        _silence_stdout()
        return OK
    except (UpbitStreamError, OSError) as exc:
        _fail(exc)
        return FAILED


async def _until_signal(body: Callable[[trio.Event], Awaitable[int]], graceful: bool) -> int:
    stop = trio.Event()
    seen: list[int] = []
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        with trio.CancelScope() as body_scope:

            async def listen() -> None:
                async for signum in signals:
                    seen.append(signum)
                    if graceful and len(seen) == 1:
                        stop.set()
                    else:
                        body_scope.cancel()

            with single_errors():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(listen)
                    status = await body(stop)
                    nursery.cancel_scope.cancel()
    if seen:
        return INTERRUPTED if seen[0] == signal.SIGINT else OK
    return status


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not complain about the pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _fail(exc: BaseException) -> None:
    notes = "; ".join(getattr(exc, "__notes__", ()))
    text = str(exc) or exc.__class__.__name__
    print(f"upbit-stream: {text}{f' ({notes})' if notes else ''}", file=sys.stderr)


def _settings(args: argparse.Namespace) -> object:
    from ._settings import Settings

    settings = Settings.load(args.config)
    connection: dict[str, object] = {}
    if args.url:
        connection["public_url"] = args.url
        connection["private_url"] = args.url.rstrip("/") + "/private"
    if getattr(args, "private_url", None):
        connection["private_url"] = args.private_url
    if getattr(args, "format", None):
        connection["format"] = args.format
    return settings.evolve(connection=connection) if connection else settings


def _view(args: argparse.Namespace, show: Callable[..., Awaitable[int]], *what: object, **options: object) -> int:
    try:
        settings = _settings(args)
    except (UpbitStreamError, OSError) as exc:
        _fail(exc)
        return FAILED
    title = f"upbit-stream watch {args.view} — {getattr(settings, 'public_url', '')}"

    async def body(stop: trio.Event) -> int:
        return await show(*what, settings, seconds=args.seconds, title=title, **options)

    return _run(body)


# -- the commands ---------------------------------------------------------------------------------


def cmd_watch_ticker(args: argparse.Namespace) -> int:
    """A live ticker table."""
    from ._watch import watch_tickers

    return _view(args, watch_tickers, args.codes)


def cmd_watch_orderbook(args: argparse.Namespace) -> int:
    """A live order book ladder."""
    from ._watch_book import watch_orderbook

    return _view(args, watch_orderbook, args.code, depth=args.depth)


def cmd_watch_trade(args: argparse.Namespace) -> int:
    """A scrolling trade tape."""
    from ._watch_tape import watch_trades

    return _view(args, watch_trades, args.codes)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the fake exchange in-process and watch its tickers: no network needed."""
    from ._settings import Settings
    from ._watch import watch_tickers
    from .testing import open_fake_upbit

    async def body(stop: trio.Event) -> int:
        async with open_fake_upbit(rate=args.rate, seed=1) as fake:
            settings = Settings().evolve(connection={"public_url": fake.public_url, "private_url": fake.private_url})
            title = f"upbit-stream demo — fake exchange at {fake.public_url}"
            return await watch_tickers(DEMO_CODES, settings, seconds=args.seconds, title=title)

    return _run(body)


def cmd_record(args: argparse.Namespace) -> int:
    """Record raw frames to JSONL."""
    from ._record import RecordingWriter, parse_targets, record

    try:
        specs = parse_targets(args.targets, depth=args.depth, realtime_only=args.realtime_only)
    except ValueError as exc:
        _parser_for("record").error(str(exc))
    writer = RecordingWriter(args.output, compress=True if args.gzip else None, rotate_size=args.rotate_size,
                             rotate_every=args.rotate_every, overwrite=args.force)
    existing = writer.existing()
    if existing and not args.force:
        print(f"upbit-stream record: {existing[0]} exists; use --force to replace it", file=sys.stderr)
        return FAILED
    try:
        settings = _settings(args)
    except (UpbitStreamError, OSError) as exc:
        _fail(exc)
        return FAILED
    summary: list[object] = []

    async def body(stop: trio.Event) -> int:
        try:
            summary.append(await record(specs, settings, writer, stop=stop, seconds=args.seconds,  # type: ignore[arg-type]
                                        count=args.count, progress=sys.stderr))
        finally:
            # Also after a failure or a second Ctrl-C: say what is on disk.
            if not summary:
                from ._record import Summary

                summary.append(Summary(writer.frames, tuple(writer.files), writer.size))
            print(summary[0].describe(), flush=True)  # type: ignore[attr-defined]
        return OK

    return _run(body, graceful=True)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the fake exchange until Ctrl-C (or SIGTERM)."""
    from .testing import open_fake_upbit

    async def body(stop: trio.Event) -> int:
        async with open_fake_upbit(
            host=args.host, port=args.port, rate=args.rate, blast=args.blast, blast_rate=args.blast_rate, seed=args.seed,
            replay=args.replay, pace=args.pace, replay_loop=args.loop,
            keys=dict(args.keys) if args.keys else None, idle_timeout=args.idle_timeout,
        ) as fake:
            print(f"fake Upbit exchange listening (seed {args.seed}, "
                  f"{'blast' if args.blast else 'replay ' + args.replay if args.replay else f'{args.rate:g} trades/s'})")
            print(f"  public:  {fake.public_url}")
            print(f"  private: {fake.private_url}")
            for access, secret in fake.keys.items():
                print(f"  test keys: UPBIT_ACCESS_KEY={access} UPBIT_SECRET_KEY={secret}")
            print("Press Ctrl-C to stop.", flush=True)
            await stop.wait()
        print("stopped", flush=True)
        return OK

    status = _run(body, graceful=True)
    return OK if status == INTERRUPTED else status  # Ctrl-C is how a server is meant to stop


def cmd_config_init(args: argparse.Namespace) -> int:
    """Write the documented settings file."""
    from ._settings import DEFAULT_PATH, write_settings

    path = Path(args.path or DEFAULT_PATH)
    try:
        write_settings(path, force=args.force)
    except FileExistsError:
        print(f"upbit-stream config init: {path} already exists; use --force to replace it", file=sys.stderr)
        return FAILED
    except OSError as exc:
        print(f"upbit-stream config init: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return FAILED
    print(f"wrote {path} (mode 0600): every setting with its default; edit what you need")
    return OK


def cmd_config_show(args: argparse.Namespace) -> int:
    """Print the settings in effect."""
    from ._settings import Settings, render_settings

    try:
        settings = Settings.load(args.path)
    except (UpbitStreamError, OSError) as exc:
        _fail(exc)
        return FAILED
    sys.stdout.write(render_settings(settings))
    return OK


def benchmarks_dir() -> Path:
    """``benchmarks/`` of the source checkout this package was imported from (may not exist)."""
    return Path(__file__).resolve().parent.parent / "benchmarks"


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark scripts with this interpreter, streaming their output."""
    root = benchmarks_dir()
    if not (root / "bench_core.py").is_file():
        print(f"upbit-stream bench: no benchmarks at {root}: the benchmarks ship with the source repository, "
              "not the installed package; run this from a checkout (pip install -e .)", file=sys.stderr)
        return USAGE
    names = ["bench_core.py", "bench_pipeline.py"] + (["compare_peers.py"] if args.peers else [])
    status = OK
    for name in names:
        script = root / name
        if not script.is_file():
            print(f"upbit-stream bench: {script} is missing in this checkout; skipped", file=sys.stderr, flush=True)
            status = FAILED
            continue
        print(f"== benchmarks/{name}{' --quick' if args.quick else ''}", flush=True)
        done = subprocess.run([sys.executable, str(script), *(["--quick"] if args.quick else [])], cwd=root.parent)
        if done.returncode < 0 and -done.returncode == signal.SIGINT:
            return INTERRUPTED
        if done.returncode != 0:
            print(f"upbit-stream bench: {name} exited with status {done.returncode}", file=sys.stderr, flush=True)
            status = FAILED
    return status


def _parser_for(*command: str) -> argparse.ArgumentParser:
    parser = _build_parser()
    for name in command:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``upbit-stream`` and ``python -m upbit_stream``; returns the exit status."""
    try:
        args = _build_parser().parse_args(argv)
        return int(args.func(args))
    except KeyboardInterrupt:
        return INTERRUPTED
    except BaseExceptionGroup as group:
        if group.subgroup(lambda e: not isinstance(e, (KeyboardInterrupt, trio.Cancelled))) is None:
            return INTERRUPTED
        raise
