"""``upbit-stream serve`` as a separate process for tests: its printed URLs, CA file and control port."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from cli_helpers import start_cli, stop


@dataclass
class Served:
    """What a running ``serve`` printed."""

    lines: list[str]
    public_url: str
    ca_path: str | None
    control_port: int | None

    @property
    def base_url(self) -> str:
        """``ws[s]://host:port``: what upbit-sdk's ``websocket_base_url`` takes."""
        return self.public_url.removesuffix("/websocket/v1")


@contextmanager
def served(*args: str, cwd: Path, timeout: float = 15) -> Iterator[Served]:
    """Run ``upbit-stream serve --port 0 ARGS`` until the block ends (then Ctrl-C, expecting no traceback)."""
    proc = start_cli("serve", "--port", "0", *args, cwd=cwd)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                break
        text = "\n".join(lines)
        public = re.search(r"public:\s+(\S+)", text)
        assert public, f"serve printed no URL: {text} {proc.stderr.read() if proc.poll() is not None else ''}"
        ca = re.search(r"TLS CA:\s+(\S+)", text)
        control = re.search(r"control:\s+127\.0\.0\.1:(\d+)", text)
        yield Served(lines, public.group(1), ca.group(1) if ca else None, int(control.group(1)) if control else None)
    finally:
        _, err = stop(proc)
        assert "Traceback" not in err, err


async def control(port: int, *lines: str, timeout: float = 15) -> list[str]:
    """Send ``lines`` to a control port on one connection; return each reply's last line."""
    replies = []
    with trio.fail_after(timeout):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            buffer = b""
            for line in lines:
                await stream.send_all(line.encode() + b"\n")
                while True:
                    while b"\n" not in buffer:
                        data = await stream.receive_some(65536)
                        assert data, f"the control connection closed after {buffer!r}"
                        buffer += data
                    reply, _, buffer = buffer.partition(b"\n")
                    if not reply.startswith(b"# "):
                        replies.append(reply.decode())
                        break
    return replies
