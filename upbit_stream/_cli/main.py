"""The ``upbit-stream`` command line: one function per subcommand, signals, errors and exit statuses."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import trio

from .._config.settings import Settings
from .._core.errors import UpbitStreamError
from .._trio.groups import single_errors
from .args import USAGE, build_parser, parse_targets

__all__ = ["main"]

#: Exit statuses: 0 done (also after SIGTERM: a clean stop), 1 the work failed, 2 bad arguments,
#: 130 interrupted with Ctrl-C (after cleaning up).
OK, FAILED, INTERRUPTED = 0, 1, 130
DEMO_CODES = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "BTC-ETH", "USDT-BTC")


# -- running: signals, errors, exit statuses ------------------------------------------------------


def _run(body: Callable[[trio.Event], Awaitable[int]], *, graceful: bool = False,
         reraise: tuple[type[BaseException], ...] = ()) -> int:
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
        if isinstance(exc, reraise):
            raise
        _fail(exc)
        return FAILED


async def _until_signal(body: Callable[[trio.Event], Awaitable[int]], graceful: bool) -> int:
    stop = trio.Event()
    seen: list[int] = []
    status = OK  # the body's, unless a signal cancelled it (then seen decides)
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


def _settings(args: argparse.Namespace) -> Settings:
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
    title = f"upbit-stream watch {args.view} — {settings.public_url}"

    async def body(stop: trio.Event) -> int:
        return await show(*what, settings, seconds=args.seconds, title=title, **options)

    return _run(body)


# -- the commands ---------------------------------------------------------------------------------


def cmd_watch_ticker(args: argparse.Namespace) -> int:
    """A live ticker table."""
    from .watch import watch_tickers

    return _view(args, watch_tickers, args.codes)


def cmd_watch_orderbook(args: argparse.Namespace) -> int:
    """A live order book ladder."""
    from .watch_book import watch_orderbook

    return _view(args, watch_orderbook, args.code, depth=args.depth)


def cmd_watch_announcements(args: argparse.Namespace) -> int:
    """``watch announcements``: notices as they are published."""
    from .watch_info import watch_announcements

    return _view(args, watch_announcements, args.categories)


def cmd_watch_indicators(args: argparse.Namespace) -> int:
    """``watch indicators``: the latest indicator values of codes."""
    from .args_info import indicator_options
    from .watch_info import watch_indicators

    return _view(args, watch_indicators, args.codes, timeframe=args.timeframe, indicators=indicator_options(args))


def cmd_watch_trade(args: argparse.Namespace) -> int:
    """A scrolling trade tape."""
    from .watch_tape import watch_trades

    return _view(args, watch_trades, args.codes)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the fake exchange in-process and watch its tickers: no network needed."""
    from ..testing import open_fake_upbit
    from .watch import watch_tickers

    async def body(stop: trio.Event) -> int:
        async with open_fake_upbit(rate=args.rate, seed=1) as fake:
            settings = Settings().evolve(connection={"public_url": fake.public_url, "private_url": fake.private_url,
                                                     "info_url": fake.info_url})
            title = f"upbit-stream demo — fake exchange at {fake.public_url}"
            return await watch_tickers(DEMO_CODES, settings, seconds=args.seconds, title=title)

    return _run(body)


def cmd_record(args: argparse.Namespace) -> int:
    """Record raw frames to JSONL."""
    from .args_info import indicator_options, signal_conditions
    from .record import Summary, record
    from .record_file import RecordingWriter

    indicators = indicator_options(args)
    try:  # each target alone was checked by the parser; signals need the indicator options too
        specs = parse_targets(args.targets, depth=args.depth, realtime_only=args.realtime_only, indicators=indicators,
                              signals=signal_conditions(indicators, args.signal))
    except ValueError as exc:
        print(f"upbit-stream record: error: {exc}", file=sys.stderr)
        return USAGE
    folder = Path(args.output).parent
    if not folder.is_dir():
        print(f"upbit-stream record: error: no directory {folder} for -o {args.output} (create it first)",
              file=sys.stderr)
        return USAGE
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

    async def body(stop: trio.Event) -> int:
        try:
            summary = await record(specs, settings, writer, stop=stop, seconds=args.seconds, count=args.count,
                                   progress=sys.stderr)
        except BaseException:  # also after a failure or a second Ctrl-C: say what is on disk
            print(Summary(writer.frames, tuple(writer.files), writer.size).describe(), flush=True)
            raise
        print(summary.describe(), flush=True)
        if summary.unreachable is not None and not summary.frames:
            print(f"upbit-stream record: nothing received: {summary.unreachable}", file=sys.stderr, flush=True)
            return FAILED
        return OK

    return _run(body, graceful=True)


