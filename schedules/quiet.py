"""Quiet hours: the local wall-clock span in which a commune allows no sound but emergencies.

A commune sets quiet hours (default 22:00-05:00) so that loudspeakers stay silent at night.
The span is in the commune's local time and wraps midnight when it ends before it starts.

Only the *start* of an air time is judged: a bulletin planned at 21:58 that runs 5 minutes
is allowed, because what the commune decides is when sound may begin; cutting a bulletin
in the middle of a sentence at 22:00 would be worse than letting it finish. Emergencies are
never refused; that choice is the caller's (this module only says which instants are quiet).

`as_zone` is here because quiet hours are the first rule that needs a zone given either as
a name or as a `ZoneInfo`; the clash and calendar modules use it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schedules.errors import RecurrenceError

__all__ = [
    "DEFAULT_QUIET_HOURS",
    "QuietHours",
    "as_zone",
    "parse_quiet_hours",
    "quiet_instants",
]

_FORM: Final = "HH:MM-HH:MM in local time, e.g. 22:00-05:00, or none / off"
_PATTERN: Final = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_NONE: Final = frozenset({"none", "off"})


def as_zone(zone: ZoneInfo | str, field: str = "zone") -> ZoneInfo:
    """A `ZoneInfo` from itself or from an IANA name, or an error naming `field` and the value."""
    if isinstance(zone, ZoneInfo):
        return zone
    expected = "an IANA time zone name such as Asia/Ho_Chi_Minh or Europe/Prague"
    if not isinstance(zone, str) or not zone:
        raise RecurrenceError(field, zone, expected)
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecurrenceError(field, zone, expected) from None


@dataclass(frozen=True, slots=True)
class QuietHours:
    """From `start` (included) to `end` (excluded), local wall times; wraps midnight if end < start.

    `start == end` is refused: it could mean "never quiet" or "always quiet", and a commune
    that wants either should say `none` or pick real hours.
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise RecurrenceError(
                    f"quiet_hours.{name}", value, "a local time of day without a zone"
                )
        if self.start == self.end:
            raise RecurrenceError(
                "quiet_hours",
                str(self),
                "a start and an end that differ (write none to have no quiet hours)",
            )

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: time) -> bool:
        """Whether a local wall time is quiet (start inclusive, end exclusive)."""
        local = local.replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


DEFAULT_QUIET_HOURS: Final = QuietHours(time(22), time(5))


def _clock(hour: str, minute: str, field: str, text: str) -> time:
    h, m = int(hour), int(minute)
    if h > 23 or m > 59:
        raise RecurrenceError(field, text, f"{_FORM}; {hour}:{minute} is not a time of day")
    return time(h, m)


def parse_quiet_hours(text: str, field: str = "quiet_hours") -> QuietHours | None:
    """Quiet hours as a person writes them (`22:00-05:00`, `22:00 - 05:00`); None for `none`.

    `off` means `none` too, in any case.

    Errors name `field` (the key in a config file, e.g. `communes.tra-linh.quiet_hours`).
    """
    if not isinstance(text, str):
        raise RecurrenceError(field, text, _FORM)
    if text.strip().lower() in _NONE:
        return None
    match = _PATTERN.match(text)
    if match is None:
        raise RecurrenceError(field, text, _FORM)
    start = _clock(match[1], match[2], field, text)
    end = _clock(match[3], match[4], field, text)
    if start == end:
        raise RecurrenceError(
            field, text, "a start and an end that differ (write none to have no quiet hours)"
        )
    return QuietHours(start, end)


def quiet_instants(
    instants: Iterable[datetime], quiet: QuietHours, zone: ZoneInfo | str
) -> list[datetime]:
    """The instants (aware, any zone) whose local start time in `zone` is quiet, in input order."""
    tz = as_zone(zone)
    found: list[datetime] = []
    for instant in instants:
        if not isinstance(instant, datetime) or instant.utcoffset() is None:
            raise RecurrenceError("instant", instant, "an aware datetime (with a zone, e.g. UTC)")
        if quiet.contains(instant.astimezone(tz).time()):
            found.append(instant)
    return found
