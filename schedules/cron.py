"""The `cron` recurrence: a standard 5-field crontab string for experts.

`minute hour day-of-month month day-of-week`, e.g. `30 6 * * 1-5` (06:30 Monday to Friday).

APScheduler 3.11's `CronTrigger.from_crontab` parses and validates the minute, hour,
day-of-month and month fields (its error message is kept in ours), and its field objects
answer "does this value match". Loa does not ask the trigger for fire times, for two reasons:

- Wall-clock times across daylight saving time: the trigger walks an aware datetime field by
  field and its handling of a skipped or repeated hour is an implementation detail of 3.x.
  Loa expands every kind the same way (local dates x local times, then one documented rule
  in `schedules.when`), so a cron rule and a daily rule at the same time agree, DST included.
- Crontab meaning: APScheduler 3.x numbers weekdays from 0 = Monday and ANDs day-of-month
  with day-of-week. A crontab author means 0 (or 7) = Sunday, and, when both day fields are
  restricted, either one matching (Vixie cron: `0 6 1 * mon` is the 1st and every Monday).
  So the day-of-week field is parsed here, with crontab numbering, and the two day fields
  are combined as cron does (a field starting with `*` counts as unrestricted).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar

from apscheduler.triggers.cron import CronTrigger

from schedules.errors import RecurrenceError

__all__ = ["Cron"]

_FIELD = "cron"
_EXPECTED = "5 crontab fields 'minute hour day-of-month month day-of-week', e.g. '30 6 * * 1-5'"
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DOW_PART = re.compile(r"^(?P<range>\*|(?P<a>\w+)(?:-(?P<b>\w+))?)(?:/(?P<step>\d+))?$")
# The Gregorian weekday pattern repeats every 28 years between 1901 and 2099, leap days
# included: a rule that matches no day in 28 years from 2000 never matches.
_PROBE_YEARS = range(2000, 2028)


def _dow_number(token: str, expression: str) -> int:
    """A crontab weekday: 0-7 (0 and 7 are Sunday) or a three-letter English name."""
    lowered = token.lower()
    if lowered in _DAY_NAMES:
        return _DAY_NAMES.index(lowered)
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    raise RecurrenceError(
        _FIELD,
        expression,
        f"a day-of-week of 0-7 (0 and 7 are Sunday) or sun..sat, not {token!r}",
    )


def _parse_day_of_week(text: str, expression: str) -> frozenset[int]:
    """The crontab day-of-week field as Python weekdays (0 = Monday)."""
    numbers: set[int] = set()
    for part in text.split(","):
        match = _DOW_PART.match(part)
        if match is None:
            raise RecurrenceError(
                _FIELD, expression, f"a day-of-week like 1-5, sat,sun or */2, not {part!r}"
            )
        step = int(match["step"]) if match["step"] else 1
        if step < 1:
            raise RecurrenceError(_FIELD, expression, "a day-of-week step of at least 1")
        if match["range"] == "*":
            low, high = 0, 6
        else:
            low = _dow_number(match["a"], expression)
            high = _dow_number(match["b"], expression) if match["b"] else low
            if match["step"] and not match["b"]:
                high = 7 if low == 7 else 6
            if high < low:
                raise RecurrenceError(
                    _FIELD, expression, f"a day-of-week range from low to high, not {part!r}"
                )
        numbers.update(range(low, high + 1, step))
    # crontab 0/7 = Sunday, 1 = Monday ... -> Python 0 = Monday ... 6 = Sunday
    return frozenset((number - 1) % 7 for number in numbers)


@dataclass(frozen=True, slots=True)
class Cron:
    """A crontab expression, evaluated in the schedule's zone (see the module docstring)."""

    kind: ClassVar[str] = "cron"
    expression: str
    times: tuple[time, ...] = field(init=False, compare=False, repr=False)
    _months: frozenset[int] = field(init=False, compare=False, repr=False)
    _weekdays: frozenset[int] = field(init=False, compare=False, repr=False)
    _day_field: Any = field(init=False, compare=False, repr=False)
    _dom_star: bool = field(init=False, compare=False, repr=False)
    _dow_star: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str):
            raise RecurrenceError(_FIELD, self.expression, _EXPECTED)
        parts = self.expression.split()
        if len(parts) != 5:
            raise RecurrenceError(_FIELD, self.expression, f"{_EXPECTED} (got {len(parts)})")
        minute, hour, dom, month, dow = parts
        try:
            trigger = CronTrigger.from_crontab(f"{minute} {hour} {dom} {month} *", timezone=UTC)
        except ValueError as exc:
            raise RecurrenceError(_FIELD, self.expression, f"{_EXPECTED}; {exc}") from exc
        fields = {f.name: f for f in trigger.fields}
        probe = datetime(2000, 1, 1)  # noqa: DTZ001 - fields only read naive wall values
        minutes = [m for m in range(60) if _matches(fields["minute"], probe.replace(minute=m), m)]
        hours = [h for h in range(24) if _matches(fields["hour"], probe.replace(hour=h), h)]
        months = [m for m in range(1, 13) if _matches(fields["month"], probe.replace(month=m), m)]
        set_ = object.__setattr__
        set_(self, "times", tuple(time(h, m) for h in hours for m in minutes))
        set_(self, "_months", frozenset(months))
        set_(self, "_weekdays", _parse_day_of_week(dow, self.expression))
        set_(self, "_day_field", fields["day"])
        set_(self, "_dom_star", dom.startswith("*"))
        set_(self, "_dow_star", dow.startswith("*"))
        probe_days = self._dates(date(_PROBE_YEARS[0], 1, 1), _PROBE_YEARS[-1])
        if next(probe_days, None) is None:
            raise RecurrenceError(
                _FIELD, self.expression, "a rule that matches at least one real date"
            )

    def matches(self, day: date) -> bool:
        """Whether the rule fires on this local date (crontab day-field semantics)."""
        if day.month not in self._months:
            return False
        dom_ok = _matches(
            self._day_field,
            datetime(day.year, day.month, day.day),  # noqa: DTZ001 - a wall date, no zone
            day.day,
        )
        dow_ok = day.weekday() in self._weekdays
        if self._dom_star or self._dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def dates_from(self, first: date) -> Iterator[date]:
        """The matching dates from `first` on, skipping months the rule excludes.

        The probe in `__post_init__` guarantees a match within any 28 years, so this never
        spins without yielding; a rule that matches no day at all is refused when built.
        """
        return self._dates(first, date.max.year)

    def _dates(self, first: date, last_year: int) -> Iterator[date]:
        year, month, day_number = first.year, first.month, first.day
        while year <= last_year:
            if month in self._months:
                for number in range(day_number, calendar.monthrange(year, month)[1] + 1):
                    day = date(year, month, number)
                    if self.matches(day):
                        yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            day_number = 1


def _matches(cron_field: Any, dateval: datetime, value: int) -> bool:
    """Whether an APScheduler cron field accepts `value` (its next value from there is itself)."""
    return bool(cron_field.get_next_value(dateval) == value)
