"""Arguments of ``serve`` beyond the basic ones: ``--tls``, ``--tls-dir``, ``--control``, and checks across options."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_serve_options", "serve_problem"]


def _port(value: str) -> int:
    if value.isdigit() and 0 <= int(value) <= 65535:
        return int(value)
    raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535 (0: any free port): got {value!r}")


def add_serve_options(serve: Any) -> None:
    """Add the replay mode, the fake's switches where Upbit is silent, TLS and the control port to ``serve``."""
    serve.add_argument("--verbatim", action="store_true",
                       help="with --replay: send the recorded frames byte for byte (default: each event as live, "
                       "in the client's format, depth and level)")
    serve.add_argument("--allow-reused-nonce", action="store_true",
                       help="accept a private token whose nonce was seen before (ccxt.pro's reconnect needs it)")
    serve.add_argument("--unknown-codes", choices=("reject", "ignore"), default="reject",
                       help="a request naming an unlisted code is refused (default) or the code is ignored")
    serve.add_argument("--idle-close", choices=("abrupt", "clean"), default="abrupt",
                       help="an idle connection is dropped without a close frame (default) or closed with 1000")
    serve.add_argument("--no-compression", dest="compression", action="store_false",
                       help="never agree permessage-deflate (default: a client that offers it gets it, as on Upbit)")
    serve.add_argument("--tls", action="store_true",
                       help="serve wss:// with a certificate for 127.0.0.1/localhost from a CA made at start "
                       "(its file is printed: give it to clients as SSL_CERT_FILE; needs trustme)")
    serve.add_argument("--tls-dir", metavar="DIR",
                       help="with --tls: write ca.pem and server.pem into DIR and keep them (default: a temporary "
                       "directory removed on exit); implies --tls")
    serve.add_argument("--control", type=_port, metavar="PORT",
                       help="accept control commands on 127.0.0.1:PORT (0: any free port), one per line: place, "
                       "fill, cancel, deposit, announce, tick, drop, stall, inject ... (send help)")
    serve.set_defaults(pace=None)  # None: not given, so --pace without --replay can be refused


def serve_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with a combination of ``serve`` options (None when nothing is)."""
    if not args.replay:
        given = [name for name, used in (("--loop", args.loop), ("--pace", args.pace is not None),
                                         ("--verbatim", getattr(args, "verbatim", False))) if used]
        if given:
            return f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} with --replay FILE"
    if args.blast_rate is not None:
        if not args.blast:
            return "--blast-rate only applies with --blast"
        if not args.blast_rate > 0:
            return f"--blast-rate must be a number above 0: got {args.blast_rate:g}"
    if args.control is not None and args.control == args.port != 0:
        return f"--control {args.control} is the exchange's own --port"
    return None
