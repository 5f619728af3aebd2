"""The period of a report: `from` and `to` as people give them, in the controller's zone.

A period is given as two days (`2026-11-01`, both included) or two instants (ISO 8601;
without an offset they are read in the zone). A period must not end before it starts, nor
span more than `MAX_DAYS`. Left out, `to` is the end of today and `from` the start of the
day 6 days before (7 whole days, today's air times still to come included).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from loa.errors import LoaError

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "Period", "PeriodError", "period_of"]

DEFAULT_DAYS: Final = 7
#: The longest period a report covers (a year, a leap one included).
MAX_DAYS: Final = 366


class PeriodError(LoaError):
    """A period that cannot be reported on; `field` is `from` or `to`.

    `kind` ("not_a_date", "reversed", "too_long") and `params` let a page say it in the
    reader's language; `problem` says it in English.
    """

    def __init__(
        self, field: str, problem: str, kind: str, params: dict[str, str] | None = None
    ) -> None:
        self.field = field
        self.problem = problem
        self.kind = kind
        self.params = params or {}
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, and the zone its days are counted in."""

    start: datetime
    end: datetime
    zone: ZoneInfo

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.zone).date()

    @property
    def last_day(self) -> date:
        """The local day holding the period's last instant."""
        return (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()


def _instant(text: str, field: str, zone: ZoneInfo, *, end: bool) -> datetime:
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        if end:
            day += timedelta(days=1)  # the whole `to` day is in the period
        return datetime.combine(day, time(), zone).astimezone(UTC)
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PeriodError(
            field,
            f"{text!r} is not a date; write YYYY-MM-DD (e.g. 2026-11-01) or ISO 8601",
            "not_a_date",
            {"given": text},
        ) from None
    if instant.utcoffset() is None:
        instant = instant.replace(tzinfo=zone)
    return instant.astimezone(UTC)


def period_of(
    given_from: str | None, given_to: str | None, zone: ZoneInfo, now: datetime
) -> Period:
    """The period `from`..`to` (see the module docstring); `PeriodError` names the bad one."""
    if given_to is None or not given_to.strip():
        end = _instant(now.astimezone(zone).date().isoformat(), "to", zone, end=True)
    else:
        end = _instant(given_to, "to", zone, end=True)
    if given_from is None or not given_from.strip():
        last = (end - timedelta(microseconds=1)).astimezone(zone).date()
        first = last - timedelta(days=DEFAULT_DAYS - 1)
        start = _instant(first.isoformat(), "from", zone, end=False)
    else:
        start = _instant(given_from, "from", zone, end=False)
    if start >= end:
        starts = f"{start.astimezone(zone):%Y-%m-%d %H:%M}"
        ends = f"{end.astimezone(zone):%Y-%m-%d %H:%M}"
        raise PeriodError(
            "from",
            f"the period starts ({starts}) after it ends ({ends}); give a `from` before `to`",
            "reversed",
            {"start": starts, "end": ends},
        )
    if end - start > timedelta(days=MAX_DAYS):
        days = str((end - start).days)
        raise PeriodError(
            "to",
            f"the period spans {days} days; give at most {MAX_DAYS} days",
            "too_long",
            {"days": days, "most": str(MAX_DAYS)},
        )
    return Period(start, end, zone)
