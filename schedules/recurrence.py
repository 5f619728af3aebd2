"""What a schedule's recurrence means: the local dates it fires on and its local times of day.

Every kind answers two questions, and `schedules.when` turns the answers into UTC instants:

- `times`: the local wall-clock times of day, sorted and distinct (the same on every date);
- `dates_from(first)`: the local dates it fires on, from `first` on, ascending. For every kind
  but `Once` the iterator never ends and always makes progress, so callers bound it with a
  date window or a count rather than with a guessed horizon.

Kinds: `Once` (one local date and time), `Daily` (times), `Weekly` (weekdays and times),
`MonthlyNth` (the nth or last weekday of each month, and times) and `Cron` (a 5-field crontab
for experts, in `schedules.cron`). Weekdays are Python's: 0 is Monday, 6 is Sunday.

Values arrive from people (YAML, the command line) as text: `parse_date` and `parse_time` turn
text into `date` and `time` and say which field was wrong, so that "31 February" is reported
as such rather than as a bare `ValueError` from `datetime`.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import ClassVar

from schedules.cron import Cron
from schedules.errors import RecurrenceError

__all__ = [
    "Cron",
    "Daily",
    "MonthlyNth",
    "Once",
    "Recurrence",
    "Weekly",
    "parse_date",
    "parse_time",
]

_ONE_DAY = timedelta(days=1)
_WEEKDAYS = "0 (Monday) to 6 (Sunday)"
_NTHS = (1, 2, 3, 4, -1)


def parse_date(text: str, field: str) -> date:
    """Parse an ISO date (`2025-02-28`), naming `field` when it is not a real date."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RecurrenceError(
            field, text, "a real calendar date written YYYY-MM-DD, e.g. 2025-02-28"
        ) from None


def parse_time(text: str, field: str) -> time:
    """Parse a local time of day (`06:00` or `06:00:30`), naming `field` when out of range."""
    try:
        value = time.fromisoformat(text.strip())
    except ValueError:
        raise RecurrenceError(
            field, text, "a time of day HH:MM between 00:00 and 23:59, e.g. 06:00"
        ) from None
    return _check_time(value, field)


def _check_time(value: time, field: str) -> time:
    """A recurrence time is a naive wall-clock time: the zone belongs to the schedule."""
    if value.tzinfo is not None:
        raise RecurrenceError(
            field, value, "a local time without a zone (the zone is the schedule's)"
        )
    return value


def _check_times(values: Iterable[time], field: str) -> tuple[time, ...]:
    """Sort the times and refuse an empty list or a time given twice."""
    times = tuple(values)
    if not times:
        raise RecurrenceError(field, times, "at least one time of day, e.g. 06:00")
    for value in times:
        _check_time(value, field)
    ordered = tuple(sorted(times))
    for earlier, later in itertools.pairwise(ordered):
        if earlier == later:
            raise RecurrenceError(field, later.isoformat(), "each time listed once")
    return ordered


def _check_weekday(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
        raise RecurrenceError(field, value, f"a weekday number from {_WEEKDAYS}")
    return value


@dataclass(frozen=True, slots=True)
class Once:
    """One local date and time, e.g. a vaccination announcement on 2025-03-04 at 07:30."""

    kind: ClassVar[str] = "once"
    on: date
    at: time

    def __post_init__(self) -> None:
        _check_time(self.at, "once.at")

    @property
    def times(self) -> tuple[time, ...]:
        """The single time of day."""
        return (self.at,)

    def dates_from(self, first: date) -> Iterator[date]:
        """The date itself, if it is not before `first`."""
        if self.on >= first:
            yield self.on


@dataclass(frozen=True, slots=True)
class Daily:
    """Every day at one or more local times, e.g. the 06:00 and 17:00 programme."""

    kind: ClassVar[str] = "daily"
    times: tuple[time, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "times", _check_times(self.times, "daily.times"))

    def dates_from(self, first: date) -> Iterator[date]:
        """Every date from `first` on."""
        day = first
        while True:
            yield day
            day += _ONE_DAY


@dataclass(frozen=True, slots=True)
class Weekly:
    """Some weekdays (0 = Monday) at one or more local times, e.g. the Saturday market notice."""

    kind: ClassVar[str] = "weekly"
    weekdays: tuple[int, ...]
    times: tuple[time, ...]

    def __post_init__(self) -> None:
        days = tuple(self.weekdays)
        if not days:
            raise RecurrenceError("weekly.weekdays", days, f"at least one weekday, {_WEEKDAYS}")
        for value in days:
            _check_weekday(value, "weekly.weekdays")
        if len(set(days)) != len(days):
            raise RecurrenceError("weekly.weekdays", days, "each weekday listed once")
        object.__setattr__(self, "weekdays", tuple(sorted(days)))
        object.__setattr__(self, "times", _check_times(self.times, "weekly.times"))

    def dates_from(self, first: date) -> Iterator[date]:
        """The dates from `first` on that fall on one of the weekdays, jumping between them."""
        # Gap from each weekday to the next wanted weekday (strictly later), so that a weekly
        # rule costs one step per firing date rather than one per calendar day.
        wanted = set(self.weekdays)
        step = [
            timedelta(days=next(k for k in range(1, 8) if (w + k) % 7 in wanted)) for w in range(7)
        ]
        day = first
        if day.weekday() not in wanted:
            day += step[day.weekday()]
        while True:
            yield day
            day += step[day.weekday()]


@dataclass(frozen=True, slots=True)
class MonthlyNth:
    """The nth weekday of each month (n = 1..4) or the last one (n = -1), at local times.

    A 5th weekday is refused: most months have none, and a schedule that silently skips
    most months is a surprise; "last" is what people mean.
    """

    kind: ClassVar[str] = "monthly_nth"
    n: int
    weekday: int
    times: tuple[time, ...]

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or self.n not in _NTHS:
            raise RecurrenceError(
                "monthly_nth.n", self.n, "1, 2, 3 or 4 (the nth weekday) or -1 (the last one)"
            )
        _check_weekday(self.weekday, "monthly_nth.weekday")
        object.__setattr__(self, "times", _check_times(self.times, "monthly_nth.times"))

    def in_month(self, year: int, month: int) -> date:
        """The firing date in one month (every month has one: n is at most 4)."""
        if self.n > 0:
            first_weekday = date(year, month, 1).weekday()
            return date(year, month, 1 + (self.weekday - first_weekday) % 7 + 7 * (self.n - 1))
        last = calendar.monthrange(year, month)[1]
        last_weekday = date(year, month, last).weekday()
        return date(year, month, last - (last_weekday - self.weekday) % 7)

    def dates_from(self, first: date) -> Iterator[date]:
        """One date a month, from the month of `first` on (skipping it if already past)."""
        year, month = first.year, first.month
        while True:
            day = self.in_month(year, month)
            if day >= first:
                yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)


Recurrence = Once | Daily | Weekly | MonthlyNth | Cron
"""Every kind of recurrence; dispatch on the class (or on `kind`, its name in files)."""
