"""The fake exchange in its own process for benchmarks: ``upbit-stream serve`` started and stopped."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def fake_exchange(*args: str, python: str | Path = sys.executable, cwd: str | Path | None = None) -> Iterator[str]:
    """Run ``python -m upbit_stream serve *args`` on an ephemeral port; yield its public URL."""
    proc = subprocess.Popen(
        [str(python), "-m", "upbit_stream", "serve", "--port", "0", "--idle-timeout", "3600", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(r"public:\s+(\S+)", line)
            if found:
                yield found.group(1)
                break
        else:
            raise RuntimeError("the fake exchange did not start")
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
