"""`/calendar`: the week's broadcasts of one commune as a grid, and the week's clashes.

The week is built by what `loa schedule calendar` uses (`controller.cli.schedule_calendar`:
each air time of each stored schedule and one-off bulletin, its state, and whether it is
in a clash on that commune's receivers). This module only arranges it for people: columns
are days (T2 .. CN, Monday first), rows are the local start times used that week; on a
phone the same items are listed day by day. Clashes are described in the page's language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from controller.cli.schedule_calendar import CalendarItem, build_week, load_calendar
from controller.http.context import Ctx
from controller.http.i18n import Translator
from controller.http.pages.render import render, translator
from controller.scheduler.policy import Policy
from schedules.clashes import Clash

router = APIRouter(include_in_schema=False)

#: The years a calendar week may be asked for.
YEARS = (2000, 2200)

#: calendar state -> its key in `calendar.state.*` and its CSS class
_STATES: Final = {
    "planned": "planned",
    "paused": "paused",
    "awaiting approval": "awaiting_approval",
    "quiet hours": "quiet_hours",
    "fired": "fired",
    "not fired": "not_fired",
    "missed": "missed",
    "expired": "expired",
    "cancelled": "cancelled",
}


@dataclass(frozen=True)
class Day:
    index: int
    day: date
    short: str
    long: str
    today: bool


@dataclass(frozen=True)
class Item:
    clock: str
    title: str
    priority: str
    #: `calendar.state.*` key and CSS class
    state: str
    clash: bool
    #: the schedule's id; None for a one-off bulletin
    schedule: str | None


@dataclass(frozen=True)
class Row:
    clock: str
    cells: list[list[Item]]


@dataclass(frozen=True)
class WeekView:
    monday: date
    days: list[Day]
    rows: list[Row]
    by_day: list[tuple[Day, list[Item]]]
    clashes: list[str]
    count: int


def _clash_lines(clashes: list[Clash], t: Translator, policy: Policy) -> list[str]:
    """The week's clashes in the page's language; the same pair at the same times on
    several days is one line naming the days (every day: "hằng ngày")."""
    zone = policy.zone
    groups: dict[tuple[str, ...], list[str]] = {}
    for clash in sorted(clashes, key=lambda c: (c.first.start, c.first.schedule_id)):
        start = clash.first.start.astimezone(zone)
        if clash.same_time:
            outcome = t("calendar.same_time")
        elif clash.outcome == "waits":
            minutes = math.ceil(clash.delay.total_seconds() / 60)
            outcome = t("calendar.outcome.waits", delay=minutes)
        else:
            outcome = t(f"calendar.outcome.{clash.outcome}")
        line = t(
            "calendar.clash_line",
            start=f"{start:%H:%M}",
            first=clash.first.title,
            second=clash.second.title,
            second_start=f"{clash.second.start.astimezone(zone):%H:%M}",
            receivers=len(clash.receivers),
            outcome=outcome,
        )
        day = f"{t(f'calendar.day.{start.weekday()}')} {start:%d/%m}"
        groups.setdefault((f"{start:%H:%M}", clash.first.schedule_id, line), []).append(day)
    lines = []
    for (_, _, line), days in groups.items():
        named = t("calendar.every_day") if len(set(days)) == 7 else ", ".join(dict.fromkeys(days))
        lines.append(f"{named} {line}")
    return lines


def _view(
    built_items: list[tuple[CalendarItem, bool]],
    clashes: list[Clash],
    monday: date,
    *,
    policy: Policy,
    t: Translator,
    today: date,
) -> WeekView:
    days = [
        Day(
            k,
            monday + timedelta(days=k),
            f"{t(f'calendar.day.{k}')} {monday + timedelta(days=k):%d/%m}",
            t(f"calendar.day_long.{k}"),
            monday + timedelta(days=k) == today,
        )
        for k in range(7)
    ]
    cells: dict[tuple[str, int], list[Item]] = {}
    for raw, clash in built_items:
        slot = raw.slot
        local = slot.start.astimezone(policy.zone)
        state = raw.state
        item = Item(
            clock=f"{local:%H:%M}",
            title=slot.title,
            priority=slot.priority,
            state=_STATES.get(state, "planned"),
            clash=clash,
            schedule=raw.schedule,
        )
        cells.setdefault((item.clock, local.weekday()), []).append(item)
    clocks = sorted({clock for clock, _ in cells})
    rows = [Row(clock, [cells.get((clock, k), []) for k in range(7)]) for clock in clocks]
    by_day = [
        (day, [i for clock in clocks for i in cells.get((clock, day.index), [])]) for day in days
    ]
    return WeekView(
        monday,
        days,
        rows,
        by_day,
        _clash_lines(clashes, t, policy),
        sum(len(v) for v in cells.values()),
    )


@router.get("/calendar", response_class=HTMLResponse)
async def calendar_page(
    request: Request,
    context: Ctx,
    week: Annotated[str | None, Query()] = None,
    commune: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    t = translator(request)
    policy = Policy(context.config)
    now = context.clock.now()
    today = now.astimezone(policy.zone).date()
    errors: list[str] = []
    day = today
    if week:
        try:
            day = date.fromisoformat(week.strip())
        except ValueError:
            errors.append(f"week: {week!r} — YYYY-MM-DD")
        if not YEARS[0] <= day.year <= YEARS[1]:  # the week's arithmetic stays in range
            errors.append(f"week: {week!r} — {YEARS[0]}..{YEARS[1]}")
            day = today
    monday = day - timedelta(days=day.weekday())
    begin = datetime.combine(monday, time(), policy.zone).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(), policy.zone).astimezone(UTC)
    data = await load_calendar(context.store, begin, end)
    communes = sorted(
        ((g.id, g.name) for g in data.registry.tree if g.kind == "commune"), key=lambda c: c[1]
    )
    known = [c for c, _ in communes]
    selected = commune if commune in known else (known[0] if known else None)
    if commune and commune not in known:
        errors.append(f"commune: {commune!r}")
    view = None
    if selected is not None:
        built = build_week(data, policy, monday, now, selected)
        view = _view(list(built.items), built.clashes, monday, policy=policy, t=t, today=today)
    last = monday + timedelta(days=6)
    return render(
        request,
        "calendar.html",
        nav="calendar",
        view=view,
        week_label=t("calendar.week", first=f"{monday:%d/%m}", last=f"{last:%d/%m/%Y}"),
        previous=(monday - timedelta(days=7)).isoformat(),
        following=(monday + timedelta(days=7)).isoformat(),
        this_week=(today - timedelta(days=today.weekday())).isoformat(),
        monday=monday.isoformat(),
        communes=communes,
        selected=selected,
        errors=errors,
    )
