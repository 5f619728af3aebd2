"""A schedule's air times as an APScheduler 3 trigger: it fires `lead` before each one.

APScheduler asks a trigger for "the next fire time after the previous one"; a schedule
knows air times (`schedules.when`). The trigger's fire times are air time minus the
schedule's lead (`lead_s`: the audio goes out that long before air time), so the air time
of a fire is always `fire time + lead` (`air_time`).

`first_fire(since)` is where a job starts: the fire of the first air time strictly after
`since`, which may lie in the past (a schedule added at 05:50 for 06:00 with a 15-minute
lead fires at once, for 06:00, rather than waiting for tomorrow's 05:45). APScheduler then
lists every fire time from there up to now as due (its "misfired" run times); the
scheduler decides for each whether it is still sent or recorded as missed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger

from schedules.when import When, occurrences

__all__ = ["AirTimeTrigger"]


class AirTimeTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 is untyped
    """Fires `lead` before each air time of `when`."""

    __slots__ = ("lead", "when")

    def __init__(self, when: When, lead: timedelta) -> None:
        if lead < timedelta(0):
            raise ValueError(f"lead {lead} is negative; expected 0 or more")
        self.when = when
        self.lead = lead

    def air_time(self, fire_time: datetime) -> datetime:
        """The air time a fire at `fire_time` is for."""
        return (fire_time + self.lead).astimezone(UTC)

    def first_fire(self, since: datetime) -> datetime | None:
        """The fire of the first air time strictly after `since`; None if there is none."""
        upcoming = occurrences(self.when, since, 1)
        return upcoming[0] - self.lead if upcoming else None

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The fire after `previous_fire_time`; without one, the first air time after now."""
        if previous_fire_time is None:
            return self.first_fire(now)
        return self.first_fire(self.air_time(previous_fire_time))

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "when": self.when, "lead": self.lead}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.when = state["when"]
        self.lead = state["lead"]

    def __repr__(self) -> str:
        return f"AirTimeTrigger({self.when!r}, lead={self.lead})"

    def __str__(self) -> str:
        return f"air times of {self.when.recurrence}, {self.lead.total_seconds():g} s ahead"
