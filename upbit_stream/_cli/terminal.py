"""Where the command line's views draw: rich on a terminal (repainted in place, fitted to it), plain text elsewhere."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

import attrs
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.live import Live
from rich.segment import Segment
from rich.table import Column, Table
from rich.text import Text

__all__ = ["FALL", "RISE", "Terminal", "column", "line", "plain", "table"]

#: Korean market colours: a rise (or a buy) red, a fall (or a sell) blue.
RISE, FALL = "red", "blue"
_PLAIN_WIDTH = 10_000  # wide enough that nothing is ever cut when printing for a pipe


@attrs.frozen
class Terminal:
    """A view's output: ``live`` on a terminal (rich repaints and fits it), else plain text, frame after frame.

    rich decides the colours: none with ``NO_COLOR`` (https://no-color.org) or ``TERM=dumb``. Plain
    output (a pipe, a file, a dumb terminal) carries no escape codes at all.
    """

    console: Console
    live: bool

    @classmethod
    def for_output(cls, out: TextIO | Console) -> Terminal:
        """The terminal of ``out``: a stream (live when it is a terminal rich can repaint) or a Console as is."""
        if isinstance(out, Console):
            return cls(out, out.is_interactive)
        console = Console(file=out, highlight=False, markup=False, emoji=False)
        # rich takes FORCE_COLOR as "a terminal", but repainting into a pipe would garble it: a real one only
        return cls(console, console.is_interactive and _isatty(out))

    @property
    def height(self) -> int:
        """Lines on the screen (rich's guess of 25 when it cannot tell)."""
        return self.console.height

    @contextmanager
    def frames(self, *, transient: bool = False, gap: str = "\n\n") -> Iterator[Callable[[RenderableType], None]]:
        """A function that shows a whole frame: over the last one on a terminal, after it (and ``gap``) otherwise.

        On a terminal the frame is cut to the width and height (with ``…``), the cursor is hidden
        while it shows and given back on exit (also on Ctrl-C); ``transient`` erases the last frame then.
        """
        if not self.live:
            out = self.console.file

            def show_plain(frame: RenderableType) -> None:
                out.write(plain(frame) + gap)
                out.flush()

            yield show_plain
            return
        with Live(console=self.console, auto_refresh=False, transient=transient, vertical_overflow="ellipsis",
                  redirect_stdout=False, redirect_stderr=_isatty(sys.stderr)) as live:

            shown: list[RenderableType] = []

            def show_live(frame: RenderableType) -> None:
                shown[:] = [frame]
                live.update(_FitHeight(frame), refresh=True)

            try:
                yield show_live
            finally:
                if shown and not transient:  # the last frame stays, and the line after it must fit too
                    live.update(_FitHeight(shown[0], spare=1))

    def lines(self, texts: Iterable[Text]) -> None:
        """Print lines after what is there: each cut to the width with ``…`` on a terminal, plain otherwise."""
        if self.live:
            self.console.print(Text("\n").join(texts), no_wrap=True, overflow="ellipsis", crop=True)
        else:
            out = self.console.file
            out.write("".join(f"{text.plain}\n" for text in texts))
            out.flush()


class _FitHeight:
    """A frame cut to the screen's height (less ``spare`` lines), its last line then ``...``: what rich's
    ``Live`` does to a tall frame, except on the last one, which it prints whole (the top, a view's
    header, would scroll away)."""

    def __init__(self, frame: RenderableType, spare: int = 0) -> None:
        self.frame = frame
        self.spare = spare

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.frame, options, pad=False)
        height = max(options.size.height - self.spare, 1)
        if len(lines) > height:
            lines = lines[:height - 1] + [list(console.render(
                Text("...", overflow="crop", justify="center", end="", style="live.ellipsis"), options))]
        for index, row in enumerate(lines):
            if index:
                yield Segment.line()
            yield from row


def line(text: str, style: str = "", *, crop: bool = False) -> Text:
    """One line (or table cell) that is cut with ``…`` (just cut with ``crop``) when it does not fit, never wrapped."""
    return Text(text, style=style, no_wrap=True, overflow="crop" if crop else "ellipsis")


def column(header: str, *, right: bool = False, shrinks_first: bool = False) -> Column:
    """A table column (bold header); ``shrinks_first``: narrowed before the others when space runs out.

    rich narrows wrappable columns before the rest; the cells made by :func:`line` never wrap, so
    such a column is cut with ``…`` (or vanishes) rather than wrapped.
    """
    return Column(line(header), justify="right" if right else "left", no_wrap=not shrinks_first, overflow="ellipsis")


def table(*columns: Column) -> Table:
    """A borderless table with two spaces between columns, fitted to the width (cells cut with ``…``)."""
    return Table(*columns, box=None, pad_edge=False, show_edge=False, header_style="bold")


def plain(renderable: RenderableType) -> str:
    """``renderable`` as plain text at its natural width, without escape codes or trailing spaces."""
    console = Console(file=io.StringIO(), width=_PLAIN_WIDTH, color_system=None, force_terminal=False,
                      force_interactive=False, highlight=False, markup=False, emoji=False, legacy_windows=False)
    with console.capture() as captured:
        console.print(renderable)
    return "\n".join(row.rstrip() for row in captured.get().rstrip("\n").split("\n"))


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
