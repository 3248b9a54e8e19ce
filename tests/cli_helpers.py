"""Helpers for the command-line tests: run ``python -m upbit_stream`` as a person would."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

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


def run_in_pty(args: Sequence[str], cwd: Path, *, seconds: float, signum: int | None = None,
               **env: str) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; optionally signal it after ``seconds``.

    Returns the exit status and everything it wrote to the terminal.
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen([*CLI, *args], cwd=cwd, env=clean_env(TERM="xterm", **env), stdout=slave, stderr=slave,
                            stdin=subprocess.DEVNULL, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    signalled = False
    started = time.monotonic()
    try:
        while True:
            if signum is not None and not signalled and time.monotonic() - started >= seconds:
                proc.send_signal(signum)
                signalled = True
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
            if time.monotonic() - started > seconds + 20:
                raise AssertionError("the command did not exit")
        return proc.wait(timeout=10), b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
