"""The statistics windows (pure): latency percentiles over the last samples."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from upbit_stream._core.stats import LatencyWindow


def test_no_samples_no_percentiles() -> None:
    assert LatencyWindow().percentiles(0.5, 0.99) == (None, None)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=300), st.integers(1, 100),
       st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=4))
def test_percentiles_are_those_of_the_last_size_samples(samples: list[float], size: int, fractions: list[float]) -> None:
    window = LatencyWindow(size)
    for sample in samples:
        window.add(sample)
    kept = sorted(samples[-size:])
    got = window.percentiles(*fractions)
    assert len(got) == len(fractions)
    for fraction, value in zip(fractions, got):
        assert value == kept[round(fraction * (len(kept) - 1))]
    assert window.percentiles(0.0, 1.0) == (kept[0], kept[-1])
