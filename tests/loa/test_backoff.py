"""Back-off: bounded, growing, jittered, and reset by a success."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from loa.backoff import Backoff, SeededJitter


@given(
    initial=st.floats(min_value=0.01, max_value=5),
    factor=st.floats(min_value=1, max_value=100),
    seed=st.integers(),
    attempts=st.integers(min_value=1, max_value=200),
)
def test_every_delay_lies_between_half_the_ceiling_and_the_cap(
    initial: float, factor: float, seed: int, attempts: int
) -> None:
    cap = initial * factor
    backoff = Backoff(initial, cap, random.Random(seed))
    for attempt in range(attempts):
        ceiling = min(cap, initial * 2.0**attempt)
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling


def test_delays_grow_to_the_cap_and_reset_after_success() -> None:
    backoff = Backoff(0.5, 30, random.Random(1))
    delays = [backoff.next_delay() for _ in range(12)]
    assert delays[0] <= 0.5
    assert all(15 <= d <= 30 for d in delays[8:])
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_two_clients_with_different_seeds_do_not_retry_in_lockstep() -> None:
    a = Backoff(1, 30, random.Random(1))
    b = Backoff(1, 30, random.Random(2))
    assert [a.next_delay() for _ in range(5)] != [b.next_delay() for _ in range(5)]


def test_seeded_jitter_is_repeatable_spread_and_within_bounds() -> None:
    first = [SeededJitter(42).uniform(1.0, 2.0) for _ in range(3)]
    assert len(set(first)) == 1, "a fresh generator of one seed draws the same"
    jitter = SeededJitter(42)
    draws = [jitter.uniform(1.0, 2.0) for _ in range(10_000)]
    assert all(1.0 <= d < 2.0 for d in draws)
    assert 1.45 < sum(draws) / len(draws) < 1.55
    assert len({round(d, 3) for d in draws}) > 900, "spread over the range"
    other = SeededJitter(43)
    assert [other.uniform(1.0, 2.0) for _ in range(3)] != draws[:3]
    backoff = Backoff(1, 30, SeededJitter(7))
    assert 0.5 <= backoff.next_delay() <= 1.0
