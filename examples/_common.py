"""Plumbing shared by the examples: ``--fake``/``--seconds`` flags, a session either way, a clean Ctrl-C.

Not part of upbit_stream; each example imports it as ``_common``. Read the examples first.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit, open_fake_upbit


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with ``--fake`` and ``--seconds``; its description is the example's docstring."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fake", action="store_true",
                        help="run against an in-process fake exchange instead of real Upbit")
    parser.add_argument("--seconds", type=duration, default=math.inf, metavar="DURATION",
                        help="stop after this long: 90, 90s, 15m or 1h (default: run until Ctrl-C)")
    return parser


def duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m`` or ``1h`` (as the upbit-stream command takes them)."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 90s, 15m, 1h)") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"a duration must be positive: got {text!r}")
    return seconds


@asynccontextmanager
async def open_session(
    args: argparse.Namespace, *, rate: float = 200.0, seed: int = 1
) -> AsyncIterator[tuple[ub.UpbitSession, FakeUpbit | None]]:
    """Yield ``(session, fake)``: a session on real Upbit (``fake`` is None) or on a fake exchange.

    Real Upbit takes its settings from ``./upbit_stream.toml`` (if any) and API keys from
    ``UPBIT_ACCESS_KEY``/``UPBIT_SECRET_KEY``. The fake simulates ``rate`` trades per second
    (spread over its markets, KRW-BTC and KRW-ETH the busiest) and accepts its own test keys.
    """
    if not args.fake:
        async with ub.open_upbit_session() as session, trio.open_nursery() as nursery:
            nursery.start_soon(report_when_down, session)
            yield session, None
            nursery.cancel_scope.cancel()
        return
    async with open_fake_upbit(rate=rate, seed=seed) as fake:
        settings = ub.Settings().evolve(connection={"public_url": fake.public_url, "private_url": fake.private_url})
        async with ub.open_upbit_session(
            config=settings, access_key=fake.access_key, secret_key=fake.secret_key
        ) as session:
            yield session, fake


async def report_when_down(session: ub.UpbitSession, every: float = 3.0) -> None:
    """Say on stderr why nothing arrives while the session cannot reach the exchange, and when it can again."""
    reported: tuple[str, ...] = ()
    while True:
        await trio.sleep(every)
        health = session.health()
        reasons = health.reasons if health.status == "down" else ()
        if reasons != reported:
            print(f"[{health.status}] {'; '.join(reasons) or 'connected again'}", file=sys.stderr)
            reported = reasons


def run(main: Callable[[], Awaitable[None]], seconds: float = math.inf) -> int:
    """Run ``main`` under trio until it returns, ``seconds`` pass, Ctrl-C or SIGTERM; return the exit status.

    The first Ctrl-C (or SIGTERM, as systemd and docker send) cancels ``main`` — its ``finally``
    blocks still print their summaries — and exits with 130 (0 after SIGTERM) without a
    traceback; a second one stops at once. An ``UpbitStreamError`` becomes a one-line message and
    exit status 1; a ``ValueError``/``TypeError`` (a bad code or option) one line and status 2.
    """
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # output shows up at once, even piped
    interrupted = terminated = False

    async def until_stopped() -> None:
        with trio.move_on_after(seconds) as scope:
            async with trio.open_nursery() as nursery:

                async def cancel_on_ctrl_c() -> None:
                    nonlocal interrupted, terminated
                    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                        async for signum in signals:
                            if interrupted or terminated:
                                raise KeyboardInterrupt
                            interrupted = signum == signal.SIGINT
                            terminated = signum == signal.SIGTERM
                            scope.cancel()

                nursery.start_soon(cancel_on_ctrl_c)
                await main()
                nursery.cancel_scope.cancel()

    try:
        trio.run(until_stopped)
    except BaseException as raised:
        error = _single(raised)
        if isinstance(error, KeyboardInterrupt):
            interrupted = True
        elif isinstance(error, BrokenPipeError):  # e.g. piped into `head`: the reader has gone
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more to write at exit
            return 0
        elif isinstance(error, ub.UpbitStreamError):
            print(f"error: {error}", file=sys.stderr)
            return 1
        elif isinstance(error, (ValueError, TypeError)):
            print(f"error: {error}", file=sys.stderr)
            return 2
        else:
            raise
    if terminated:
        print("stopped (SIGTERM)", file=sys.stderr)
        return 0
    if interrupted:
        print("stopped (Ctrl-C)", file=sys.stderr)
        return 130
    return 0


def _single(error: BaseException) -> BaseException:
    """The one exception inside nested one-exception groups (trio wraps whatever leaves a nursery)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
