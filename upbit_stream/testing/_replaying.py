"""Replay mode's serving: recorded frames to matching subscribers, re-encoded as live (or verbatim)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._core.codec import decode
from .._core.enums import StreamType
from .._core.errors import ProtocolError
from .._core.info_events import Announcement, Indicator, IndicatorSignal
from ._replay import ReplayFrame, load_replay, reshape_book

if TYPE_CHECKING:
    from ._connection import Connection

__all__ = ["Replaying"]


class Replaying:
    """Mixed into ``FakeUpbit``: serving a recording as the market."""

    # provided by FakeUpbit
    _conns: dict[int, Connection]
    _replayed: dict[tuple[str, str], Any]
    verbatim: bool
    publish: Any
    send_recorded: Any

    async def replay(self, source: str | os.PathLike[str] | Sequence[ReplayFrame], pace: str = "fast",
                     verbatim: bool | None = None) -> int:
        """Serve recorded frames to connections whose subscription matches them; return frames sent.

        ``pace="recorded"`` keeps the recorded gaps between frames, ``"fast"`` sends them at once
        (yielding between frames). Each recorded event goes out as live ones do: in the connection's
        format, its orderbooks cut to the asked depth and grouped to the asked ``level``; recorded
        SNAPSHOT events only update what later snapshots show. ``verbatim`` (default: the
        ``verbatim`` the fake was opened with) sends the frames exactly as recorded instead.
        """
        frames = load_replay(source) if isinstance(source, (str, os.PathLike)) else source
        if pace not in ("recorded", "fast"):
            raise ValueError("pace must be 'recorded' or 'fast'")
        as_recorded = self.verbatim if verbatim is None else verbatim
        sent = 0
        start = trio.current_time()
        first = frames[0].t if frames else 0.0
        for frame in frames:
            if pace == "recorded":
                await trio.sleep_until(start + (frame.t - first))
            else:
                await trio.lowlevel.checkpoint()
            sent += self._replay_verbatim(frame) if as_recorded else self._replay_as_live(frame)
        return sent

    def _replay_verbatim(self, frame: ReplayFrame) -> int:
        data = frame.frame.encode()
        if frame.endpoint == "public" and frame.keys:
            self._remember(_events(data))
        news = [event for event in _events(data) if event.__class__ in _NEW_TYPES] if frame.endpoint != "public" else []
        if news:  # one event a frame, as Upbit sends them: its subscribers get the frame
            return int(self.send_recorded(news[0], data))
        sent = 0
        for conn in list(self._conns.values()):
            if conn.endpoint == frame.endpoint and any(self._matches(conn, key) for key in frame.keys):
                sent += conn.queue.put(data)
        return sent

    def _replay_as_live(self, frame: ReplayFrame) -> int:
        if not frame.keys:
            return 0
        events = _events(frame.frame)
        if frame.endpoint == "public":
            self._remember(events)
        sent = 0
        for event in events:
            if event.stream_type is StreamType.SNAPSHOT:
                continue  # what the recorder was sent on subscribing: state, not the stream
            if event.__class__ in _NEW_TYPES:
                sent += self.send_recorded(event)
            elif frame.endpoint == "public" or event.type in ("myOrder", "myAsset"):
                sent += self.publish(event, recorded=True)
        return sent

    def _remember(self, events: list[Any]) -> None:
        for event in events:
            if getattr(event, "code", None):
                self._replayed[(event.type, event.code)] = event

    def replayed_snapshot(self, type_: str, code: str, depth: int, level: Any) -> Any:
        """The latest replayed event of ``type_`` and ``code`` as a SNAPSHOT shaped for the request (None: none yet)."""
        event = self._replayed.get((type_, code))
        if event is None:
            return None
        if type_ == "orderbook":
            event = reshape_book(event, depth, level)
            if event is None:
                return None
        return attrs.evolve(event, stream_type=StreamType.SNAPSHOT)

    @staticmethod
    def _matches(conn: Connection, key: tuple[str, str]) -> bool:
        type_, code = key
        if type_ == "myAsset":
            return conn.my_asset
        if type_ == "myOrder":
            return conn.my_order is not None and (not conn.my_order or code in conn.my_order)
        return key in conn.realtime


def _events(frame: str | bytes) -> list[Any]:
    """The stream events (those with a ``stream_type``) of one recorded frame."""
    try:
        messages = decode(frame)
    except ProtocolError:
        return []
    return [m for m in messages if hasattr(m, "stream_type")]


#: The 2026 types: announcements on ``/private``, indicator values and signals on ``/info``.
_NEW_TYPES = frozenset({Announcement, Indicator, IndicatorSignal})
