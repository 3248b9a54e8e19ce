"""Fixtures of the fake-exchange tests."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from upbit_stream.testing import FakeUpbit, open_fake_upbit


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpbit]:
    async with open_fake_upbit(rate=0, seed=7) as server:
        yield server
