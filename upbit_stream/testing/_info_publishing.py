"""What the fake exchange sends on the 2026 types — announcements, indicator values and signals — and their controls."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs
import msgspec

from .._core.encode import wire_object
from .._core.enums import Format, StreamType
from .._core.info_events import Announcement
from ._info_requests import ANNOUNCEMENT, AnnouncementSpec

if TYPE_CHECKING:
    from ._connection import Connection

__all__ = ["InfoPublishing"]

_KST = timezone(timedelta(hours=9))
_NOTICES_KEPT = 1000
_encoder = msgspec.json.Encoder(decimal_format="number")


class InfoPublishing:
    """Mixed into ``FakeUpbit``: announcements on ``/private``, indicator values and signals on ``/info``."""

    # provided by FakeUpbit
    _conns: dict[int, Connection]
    now_ms: Any

    def _init_info(self) -> None:
        self._notices: OrderedDict[str, Announcement] = OrderedDict()  # bounded: the last _NOTICES_KEPT
        self._notice_ids = itertools.count(562593105)

    # -- announcements ------------------------------------------------------------------------------

    def publish_announcement(self, title: str, category: str = "trade", *, event_type: str = "CREATED",
                             uuid: str | None = None, url: str | None = None, body: str | None = None,
                             body_too_large: bool = False, first_listed_at: str | None = None,
                             listed_at: str | None = None) -> Announcement:
        """Post a notice now: every ``/private`` connection whose announcement subscription takes
        ``category`` receives it, with ``body`` only where ``include_body`` was true (null when
        ``body_too_large``). An ``"UPDATED"`` notice names the ``uuid`` it updates and keeps its
        ``first_listed_at``; ``listed_at`` defaults to now (KST). Return the notice as a subscriber
        with ``include_body`` decodes it."""
        if event_type == "UPDATED" and uuid is None:
            raise ValueError("an UPDATED notice needs the uuid of the notice it updates")
        now_ms = self.now_ms()
        earlier = self._notices.get(uuid) if uuid is not None else None
        uuid = uuid if uuid is not None else str(next(self._notice_ids))
        listed = listed_at or datetime.fromtimestamp(now_ms / 1000, _KST).isoformat(timespec="seconds")
        notice = Announcement(
            event_type=event_type, uuid=uuid, title=title, category=category,
            url=url or f"https://www.upbit.com/service_center/notice?id={uuid}&view=share",
            first_listed_at=first_listed_at or (earlier.first_listed_at if earlier else listed),
            listed_at=listed, timestamp=now_ms, stream_type=StreamType.REALTIME,
            body=None if body_too_large else body)
        self._notices[uuid] = notice
        self._notices.move_to_end(uuid)
        while len(self._notices) > _NOTICES_KEPT:
            self._notices.popitem(last=False)
        frames: dict[tuple[Format, bool], bytes] = {}
        for conn in self._conns.values():
            if conn.endpoint != "private" or conn.auth_error is not None:
                continue
            specs = [t.spec for t in conn.types
                     if t.type == ANNOUNCEMENT and isinstance(t.spec, AnnouncementSpec) and t.spec.wants(category)]
            if not specs:
                continue
            key = (conn.format, any(spec.include_body for spec in specs))
            frame = frames.get(key)
            if frame is None:
                frame = frames[key] = _announcement_frame(notice, *key)
            conn.queue.put(frame)
        return notice


def _announcement_frame(notice: Announcement, fmt: Format, with_body: bool) -> bytes:
    """``notice`` in ``fmt``, with a ``body`` key (null when too large) only ``with_body``."""
    obj = wire_object(attrs.evolve(notice, body=None), fmt.simple_keys)
    if with_body:
        obj["bd" if fmt.simple_keys else "body"] = notice.body
    return _encoder.encode([obj] if fmt.listed else obj)