def cmd_relay(args: argparse.Namespace) -> int:
    """Publish one session's events to NATS JetStream."""
    from .relay import run_relay

    try:
        settings = _settings(args)
    except (UpbitStreamError, OSError) as exc:
        _fail(exc)
        return FAILED
    section = settings.relay
    for option in ("region", "account", "max_age", "max_bytes", "window"):  # the command line wins
        if getattr(args, option) is None:
            setattr(args, option, getattr(section, option))
    if not args.nats and not args.embedded_nats:
        args.nats = section.nats_url or None
    if not args.nats and not args.embedded_nats:
        print("upbit-stream relay: error: name a NATS server: --nats URL, --embedded-nats DIR, or [relay] "
              "nats_url in upbit_stream.toml", file=sys.stderr)
        return USAGE
    try:
        specs = parse_targets(args.targets or section.streams)
    except ValueError as exc:
        where = "" if args.targets else " ([relay] streams)"
        print(f"upbit-stream relay: error: {exc}{where}", file=sys.stderr)
        return USAGE
    return _run(lambda stop: run_relay(specs, settings, args, stop=stop), graceful=True)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the fake exchange until Ctrl-C (or SIGTERM)."""
    from ..testing import open_fake_upbit
    from ..testing._replay import ReplayFileError
    from .args_serve import serve_problem

    problem = serve_problem(args)
    if problem:
        print(f"upbit-stream serve: error: {problem} (see upbit-stream serve --help)", file=sys.stderr)
        return USAGE
    tls = args.tls or args.tls_dir is not None
    if tls and not _has_trustme():
        print("upbit-stream serve: --tls needs the trustme package: pip install 'upbit-stream[fake-tls]'",
              file=sys.stderr)
        return FAILED
    if args.replay and not Path(args.replay).is_file():
        print(f"upbit-stream serve: error: no recording at {args.replay} (--replay takes a file from "
              "`upbit-stream record`)", file=sys.stderr)
        return USAGE

    async def body(stop: trio.Event) -> int:
        async with open_fake_upbit(
            host=args.host, port=args.port, rate=args.rate, blast=args.blast, blast_rate=args.blast_rate,
            seed=args.seed, replay=args.replay, pace=args.pace or "recorded", replay_loop=args.loop,
            keys=dict(args.keys) if args.keys else None, idle_timeout=args.idle_timeout,
            verbatim=args.verbatim, reject_reused_nonce=not args.allow_reused_nonce,
            unknown_codes=args.unknown_codes, idle_close=args.idle_close, compression=args.compression,
            tls=tls, tls_dir=args.tls_dir, control_port=args.control,
        ) as fake:
            source = "blast" if args.blast else f"replay {args.replay}" if args.replay else f"{args.rate:g} trades/s"
            print(f"fake Upbit exchange listening (seed {args.seed}, {source})")
            if args.replay:
                print(f"  replay:  {fake.replay_frame_count} frames{' verbatim' if args.verbatim else ''}, "
                      f"{fake.replay_skipped} lines skipped (not recording entries)")
            print(f"  public:  {fake.public_url}")
            print(f"  private: {fake.private_url}")
            print(f"  info:    {fake.info_url}")
            if fake.ca_path is not None:
                kept = "kept" if args.tls_dir is not None else "removed on exit"
                print(f"  TLS CA:  {fake.ca_path} ({kept}; clients: SSL_CERT_FILE={fake.ca_path})")
            if fake.control_port is not None:
                print(f"  control: 127.0.0.1:{fake.control_port} (one command per line; send help)")
            for access, secret in fake.keys.items():
                print(f"  test keys: UPBIT_ACCESS_KEY={access} UPBIT_SECRET_KEY={secret}")
            print("Press Ctrl-C to stop.", flush=True)
            await stop.wait()
        print("stopped", flush=True)
        return OK

    try:
        status = _run(body, graceful=True, reraise=(OSError,))
    except ReplayFileError as exc:
        print(f"upbit-stream serve: error: {exc}", file=sys.stderr)
        return USAGE
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            _fail(exc)
            return FAILED
        where = f"{args.host}:{args.port}" + (f" or 127.0.0.1:{args.control}" if args.control else "")
        print(f"upbit-stream serve: cannot listen on {where}: the address is in use "
              "(another server there? pick another --port or --control, or 0 for any free one)", file=sys.stderr)
        return FAILED
    return OK if status == INTERRUPTED else status  # Ctrl-C is how a server is meant to stop


def _has_trustme() -> bool:
    from importlib.util import find_spec

    return find_spec("trustme") is not None


def cmd_config_init(args: argparse.Namespace) -> int:
    """Write the documented settings file."""
    from .._config.settings import DEFAULT_PATH
    from .._config.settings_file import write_settings

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
    """Print the settings in effect, each with where it came from, and whether API keys were found."""
    from .._config.settings_report import settings_report

    try:
        report = settings_report(args.path)
    except (UpbitStreamError, OSError) as exc:
        _fail(exc)
        return FAILED
    sys.stdout.write(report)
    return OK


def benchmarks_dir() -> Path:
    """``benchmarks/`` of the source checkout this package was imported from (may not exist)."""
    return Path(__file__).resolve().parent.parent.parent / "benchmarks"


def busy_warning(load: float, cores: int) -> str | None:
    """A warning when the 1-minute load average says other work shared the cores with a benchmark."""
    if load <= cores:
        return None
    return (f"the machine was busy (load {load:.1f} on {cores} cores): other work shared the CPU, so these "
            "figures and ratios may not mean much; run again when it is idle")


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
        warning = busy_warning(os.getloadavg()[0], os.cpu_count() or 1)
        if warning:
            print(f"upbit-stream bench: {name}: {warning}", file=sys.stderr, flush=True)
        if done.returncode < 0 and -done.returncode == signal.SIGINT:
            return INTERRUPTED
        if done.returncode != 0:
            print(f"upbit-stream bench: {name} exited with status {done.returncode}", file=sys.stderr, flush=True)
            status = FAILED
    return status


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": cmd_demo, "watch_ticker": cmd_watch_ticker, "watch_orderbook": cmd_watch_orderbook,
    "watch_trade": cmd_watch_trade, "watch_announcements": cmd_watch_announcements,
    "watch_indicators": cmd_watch_indicators, "record": cmd_record, "relay": cmd_relay, "serve": cmd_serve, "config_init": cmd_config_init,
    "config_show": cmd_config_show, "bench": cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``upbit-stream`` and ``python -m upbit_stream``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return int(COMMANDS[args.command](args))
    except KeyboardInterrupt:
        return INTERRUPTED
    except BaseExceptionGroup as group:
        if group.subgroup(lambda e: not isinstance(e, (KeyboardInterrupt, trio.Cancelled))) is None:
            return INTERRUPTED
        raise
