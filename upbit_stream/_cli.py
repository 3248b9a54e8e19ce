"""The ``upbit-stream`` command line: one function per subcommand."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

import trio

from ._errors import UpbitStreamError

__all__ = ["main"]


def _keys(value: str) -> tuple[str, str]:
    access, sep, secret = value.partition(":")
    if not sep or not access or not secret:
        raise argparse.ArgumentTypeError("expected ACCESS:SECRET")
    return access, secret


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="upbit-stream", description="Upbit real-time WebSocket toolkit.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the fake Upbit exchange in the foreground")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default: an ephemeral port)")
    serve.add_argument("--rate", type=float, default=50.0, help="simulated trades per second (default 50)")
    serve.add_argument("--blast", action="store_true", help="send pre-encoded frames as fast as possible")
    serve.add_argument("--blast-rate", type=float, metavar="N",
                       help="with --blast: N frames per second per connection, stamped with the send time")
    serve.add_argument("--seed", type=int, default=0, help="random walk seed (default 0)")
    serve.add_argument("--replay", metavar="FILE", help="serve a recorded JSONL file instead of the simulation")
    serve.add_argument("--pace", choices=("recorded", "fast"), default="recorded", help="replay pace")
    serve.add_argument("--loop", action="store_true", help="repeat the replay forever")
    serve.add_argument("--keys", type=_keys, action="append", metavar="ACCESS:SECRET",
                       help="test API key pair (repeatable; default: the built-in test pair)")
    serve.add_argument("--idle-timeout", type=float, default=120.0, help="idle close in seconds (default 120)")
    serve.set_defaults(func=cmd_serve)

    watch = sub.add_parser("watch", help="live terminal view of Upbit data")
    watch_sub = watch.add_subparsers(dest="kind", required=True, metavar="KIND")
    watch_ticker = watch_sub.add_parser("ticker", help="a live table of prices, change and 24 h volume")
    watch_ticker.add_argument("codes", nargs="+", type=_code, metavar="CODE", help="market codes, e.g. KRW-BTC")
    watch_ticker.add_argument("--url", help="public endpoint (default: Upbit, or upbit_stream.toml)")
    watch_ticker.add_argument("--seconds", type=float, default=math.inf, help="stop after this many seconds")
    watch_ticker.set_defaults(func=cmd_watch_ticker)

    demo = sub.add_parser("demo", help="offline demo: the fake exchange in-process and a live ticker table")
    demo.add_argument("--seconds", type=float, default=math.inf, help="stop after this many seconds")
    demo.add_argument("--rate", type=float, default=200.0, help="simulated trades per second (default 200)")
    demo.set_defaults(func=cmd_demo)
    return parser


def _code(value: str) -> str:
    from ._specs import ticker

    try:
        ticker(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _run_view(main: Callable[[], Awaitable[int]]) -> int:
    try:
        return trio.run(main)
    except KeyboardInterrupt:
        return 130
    except UpbitStreamError as exc:
        print(f"upbit-stream: {exc}", file=sys.stderr)
        return 1


def cmd_watch_ticker(args: argparse.Namespace) -> int:
    """Show a live ticker table until Ctrl-C."""
    from ._settings import Settings
    from ._watch import watch_tickers

    settings = Settings.load()
    if args.url:
        settings = settings.evolve(connection={"public_url": args.url})
    return _run_view(lambda: watch_tickers(args.codes, settings, seconds=args.seconds, title="upbit-stream watch"))


DEMO_CODES = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "BTC-ETH", "USDT-BTC")


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the fake exchange in-process and watch its tickers: no network needed."""
    from ._settings import Settings
    from ._watch import watch_tickers
    from .testing import open_fake_upbit

    async def run() -> int:
        async with open_fake_upbit(rate=args.rate, seed=1) as fake:
            settings = Settings().evolve(connection={"public_url": fake.public_url, "private_url": fake.private_url})
            title = f"upbit-stream demo — fake exchange at {fake.public_url}"
            return await watch_tickers(DEMO_CODES, settings, seconds=args.seconds, title=title)

    return _run_view(run)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the fake exchange until Ctrl-C (or SIGTERM)."""
    from .testing import open_fake_upbit

    async def run() -> None:
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
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    break
        print("stopped", flush=True)

    try:
        trio.run(run)
    except OSError as exc:
        print(f"upbit-stream serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``upbit-stream`` and ``python -m upbit_stream``; returns the exit status."""
    args = _build_parser().parse_args(argv)
    return int(args.func(args))
