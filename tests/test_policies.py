"""Tests for the sliding-window rate limiters and the jittered backoff."""

from __future__ import annotations

import random
from collections.abc import Sequence
from fractions import Fraction
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upbit_stream._core.policies import (
    Backoff,
    ConnectLimiter,
    RequestLimiter,
    SlidingWindowLimiter,
    _sum_up,
)

Windows = Sequence[tuple[int, float]]
UPBIT = ((5, 1.0), (100, 60.0))


def in_window(earlier: float, later: float, span: float) -> bool:
    """Exact (not float) test: are two moments less than ``span`` apart, so in one window?"""
    return Fraction(later) - Fraction(earlier) < Fraction(span)


def may_send(sent: Sequence[float], now: float, windows: Windows) -> bool:
    """Brute force: would one more event at ``now`` keep every window within its count?"""
    return all(sum(in_window(s, now, span) for s in sent) < count for count, span in windows)


def worst_windows(sent: Sequence[float], windows: Windows) -> list[int]:
    """Brute force: the most events any window ``[t, t + span)`` holds, per (count, span)."""
    return [
        max((sum(in_window(a, b, span) for b in sent[i:]) for i, a in enumerate(sent)), default=0)
        for _, span in windows
    ]


def drive(limiter: SlidingWindowLimiter, arrivals: Sequence[float]) -> list[float]:
    """Send each request, in order, at ``t + limiter.delay(t)``, checking the limiter as we go."""
    sent: list[float] = []
    t = arrivals[0] if arrivals else 0.0
    for arrival in arrivals:
        t = max(t, arrival)
        wait = limiter.delay(t)
        assert (wait == 0.0) == may_send(sent, t, limiter.windows)  # never delays one that fits
        if wait:
            assert wait > 0
            t += wait
            assert limiter.delay(t) == 0.0  # one wait is always enough: no float livelock
            assert may_send(sent, t, limiter.windows)
        limiter.record(t)
        sent.append(t)
    return sent


gaps = st.one_of(
    st.sampled_from([0.0, 0.0, 0.1, 0.2, 0.25, 1 / 3, 0.5, 1.0, 2.0, 60.0]),
    st.floats(0.0, 1.0),
    st.floats(0.0, 90.0),
)
bases = st.sampled_from([0.0, 0.3, 1000.7, 123456.789, 1e7, 1e7 + 0.1, 2.5e9])


@st.composite
def schedules(draw: st.DrawFn, max_size: int = 400) -> list[float]:
    base = draw(bases)
    return [base + offset for offset in accumulate(draw(st.lists(gaps, max_size=max_size)))]


@settings(max_examples=150, deadline=None)
@given(schedules())
def test_request_limiter_holds_upbit_limits_and_never_delays_needlessly(arrivals: list[float]) -> None:
    sent = drive(RequestLimiter(), arrivals)
    assert len(sent) == len(arrivals)
    per_second, per_minute = worst_windows(sent, UPBIT)
    assert per_second <= 5 and per_minute <= 100


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 6), st.sampled_from([0.05, 0.1, 1.0, 3.0, 10.0])), min_size=1, max_size=3),
    schedules(max_size=120),
)
def test_any_windows_hold(windows: list[tuple[int, float]], arrivals: list[float]) -> None:
    limiter = SlidingWindowLimiter(windows)
    sent = drive(limiter, arrivals)
    assert all(worst <= count for worst, (count, _) in zip(worst_windows(sent, windows), windows, strict=True))


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.one_of(st.floats(0.0, 1.0), st.floats(0.0, 1e9)), min_size=1, max_size=30).map(sorted),
    st.one_of(st.floats(0.0, 100.0), st.floats(0.0, 1e9)),
    st.sampled_from([(1, 0.1), (2, 1.0), (1, 3.0), (3, 60.0), (1, 1e-6), (4, 7e8)]),
)
def test_waiting_the_delay_is_always_enough(events: list[float], later: float, window: tuple[int, float]) -> None:
    limiter = SlidingWindowLimiter([window])
    for t in events:
        limiter.try_acquire(t)
    now = max(later, events[-1])
    then = now + limiter.delay(now)
    assert limiter.delay(then) == 0.0
    assert limiter.try_acquire(then)


@pytest.mark.parametrize(
    ("event", "span", "now"),
    [(0.38864224283144744, 3.0, 0.8488805556257202), (0.709006034186331, 60.0, 27.43013741731612)],
)
def test_delay_is_rounded_up_when_the_difference_rounds_down(event: float, span: float, now: float) -> None:
    limiter = SlidingWindowLimiter([(1, span)])
    limiter.record(event)
    ready = _sum_up(event, span)
    assert now + (ready - now) < ready  # waiting the plain difference would fall short
    assert limiter.try_acquire(now + limiter.delay(now))


@pytest.mark.parametrize("base", [1e7, 1e7 + 0.1, 86400.0 * 365 * 30, 1e12])
def test_large_now_makes_progress(base: float) -> None:
    limiter = RequestLimiter()
    t = base
    sent = []
    for _ in range(300):
        t += limiter.delay(t)
        assert limiter.try_acquire(t)
        sent.append(t)
    assert worst_windows(sent, UPBIT) == [5, 100]
    assert sent[-1] - sent[0] < 3 * 60 + 2  # 300 requests at 100 per minute: about three minutes


