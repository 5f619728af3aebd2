"""A schedule's "when" compiled to UTC instants: recurrence, date window, exceptions, zone.

Rules, in the schedule's zone (default `Asia/Ho_Chi_Minh`, which has no daylight saving):

- The window (`start` .. `until`, both inclusive) and the exception dates are local dates of
  the *planned* wall-clock time, before any daylight-saving adjustment below.
- A local time that does not exist (spring forward: 02:30 on the last Sunday of March in
  `Europe/Prague`, where clocks jump from 02:00 to 03:00) is moved forward by the length of
  the gap: it plays at 03:30 local, the same wall time read with the offset in force before
  the jump. This is what PEP 495 prescribes for `fold=0` and what `zoneinfo` computes.
- A local time that happens twice (autumn back: 02:30 on the last Sunday of October in
  Prague) plays once, at its first occurrence (`fold=0`, summer time).
- If two planned times land on the same instant (02:30 moved to 03:30 while 03:30 is also
  planned), it plays once.

Cost: each planned time is one `datetime.combine(...).astimezone(UTC)`; days come from the
recurrence's own date iterator (weekly and monthly rules jump between firing dates), so a
preview never walks minute by minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schedules.errors import RecurrenceError
from schedules.recurrence import Once, Recurrence

__all__ = ["DEFAULT_ZONE", "When", "between", "occurrences"]

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"

_ONE_DAY = timedelta(days=1)
# No zone is more than 14 hours ahead of UTC (Pacific/Kiritimati), so nothing planned on a
# local date D can happen before D 00:00 UTC minus 14 hours.
_MAX_AHEAD = timedelta(hours=14)


def _zone(name: str) -> ZoneInfo:
    """The zone called `name`, or an error that names it."""
    expected = "an IANA time zone name such as Asia/Ho_Chi_Minh or Europe/Prague"
    if not isinstance(name, str) or not name:
        raise RecurrenceError("when.zone", name, expected)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecurrenceError("when.zone", name, expected) from None


@dataclass(frozen=True, slots=True)
class When:
    """When a schedule plays: a recurrence inside a window of local dates, minus exceptions."""

    recurrence: Recurrence
    start: date
    until: date | None = None
    exceptions: frozenset[date] = frozenset()
    zone: str = DEFAULT_ZONE
    tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tz", _zone(self.zone))
        object.__setattr__(self, "exceptions", frozenset(self.exceptions))
        if self.until is not None and self.until < self.start:
            raise RecurrenceError(
                "when.until", self.until.isoformat(), f"a date on or after start {self.start}"
            )
        if isinstance(self.recurrence, Once) and not self.contains(self.recurrence.on):
            raise RecurrenceError(
                "once.on", self.recurrence.on.isoformat(), "a date inside the window"
            )

    def contains(self, day: date) -> bool:
        """Whether a local date is inside the window (exceptions not considered)."""
        return self.start <= day and (self.until is None or day <= self.until)

    def days_from(self, first: date) -> Iterator[date]:
        """The local dates the schedule plays on, from `first` on: window and exceptions applied."""
        first = max(first, self.start)
        for day in self.recurrence.dates_from(first):
            if self.until is not None and day > self.until:
                return
            if day not in self.exceptions:
                yield day


def _instants(when: When, day: date) -> Iterable[datetime]:
    """The UTC instants planned on one local date (rule in the module docstring)."""
    tz = when.tz
    return [datetime.combine(day, t, tzinfo=tz).astimezone(UTC) for t in when.recurrence.times]


def _check_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise RecurrenceError(name, value, "an aware datetime (with a zone, e.g. UTC)")


def occurrences(when: When, after: datetime, count: int) -> list[datetime]:
    """The next `count` planned instants strictly after `after`, as ascending aware UTC.

    Fewer come back only when the schedule ends (an `until`, or a `once` that has passed).
    """
    _check_aware("after", after)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise RecurrenceError("count", count, "a whole number of occurrences, 0 or more")
    found: list[datetime] = []
    if count == 0:
        return found
    # A moved (spring-forward) time can land on the next local date, so start a day early.
    first = after.astimezone(when.tz).date() - _ONE_DAY
    for day in when.days_from(first):
        if len(found) >= count:
            found = sorted(set(found))[:count]
            earliest = datetime.combine(day, datetime.min.time(), tzinfo=UTC) - _MAX_AHEAD
            if len(found) == count and earliest >= found[-1]:
                break
        found.extend(instant for instant in _instants(when, day) if instant > after)
    return sorted(set(found))[:count]


def between(when: When, start: datetime, end: datetime) -> list[datetime]:
    """Every planned instant in `[start, end)`, as ascending aware UTC."""
    _check_aware("start", start)
    _check_aware("end", end)
    if end < start:
        raise RecurrenceError("end", end.isoformat(), f"a time on or after start {start}")
    first = start.astimezone(when.tz).date() - _ONE_DAY
    last = end.astimezone(when.tz).date() + _ONE_DAY
    found: set[datetime] = set()
    for day in when.days_from(first):
        if day > last:
            break
        found.update(instant for instant in _instants(when, day) if start <= instant < end)
    return sorted(found)
