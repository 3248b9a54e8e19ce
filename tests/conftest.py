"""Shared fixtures: a fake exchange per test, with the market quiet until the test trades."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from upbit_stream.testing import FakeUpbit, open_fake_upbit


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpbit]:
    async with open_fake_upbit(seed=7, rate=0, idle_timeout=None) as server:
        yield server
