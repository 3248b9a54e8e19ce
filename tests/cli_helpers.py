"""Helpers for the command-line tests: run ``python -m upbit_stream`` as a person would."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "upbit_stream"]
REPO = Path(__file__).resolve().parent.parent
ANSI_COLOR = ("\x1b[31m", "\x1b[34m")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without settings overrides, API keys or NO_COLOR, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UPBIT_STREAM_", "UPBIT_ACCESS", "UPBIT_SECRET")) and k != "NO_COLOR"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path, timeout: float = 30, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion; output captured as text."""
    return subprocess.run([*CLI, *args], cwd=cwd, env=clean_env(**env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def start_cli(*args: str, cwd: Path, stdout: int | None = subprocess.PIPE, **env: str) -> subprocess.Popen[str]:
    """Start the CLI in the background (stdout and stderr piped as text)."""
    return subprocess.Popen([*CLI, *args], cwd=cwd, env=clean_env(**env), stdout=stdout, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[str], signum: int = signal.SIGINT, timeout: float = 15) -> tuple[str, str]:
    """Send ``signum`` and collect the output; kills the process if it does not exit in time."""
    try:
        proc.send_signal(signum)
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@contextmanager
def serve(*args: str, cwd: Path) -> Iterator[str]:
    """Run ``upbit-stream serve ARGS`` and yield its public URL; Ctrl-C it afterwards."""
    proc = start_cli("serve", *args, cwd=cwd)
    try:
        assert proc.stdout is not None
        url = ""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.strip().startswith("public:"):
                url = line.split()[1]
            if line.startswith("Press Ctrl-C"):
                break
        assert url, f"serve printed no URL: {proc.stderr.read() if proc.poll() is not None else ''}"
        yield url
    finally:
        _, err = stop(proc)
        assert "Traceback" not in err, err


def run_in_pty(args: Sequence[str], cwd: Path, *, signum: int | None = None, once: str = "", timeout: float = 30,
               **env: str) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; send ``signum`` once ``once`` is on screen.

    Returns the exit status and everything it wrote to the terminal.
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen([*CLI, *args], cwd=cwd, env=clean_env(TERM="xterm", **env), stdout=slave, stderr=slave,
                            stdin=subprocess.DEVNULL, close_fds=True)
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if signum is not None and once.encode() in screen:
                time.sleep(0.3)
                proc.send_signal(signum)
                signum = None
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                screen += data
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=10), screen.decode("utf-8", "replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def interrupt_when_running(*args: str, cwd: Path, signum: int = signal.SIGINT) -> tuple[int, str, str]:
    """Start the CLI, wait for its first line of output, let it run a moment, then signal it."""
    proc = start_cli(*args, cwd=cwd)
    assert proc.stdout is not None
    first = os.read(proc.stdout.fileno(), 65536).decode()  # not readline: communicate() reads the fd directly
    time.sleep(0.5)
    out, err = stop(proc, signum)
    return proc.returncode, first + out, err


class Concurrently:
    """Runs independent CLI scenarios at once in threads (most of their time is waiting); tests read results.

    The machine has two cores and each scenario mostly sleeps on ``--seconds`` or a signal, so
    overlapping them keeps the suite quick without changing what each one checks. At most four run
    at a time: the fake exchange, like Upbit, answers a sixth handshake within a second with 429.
    """

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._jobs: dict[str, Future[Any]] = {}

    def start(self, name: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Begin ``function(*args, **kwargs)`` as scenario ``name``."""
        self._jobs[name] = self._pool.submit(function, *args, **kwargs)

    def result(self, name: str, timeout: float = 90) -> Any:
        """What scenario ``name`` returned (or raised)."""
        return self._jobs[name].result(timeout=timeout)

    def close(self) -> None:
        """Wait for every scenario."""
        self._pool.shutdown(wait=True)
