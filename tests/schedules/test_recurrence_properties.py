"""Hypothesis invariants of schedule expansion, in a zone with DST and in Vietnam's."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schedules.recurrence import Cron, Daily, MonthlyNth, Once, Recurrence, Weekly
from schedules.when import When, between, occurrences

ZONES = st.sampled_from(["Europe/Prague", "Asia/Ho_Chi_Minh", "America/New_York", "UTC"])
# Minutes on the half hour include the DST gap and fold in Prague and New York (02:xx).
TIMES = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
TIME_LISTS = st.lists(TIMES, min_size=1, max_size=4, unique=True).map(tuple)
DAYS = st.dates(date(2024, 1, 1), date(2027, 12, 31))


def _recurrences(day: date) -> st.SearchStrategy[Recurrence]:
    return st.one_of(
        st.builds(Once, st.just(day), TIMES),
        st.builds(Daily, TIME_LISTS),
        st.builds(
            Weekly,
            st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True).map(tuple),
            TIME_LISTS,
        ),
        st.builds(MonthlyNth, st.sampled_from([1, 2, 3, 4, -1]), st.integers(0, 6), TIME_LISTS),
        st.sampled_from(["30 2 * * *", "0,30 1-3 * * 0", "15 6 1,15 * *", "0 2 * 3,10 sun"]).map(
            Cron
        ),
    )


@st.composite
def whens(draw: st.DrawFn) -> When:
    start = draw(DAYS)
    until = draw(st.none() | st.integers(0, 400).map(lambda k: start + timedelta(days=k)))
    last = until or start + timedelta(days=400)
    on = draw(st.dates(start, last))
    exceptions = draw(st.frozensets(st.dates(start, last), max_size=20))
    if isinstance(recurrence := draw(_recurrences(on)), Once):
        exceptions -= {on} if draw(st.booleans()) else set()
    return When(recurrence, start, until, exceptions, draw(ZONES))


# hypothesis bounds are naive by its API; `timezones` makes the drawn values aware
AFTER = st.datetimes(
    datetime(2023, 12, 1),  # noqa: DTZ001
    datetime(2028, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=300, deadline=None)
@given(when=whens(), after=AFTER, count=st.integers(1, 30))
def test_occurrences_invariants(when: When, after: datetime, count: int) -> None:
    got = occurrences(when, after, count)
    assert len(got) <= count
    assert all(a < b for a, b in itertools.pairwise(got))
    assert all(i > after and i.utcoffset() == timedelta(0) for i in got)
    for instant in got:
        # The planned local date is the instant's own date, or the day before when a time in
        # the spring gap was moved past midnight; both must be in the window, not skipped.
        local = instant.astimezone(when.tz).date()
        planned = {local, local - timedelta(days=1)}
        assert any(when.contains(d) and d not in when.exceptions for d in planned)
    if len(got) < count and when.until is not None:
        # the schedule ended: nothing more exists up to well past its last date
        end = datetime.combine(when.until + timedelta(days=2), time(), tzinfo=UTC)
        start = after + timedelta(microseconds=1)
        assert between(when, start, max(start, end)) == got


@settings(max_examples=200, deadline=None)
@given(when=whens(), after=AFTER, count=st.integers(2, 30))
def test_next_after_the_first_is_the_rest(when: When, after: datetime, count: int) -> None:
    got = occurrences(when, after, count)
    if got:
        following = occurrences(when, got[0], count)
        assert got[1:] == following[: len(got) - 1]
        assert len(following) >= len(got) - 1
        if len(following) == count:  # the brief's form, when the schedule has not ended
            assert got[1:] == following[:-1]


@settings(max_examples=200, deadline=None)
@given(when=whens(), after=AFTER, days=st.integers(0, 60))
def test_between_agrees_with_occurrences(when: When, after: datetime, days: int) -> None:
    end = after + timedelta(days=days)
    ranged = between(when, after, end)
    assert ranged == sorted(set(ranged))
    assert all(after <= i < end for i in ranged)
    nexts = occurrences(when, after - timedelta(microseconds=1), len(ranged) + 1)
    assert ranged == [i for i in nexts if i < end]
