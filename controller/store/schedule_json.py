"""A schedule as plain JSON values and back: how `schedules.definition` stores it.

Canonical: sorted keys when dumped, dates and times in ISO form, languages in their given
order, so equal schedules give equal text and "did this file change anything?" is one
string comparison.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from schedules.cron import Cron
from schedules.model import Schedule
from schedules.recurrence import Daily, MonthlyNth, Once, Recurrence, Weekly
from schedules.when import When

__all__ = ["schedule_from_dict", "schedule_to_dict"]


def _time_text(value: time) -> str:
    """`06:00`, or `06:00:30` when seconds were given (nothing is lost either way)."""
    return value.isoformat(timespec="minutes" if not value.second else "seconds")


def _recurrence_to_dict(recurrence: Recurrence) -> dict[str, Any]:
    times = [_time_text(t) for t in recurrence.times] if not isinstance(recurrence, Cron) else []
    if isinstance(recurrence, Once):
        return {"kind": "once", "on": recurrence.on.isoformat(), "at": _time_text(recurrence.at)}
    if isinstance(recurrence, Daily):
        return {"kind": "daily", "times": times}
    if isinstance(recurrence, Weekly):
        return {"kind": "weekly", "weekdays": list(recurrence.weekdays), "times": times}
    if isinstance(recurrence, MonthlyNth):
        return {
            "kind": "monthly_nth",
            "n": recurrence.n,
            "weekday": recurrence.weekday,
            "times": times,
        }
    return {"kind": "cron", "expression": recurrence.expression}


def _recurrence_from_dict(data: dict[str, Any]) -> Recurrence:
    kind = data["kind"]
    times = tuple(time.fromisoformat(t) for t in data.get("times", ()))
    if kind == "once":
        return Once(date.fromisoformat(data["on"]), time.fromisoformat(data["at"]))
    if kind == "daily":
        return Daily(times)
    if kind == "weekly":
        return Weekly(tuple(data["weekdays"]), times)
    if kind == "monthly_nth":
        return MonthlyNth(data["n"], data["weekday"], times)
    if kind == "cron":
        return Cron(data["expression"])
    raise ValueError(f"unknown recurrence kind {kind!r} in a stored schedule")


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    """The schedule as plain JSON values, the same for equal schedules (see module doc)."""
    when = schedule.when
    return {
        "id": schedule.id,
        "title": schedule.title,
        "when": {
            **_recurrence_to_dict(when.recurrence),
            "from": when.start.isoformat(),
            "until": None if when.until is None else when.until.isoformat(),
            "except": sorted(d.isoformat() for d in when.exceptions),
            "zone": when.zone,
        },
        "targets": schedule.targets,
        "contents": [list(pair) for pair in schedule.contents],
        "text": [list(pair) for pair in schedule.text],
        "priority": schedule.priority,
        "duration_s": schedule.duration_s,
        "lead_s": schedule.lead_s,
        "expires_after_s": schedule.expires_after_s,
        "enabled": schedule.enabled,
        "volume": schedule.volume,
        "repeat": schedule.repeat,
        "chime": schedule.chime,
    }


def schedule_from_dict(data: dict[str, Any]) -> Schedule:
    """The schedule back from `schedule_to_dict` (every field checked again by `Schedule`)."""
    when = data["when"]
    return Schedule(
        id=data["id"],
        title=data["title"],
        when=When(
            recurrence=_recurrence_from_dict(when),
            start=date.fromisoformat(when["from"]),
            until=None if when["until"] is None else date.fromisoformat(when["until"]),
            exceptions=frozenset(date.fromisoformat(d) for d in when["except"]),
            zone=when["zone"],
        ),
        targets=data["targets"],
        contents=tuple((language, value) for language, value in data["contents"]),
        text=tuple((language, value) for language, value in data["text"]),
        priority=data["priority"],
        duration_s=data["duration_s"],
        lead_s=data["lead_s"],
        expires_after_s=data["expires_after_s"],
        enabled=data["enabled"],
        volume=data["volume"],
        repeat=data["repeat"],
        chime=data["chime"],
    )
