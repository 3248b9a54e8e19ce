"""Helpers for session tests: reach the fake exchange over in-memory streams (virtual time)."""

from __future__ import annotations

from typing import Any

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit


def memory_connector(fake: FakeUpbit) -> ub.Connector:
    """The fake's own in-memory connector: no sockets, virtual time works."""
    return fake.connector()


def settings_for(fake: FakeUpbit, **sections: dict[str, Any]) -> ub.Settings:
    """Settings pointing at ``fake``, with section overrides."""
    connection = {"public_url": fake.public_url, "private_url": fake.private_url, **sections.pop("connection", {})}
    return ub.Settings().evolve(connection=connection, **sections)