def test_boundary_is_half_open() -> None:
    limiter = ConnectLimiter(per_second=2)
    assert limiter.try_acquire(10.0) and limiter.try_acquire(10.5)
    assert limiter.delay(10.5) == 0.5 and not limiter.try_acquire(10.999999)
    assert limiter.delay(11.0) == 0.0 and limiter.try_acquire(11.0)  # exactly span apart: allowed
    assert not limiter.try_acquire(11.0) and limiter.delay(11.0) == 0.5


def test_boundary_uses_exact_sums() -> None:
    # 0.2 + 1.0 rounds to the float 1.2, below the exact sum: 1.2 itself is still too early.
    limiter = SlidingWindowLimiter([(1, 1.0)])
    limiter.record(0.2)
    assert 0.2 + 1.0 == 1.2 and Fraction(1.2) < Fraction(0.2) + 1
    assert limiter.delay(1.2) > 0 and not limiter.try_acquire(1.2)
    assert limiter.try_acquire(1.2 + limiter.delay(1.2))


def test_record_refuses_a_violation_and_time_going_back() -> None:
    limiter = SlidingWindowLimiter([(1, 1.0)])
    limiter.record(5.0)
    with pytest.raises(ValueError, match="rate limit"):
        limiter.record(5.5)
    with pytest.raises(ValueError, match="backwards"):
        limiter.record(4.0)
    assert not limiter.try_acquire(4.0)
    limiter.record(6.0)


def test_memory_is_bounded_by_the_largest_count() -> None:
    limiter = RequestLimiter(per_second=3, per_minute=7)
    t = 0.0
    for _ in range(1000):
        t += limiter.delay(t)
        limiter.record(t)
    assert len(limiter._events) == limiter._events.maxlen == 7
    assert RequestLimiter().windows == UPBIT and ConnectLimiter().windows == ((5, 1.0),)


@pytest.mark.parametrize(
    "windows", [[], [(0, 1.0)], [(True, 1.0)], [(1.5, 1.0)], [(1, 0.0)], [(1, -1.0)], [(1, float("nan"))]]
)
def test_bad_windows_are_refused(windows: list[tuple[int, float]]) -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(windows)


# --- backoff --------------------------------------------------------------------------------------


def bound(initial: float, maximum: float, attempt: int) -> Fraction:
    return min(Fraction(maximum), Fraction(initial) * 2**attempt)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(1e-6, 10.0),
    st.floats(1e-3, 1e4),
    st.integers(0, 2**32),
    st.integers(1, 80),
)
def test_backoff_delays_stay_within_their_ceiling(initial: float, maximum: float, seed: int, n: int) -> None:
    initial = min(initial, maximum)
    backoff = Backoff(initial, maximum, rng=random.Random(seed))
    for attempt in range(n):
        assert backoff.attempts == attempt
        assert Fraction(backoff.ceiling(attempt)) == bound(initial, maximum, attempt)
        assert bound(initial, maximum, attempt) / 2 <= backoff.next_delay() <= bound(initial, maximum, attempt)
    backoff.reset()
    assert backoff.attempts == 0
    assert initial / 2 <= backoff.next_delay() <= initial
    assert backoff.attempts == 1


def test_backoff_defaults_and_equal_jitter() -> None:
    backoff = Backoff(rng=random.Random(7))
    assert (backoff.initial, backoff.maximum) == (0.5, 30.0)
    assert [backoff.ceiling(n) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    samples = [Backoff(rng=random.Random(seed)).next_delay() for seed in range(2000)]
    assert min(samples) < 0.251 and max(samples) > 0.499  # the whole [initial / 2, initial] range is used


def test_backoff_bounds_a_storm_of_failures() -> None:
    """Failing for 600 s in a row makes at most 45 attempts whatever the jitter draws (R3: <= 50).

    The floors are 0.25 + 0.5 + 1 + 2 + 4 + 8 s, then 15 s each: 1 + 6 + 38 attempts at worst.
    """
    for seed in range(200):
        backoff, elapsed, attempts = Backoff(rng=random.Random(seed)), 0.0, 1
        while (elapsed := elapsed + backoff.next_delay()) <= 600:
            attempts += 1
        assert attempts <= 45


def test_backoff_never_overflows() -> None:
    backoff = Backoff(1e-300, 1e300, rng=random.Random(1))
    for _ in range(3000):  # far past the 1024 doublings where 2.0**n overflows
        assert 0.0 <= backoff.next_delay() <= 1e300
    assert backoff.attempts == 3000
    assert backoff.ceiling(10**12) == 1e300 and Backoff(5e-324, 1.0).ceiling(2000) == 1.0
    assert Backoff().ceiling(10**100) == 30.0


@pytest.mark.parametrize(("initial", "maximum"), [(0, 1), (-1, 1), (2, 1), (float("inf"), float("inf")), (1, float("nan"))])
def test_backoff_refuses_bad_bounds(initial: float, maximum: float) -> None:
    with pytest.raises(ValueError):
        Backoff(initial, maximum)
