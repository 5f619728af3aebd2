"""What becomes of one planned air time when its fire comes: sent, sent late, or missed.

Pure: the scheduler hands in the schedule, the air time, the time now and the rules, and
gets the `FireRow` to store.

- An air time in the quiet hours of a commune it targets is `missed` ("quiet hours"),
  unless the schedule is an emergency; so is a late start (below) that would fall in
  them. Quiet hours bound when sound may *start*: a bulletin starting 21:58 may run past
  22:00.
- An air time still ahead (the usual case: the fire comes `lead_s` before it) is
  scheduled for that air time, to be delivered from now on.
- An air time already passed (the controller was down, or the schedule was applied or
  approved after its lead had begun) is still sent if it passed at most `grace` ago and
  it would not expire before it can start: it plays `late_start` from now, so that every
  receiver has the audio and a village starts together. The reason says it is late.
- Anything older is `missed`, with a reason that says when it was planned and why it
  was not sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from controller.store.fires import FireRow
from schedules.model import Schedule
from schedules.quiet import QuietHours

__all__ = ["FireRules", "decide"]


@dataclass(frozen=True, slots=True)
class FireRules:
    """The commune-wide rules a fire is judged by (`schedules:` in the config)."""

    grace: timedelta
    late_start: timedelta
    #: where people read times (the controller's `time_zone`)
    zone: ZoneInfo


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _minutes(span: timedelta) -> str:
    seconds = round(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def decide(
    schedule: Schedule,
    planned: datetime,
    now: datetime,
    rules: FireRules,
    quiet: Sequence[tuple[str, QuietHours]] = (),
) -> FireRow:
    """The fate of `schedule`'s air time `planned` when fired at `now`.

    `quiet` lists the quiet hours of each commune the schedule's receivers are in, as
    (commune label, hours), in the zone of `rules`.
    """
    planned = planned.astimezone(UTC)
    expires_at = planned + timedelta(seconds=schedule.expires_after_s)
    at = _local(planned, rules.zone)
    refused = _quiet(schedule, planned, rules, quiet)
    if refused is not None:
        return _missed(planned, expires_at, refused)
    late = now - planned
    if late <= timedelta(0):
        return FireRow(planned, "scheduled", planned, now, expires_at)
    start = now + rules.late_start
    if late <= rules.grace and start < expires_at:
        refused = _quiet(schedule, start, rules, quiet)  # a late start may fall in them
        if refused is not None:
            return _missed(planned, expires_at, f"{refused} (planned for {at}, late)")
        return FireRow(
            planned,
            "scheduled",
            start,
            now,
            expires_at,
            reason=f"late: planned for {at}, fired {_minutes(late)} late "
            f"(within the grace of {_minutes(rules.grace)}); plays at "
            f"{start.astimezone(rules.zone).strftime('%H:%M:%S')}",
        )
    why = (
        f"its expiry ({_local(expires_at, rules.zone)}) comes before it could start"
        if start >= expires_at
        else f"more than the grace of {_minutes(rules.grace)}"
    )
    return _missed(
        planned,
        expires_at,
        f"missed: planned for {at}, the controller fired it only {_minutes(late)} later "
        f"(it was not running, or the schedule was not active yet); {why}",
    )


def _quiet(
    schedule: Schedule,
    start: datetime,
    rules: FireRules,
    quiet: Sequence[tuple[str, QuietHours]],
) -> str | None:
    """Why sound may not start at `start` (quiet hours of a commune reached), or None."""
    if schedule.priority == "emergency":
        return None
    local = start.astimezone(rules.zone)
    for commune, hours in quiet:
        if hours.contains(local.time()):
            return (
                f"quiet hours: {local:%Y-%m-%d %H:%M} falls in the quiet hours of {commune} "
                f"({hours}); only emergencies may sound then"
            )
    return None


def _missed(planned: datetime, expires_at: datetime, reason: str) -> FireRow:
    return FireRow(planned, "missed", None, None, expires_at, reason=reason)
