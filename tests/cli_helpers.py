"""Helpers for the command-line tests: run ``python -m upbit_stream`` as a person would."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "upbit_stream"]
REPO = Path(__file__).resolve().parent.parent
#: What a terminal would be told about its look: rich's (and any) colour and style codes (SGR).
SGR = re.compile(r"\x1b\[([0-9;]*)m")
#: Variables that change how a terminal is drawn; a test sets the ones it means.
_TERMINAL_VARIABLES = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "COLORTERM")


def colours(output: str) -> set[str]:
    """The foreground colours ``output`` switches to: ``red``, ``blue``, … (none for bold, dim, reset)."""
    names = dict(zip(range(30, 38), ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")))
    found = set()
    for match in SGR.finditer(output):
        for param in match.group(1).split(";"):
            if param.isdigit() and (30 <= int(param) <= 37 or 90 <= int(param) <= 97):
                found.add(names.get(int(param), param))
            elif param == "38":
                found.add("extended")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without settings overrides, API keys or terminal overrides (NO_COLOR, …), plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UPBIT_STREAM_", "UPBIT_ACCESS", "UPBIT_SECRET")) and k not in _TERMINAL_VARIABLES}
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
               size: tuple[int, int] = (24, 80), **env: str) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal of ``size`` (lines, columns); send ``signum``
    once ``once`` is on screen.

    Returns the exit status and everything it wrote to the terminal.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    proc = subprocess.Popen([*CLI, *args], cwd=cwd, env=clean_env(**{"TERM": "xterm", **env}), stdout=slave, stderr=slave,
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


class TerminalScreen:
    """What a terminal of ``lines`` × ``columns`` shows after ``output``: enough of a VT100 for rich's output.

    It knows text (wide characters take two cells), CR, LF, cursor up/down/left/right, erasing
    lines and the screen, the cursor's visibility and colours (which it ignores). A character
    written past the last column wraps onto the next line, as on a real terminal; ``wrapped`` counts
    those, and the text scrolls up off the top (into ``scrolled``) as on a real one.
    """

    _CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b[78]|[\r\n\b]|[^\x1b\r\n\b]+")

    def __init__(self, output: str, lines: int = 24, columns: int = 80) -> None:
        self.lines, self.columns = lines, columns
        self.rows: list[list[str]] = [[] for _ in range(lines)]
        self.scrolled: list[str] = []
        self.row = self.col = 0
        self.wrapped = 0
        self.cursor_visible = True
        self.unknown: list[str] = []
        for match in self._CONTROL.finditer(output):
            self._apply(match)

    def text(self) -> list[str]:
        """The screen's lines, trailing blanks removed (a wide character shows once)."""
        shown = ["".join(c for c in row if c != "").rstrip() for row in self.rows]
        while shown and not shown[-1]:
            shown.pop()
        return shown

    def _apply(self, match: re.Match[str]) -> None:
        token = match.group(0)
        if token == "\r":
            self.col = 0
        elif token == "\n":  # a terminal's line discipline turns a program's LF into CR LF (onlcr)
            self.col = 0
            self._down()
        elif token == "\b":
            self.col = max(0, self.col - 1)
        elif match.group(2) is not None:
            self._escape(match.group(1), match.group(2))
        elif not token.startswith("\x1b"):
            for char in token:
                self._put(char)

    def _escape(self, params: str, final: str) -> None:
        count = int(params) if params.isdigit() else 1
        if final == "m":
            return
        if params == "?25" and final in "hl":
            self.cursor_visible = final == "h"
        elif final == "A":
            self.row = max(0, self.row - count)
        elif final == "B":
            self.row = min(self.lines - 1, self.row + count)
        elif final == "C":
            self.col = min(self.columns - 1, self.col + count)
        elif final == "D":
            self.col = max(0, self.col - count)
        elif final == "G":
            self.col = count - 1
        elif final == "K":
            row = self.rows[self.row]
            if params in ("", "0"):
                del row[self.col:]
            elif params == "2":
                row.clear()
        elif final == "H":
            self.row, self.col = 0, 0
        elif final == "J" and params in ("", "0"):
            del self.rows[self.row][self.col:]
            for row in self.rows[self.row + 1:]:
                row.clear()
        else:
            self.unknown.append(params + final)

    def _put(self, char: str) -> None:
        width = 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if self.col + width > self.columns:
            self.wrapped += 1
            self.col = 0
            self._down()
        row = self.rows[self.row]
        row.extend(" " * (self.col + width - len(row)))
        row[self.col] = char
        if width == 2:
            row[self.col + 1] = ""
        self.col += width

    def _down(self) -> None:
        if self.row == self.lines - 1:
            self.scrolled.append("".join(self.rows.pop(0)).rstrip())
            self.rows.append([])
        else:
            self.row += 1
