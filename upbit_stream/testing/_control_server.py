"""The control server: the line protocol on 127.0.0.1, each command run against the fake exchange's controls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from ._control_protocol import COMMANDS, MAX_LINE, Command, ControlError, help_lines, parse_line

if TYPE_CHECKING:
    from ._handling import RequestRecord
    from ._server import FakeUpbit

__all__ = ["MAX_CONTROL_CONNECTIONS", "execute", "serve_control"]

#: Control connections open at once; one more is told so and closed.
MAX_CONTROL_CONNECTIONS = 8
_READ = 4096


async def serve_control(fake: FakeUpbit, port: int, *,
                        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Listen on 127.0.0.1:``port`` (0: any free port), report the port, serve until cancelled."""
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    active = 0

    async def handle(stream: trio.SocketStream) -> None:
        nonlocal active
        try:
            if active >= MAX_CONTROL_CONNECTIONS:
                await stream.send_all(f"error too many control connections (at most {MAX_CONTROL_CONNECTIONS})\n"
                                      .encode())
                return
            active += 1
            try:
                await _converse(fake, stream)
            finally:
                active -= 1
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client left
        finally:
            await trio.aclose_forcefully(stream)

    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(handle, listeners)


async def _converse(fake: FakeUpbit, stream: trio.abc.Stream) -> None:
    """Read lines (each at most ``MAX_LINE`` bytes), answer each; end at EOF or an overlong line."""
    buffer = bytearray()  # bounded: at most MAX_LINE + _READ bytes
    while True:
        newline = buffer.find(b"\n")
        if newline < 0:
            if len(buffer) > MAX_LINE:
                await stream.send_all(f"error line longer than {MAX_LINE} bytes; closing\n".encode())
                return
            data = await stream.receive_some(_READ)
            if not data:
                return
            buffer += data
            continue
        raw, buffer = bytes(buffer[:newline]), buffer[newline + 1:]
        if len(raw) > MAX_LINE:
            await stream.send_all(f"error line longer than {MAX_LINE} bytes; closing\n".encode())
            return
        await stream.send_all((await _reply(fake, raw) + "\n").encode())


async def _reply(fake: FakeUpbit, raw: bytes) -> str:
    try:
        line = raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return "error the line is not UTF-8"
    try:
        command = parse_line(line)
        if command is None:
            return "ok"
        if command.name == "help":  # the one reply of several lines: "# " lines, then its "ok"
            return "\n".join(f"# {line}" for line in help_lines()) + f"\nok {len(COMMANDS)} commands"
        answer = await execute(fake, command)
    except ControlError as exc:
        return f"error {exc}"
    except (ValueError, KeyError, TypeError, LookupError) as exc:  # refused by the fake's own checks
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        return f"error {' '.join(str(text).split())}"
    return f"ok {answer}" if answer else "ok"


async def execute(fake: FakeUpbit, command: Command) -> str:
    """Run ``command`` against ``fake``; return what follows ``ok`` in the reply (may be empty).

    Raises what the fake's control raises (``ValueError``, ``KeyError``) when it refuses.
    """
    args, kwargs = command.args, command.kwargs
    match command.name:
        case "help":
            return " ".join(COMMANDS)
        case "place":
            return fake.place_order(*args, **kwargs)
        case "fill":
            fake.fill(*args, **kwargs)
        case "cancel":
            fake.cancel(*args)
        case "deposit":
            fake.deposit(*args)
        case "announce":
            return fake.publish_announcement(*args, **kwargs).uuid
        case "tick":
            count, code = args
            if code is not None and code not in fake.market:
                raise ValueError(f"unknown market {code!r}")
            return str(len(fake.tick(count, code)))
        case "drop":
            return str(fake.drop_all(*args))
        case "stall":
            return str(fake.stall(*args))
        case "resume":
            fake.resume()
        case "refuse-handshakes":
            fake.refuse_handshakes(*args)
        case "refuse-stream":
            fake.refuse_stream(*args)
        case "delist":
            fake.delist(*args)
        case "delay":
            fake.delay(*args)
        case "close-candle":
            return fake.close_candle(*args)
        case "indicator":
            fake.inject_indicator(*args)
        case "signal":
            fake.force_signal(*args)
        case "inject":
            text, endpoint = args
            return str(fake.send_raw(text.encode("utf-8"), endpoint))
        case "inject-text":
            return str(fake.send_raw(*args))
        case "connections":
            counts = {name: 0 for name in ("public", "private", "info")}
            for conn in fake.connections:
                counts[conn.endpoint] += 1
            return " ".join(f"{name}={n}" for name, n in counts.items())
        case "wait-request":
            type_, seconds = args
            with trio.move_on_after(seconds):
                await fake.wait_for_request(lambda r: _subscribes(r, type_))
                return ""
            raise ValueError(f"no request for {type_} within {seconds:g} s")
        case _:  # a name in COMMANDS without a case here is a bug
            raise AssertionError(f"no handler for {command.name}")
    return ""


def _subscribes(record: RequestRecord, type_: str) -> bool:
    return record.kind == "message" and record.request is not None and any(
        t.type == type_ for t in record.request.types)
