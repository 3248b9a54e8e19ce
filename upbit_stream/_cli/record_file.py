"""Recording files: one JSON line per received frame, optional gzip, numbered rotation (no trio, no sockets)."""

from __future__ import annotations

import gzip
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, cast

import msgspec

__all__ = ["Received", "RecordingWriter", "encode_line", "human_size"]

#: One received frame: (unix receive time, "public" | "private" | "info", the frame as received).
Received = tuple[float, str, "bytes | str"]

FLUSH_EVERY = 1.0  # seconds between flushes while frames keep coming
_encode = msgspec.json.Encoder().encode


def human_size(size: int) -> str:
    """``1.5 MB`` style (1000-based, like ``--rotate-size``)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def encode_line(t: float, endpoint: str, frame: bytes | str) -> bytes:
    """One recording line: ``{"t": <unix seconds>, "endpoint": …, "frame": "<raw text>"}`` and a newline."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return _encode({"t": t, "endpoint": endpoint, "frame": text}) + b"\n"


class RecordingWriter:
    """Appends recording lines to ``path`` (gzip when ``compress``, and then named ``….gz``), optionally rotating.

    Rotating writes ``NAME-0001.jsonl[.gz]``, ``NAME-0002…`` instead of ``path``: a new file starts
    when the next line would take a plain file past ``rotate_size`` bytes (a gzip file: once its
    compressed size reaches it), or when a frame's receive time crosses a multiple of
    ``rotate_every`` seconds since the epoch (``1h``: on every UTC hour). Every line is complete and
    every file is closed properly (gzip trailer) by ``close()``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        compress: bool | None = None,
        rotate_size: int | None = None,
        rotate_every: float | None = None,
        overwrite: bool = False,
        compresslevel: int = 6,
    ) -> None:
        self.path = Path(path)
        self.compress = self.path.name.endswith(".gz") if compress is None else compress
        if self.compress and not self.path.name.endswith(".gz"):
            self.path = self.path.with_name(self.path.name + ".gz")  # readers pick gzip by the name
        self.rotate_size = rotate_size
        self.rotate_every = rotate_every
        self.overwrite = overwrite
        self.compresslevel = compresslevel
        self.files: list[Path] = []
        self.frames = 0
        self._closed_bytes = 0
        self._raw: IO[bytes] | None = None
        self._out: IO[bytes] | None = None
        self._file_bytes = 0
        self._boundary = math.inf
        self._last_flush = time.monotonic()

    @property
    def rotating(self) -> bool:
        """True when writing numbered files."""
        return self.rotate_size is not None or self.rotate_every is not None

    def path_for(self, number: int) -> Path:
        """The name of rotated file ``number``: the number goes before ``.jsonl`` / ``.gz``."""
        stem, ext = self._split_name()
        return self.path.with_name(f"{stem}-{number:04d}{ext}")

    def _split_name(self) -> tuple[str, str]:
        name = self.path.name
        gz = ".gz" if name.endswith(".gz") else ""
        base = name[: len(name) - len(gz)]
        dot = base.rfind(".")
        if dot <= 0:
            return base, gz
        return base[:dot], base[dot:] + gz

    def existing(self) -> list[Path]:
        """Files this writer would replace (for refusing to overwrite before recording starts)."""
        if not self.rotating:
            return [self.path] if self.path.exists() else []
        stem, ext = self._split_name()
        pattern = re.compile(re.escape(stem) + r"-\d{4,}" + re.escape(ext))
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            return []
        return sorted(p for p in parent.iterdir() if pattern.fullmatch(p.name))

    @property
    def size(self) -> int:
        """Bytes on disk so far, all files (a gzip file's last part may still be in zlib's buffer)."""
        return self._closed_bytes + self._current_size()

    @property
    def current_path(self) -> Path | None:
        """The file being written, if any."""
        return self.files[-1] if self._out is not None else None

    def _current_size(self) -> int:
        if self._out is None:
            return 0
        if self.compress and self._raw is not None:
            return self._raw.tell()
        return self._file_bytes

    def write(self, t: float, endpoint: str, frame: bytes | str) -> None:
        """Append one frame received at unix time ``t`` from ``endpoint``."""
        line = encode_line(t, endpoint, frame)
        if self._out is not None and self._must_rotate(t, len(line)):
            self._close_file()
        if self._out is None:
            self._open_file(t)
        assert self._out is not None
        self._out.write(line)
        self._file_bytes += len(line)
        self.frames += 1

    def write_batch(self, batch: Sequence[Received]) -> None:
        """Append several frames, then flush if the last flush is a second old."""
        for t, endpoint, frame in batch:
            self.write(t, endpoint, frame)
        if time.monotonic() - self._last_flush >= FLUSH_EVERY:
            self.flush()

    def _must_rotate(self, t: float, line_size: int) -> bool:
        if t >= self._boundary:
            return True
        if self.rotate_size is None:
            return False
        if self.compress:
            return self._current_size() >= self.rotate_size
        return self._file_bytes > 0 and self._file_bytes + line_size > self.rotate_size

    def _open_file(self, t: float) -> None:
        path = self.path_for(len(self.files) + 1) if self.rotating else self.path
        raw = open(path, "wb" if self.overwrite else "xb")  # noqa: SIM115 - closed by _close_file
        self._raw = raw
        self._out = cast(IO[bytes], gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                   compresslevel=self.compresslevel)) if self.compress else raw
        self._file_bytes = 0
        self.files.append(path)
        if self.rotate_every is not None:
            self._boundary = (math.floor(t / self.rotate_every) + 1) * self.rotate_every

    def flush(self) -> None:
        """Push buffered lines to the operating system (a gzip sync point for compressed files)."""
        if self._out is not None:
            self._out.flush()
            if self._raw is not self._out and self._raw is not None:
                self._raw.flush()
        self._last_flush = time.monotonic()

    def _close_file(self) -> None:
        out, raw = self._out, self._raw
        self._out = self._raw = None
        try:
            if out is not None and out is not raw:
                out.close()  # writes the gzip trailer; leaves ``raw`` open
        finally:
            if raw is not None:
                raw.close()
                self._closed_bytes += self.files[-1].stat().st_size

    def close(self) -> None:
        """Finish the current file; the writer can start a new one if written to again."""
        self._close_file()
