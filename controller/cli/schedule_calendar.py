"""`loa schedule calendar [--week]`: the week's air times, a grid per commune, then its clashes.

An operator asks "what sounds where this week, and what needs a look?". Each air time in
the week (Monday first, in the controller's `time_zone`) of each stored schedule, and each
one-off bulletin planned in it, becomes a cell in the grid of every commune it reaches
(`schedules.week.week_grid` draws it). The state shown is what will happen, or did:

- past air times (and future ones already judged `missed`, `cancelled`, `expired`) show
  their fired occurrence: `fired` (scheduled, dispatched, done), `missed`, `expired`,
  `cancelled`; a past air time with no occurrence is `not fired` (the schedule came later,
  or the controller has not caught up yet);
- otherwise `paused` (not enabled), `awaiting approval`, `quiet hours` or `planned`.

Quiet hours are judged as the scheduler judges them (`controller.scheduler.decide`): a
non-emergency air time starting in the quiet hours of *any* commune the schedule reaches
is missed on all its receivers, so it is marked `quiet hours` in every commune it reaches.

Clashes are looked for among the air times that will (or did) sound: enabled schedules
(pending approval included, they may be approved) and one-off bulletins, leaving out air
times missed, cancelled, expired or in quiet hours. A cell is marked when its air time is in
a clash on that commune's receivers; the clashes are listed after the grids.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from controller.cli.output import emit_json, emit_text
from controller.cli.store_access import with_store
from controller.config import load_config
from loa.errors import LoaError
from schedules.clashes import Clash, Slot, find_clashes, slots_for, summarise
from schedules.model import ScheduleError
from schedules.week import Entry, week_grid

if TYPE_CHECKING:
    from controller.scheduler.policy import Policy, Registry
    from controller.store import Store
    from controller.store.schedules import StoredSchedule

__all__ = [
    "CalendarData",
    "CalendarError",
    "CalendarItem",
    "Week",
    "add_parser",
    "build_week",
    "load_calendar",
    "run_calendar",
    "schedule_items",
    "week_json",
]

#: Width of the grid when stdout is not a terminal (a pipe, a file).
DEFAULT_WIDTH: Final = 100
#: The narrowest grid `week_grid` draws: HH:MM, then 7 x (gap of 2 + "T2 30/11").
_MIN_WIDTH: Final = 5 + 7 * (2 + 8)
#: Every minute of a week: no schedule (cron's step is a minute) has more air times.
_WEEK_MINUTES: Final = 7 * 24 * 60
#: Occurrence state -> what the calendar says of its air time.
_FIRED: Final = {
    "scheduled": "fired",
    "dispatched": "fired",
    "done": "fired",
    "missed": "missed",
    "expired": "expired",
    "cancelled": "cancelled",
}
_HINT: Final = "`loa schedule apply FILE|DIR` or `loa schedule add ID ...` adds schedules"


class CalendarError(LoaError):
    """A calendar that cannot be shown as asked (an unknown --commune, a bad --start)."""


def add_parser(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register `loa schedule calendar` under `loa schedule`."""
    calendar = actions.add_parser(
        "calendar",
        parents=[common],
        help="the week's air times as a grid per commune, and its clashes",
        description="The week's air times of the stored schedules and one-off bulletins, "
        "a grid per commune (Monday first, in the controller's time_zone), then the clashes.",
    )
    calendar.add_argument(
        "--week", action="store_true", help="show a week (the default and only span for now)"
    )
    calendar.add_argument(
        "--start", metavar="DATE", help="a day of the week to show, YYYY-MM-DD (default: today)"
    )
    calendar.add_argument("--commune", metavar="ID", help="only this commune")
    calendar.add_argument(
        "--width",
        type=_width,
        metavar="N",
        help=f"columns of the grid (default: the terminal's, else {DEFAULT_WIDTH})",
    )
    calendar.add_argument("--json", action="store_true", help="print JSON")
    calendar.set_defaults(run=run_calendar)


def _width(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of columns") from None


@dataclass(frozen=True)
class CalendarData:
    """What the calendar reads from the store, in one read transaction."""

    registry: Registry
    schedules: list[StoredSchedule]
    durations: dict[str, float]
    #: (schedule id, planned air time in UTC) -> occurrence state
    fired: dict[tuple[str, datetime], str]
    one_offs: list[Slot]
    #: `Slot.schedule_id` of a one-off ("bulletin 1a2b3c4d") -> occurrence state
    one_off_states: dict[str, str]


@dataclass(frozen=True, slots=True)
class CalendarItem:
    """One air time in one commune."""

    commune: str
    slot: Slot
    #: the stored schedule's id; None for a one-off bulletin
    schedule: str | None
    state: str


async def load_calendar(store: Store, start: datetime, end: datetime) -> CalendarData:
    from sqlalchemy import select

    from controller.scheduler.policy import Registry, content_durations, one_off_slots
    from controller.store.registry_rows import load_groups, load_receivers
    from controller.store.schedules import stored_from_row
    from controller.store.schema import occurrences
    from controller.store.schema import schedules as schedules_table
    from devices.registry import GroupTree

    async with store.read() as session:
        registry = Registry(GroupTree(await load_groups(session)), await load_receivers(session))
        rows = await session.execute(select(schedules_table).order_by(schedules_table.c.id))
        stored = [stored_from_row(row) for row in rows.all()]
        durations = await content_durations(session)
        planned = occurrences.c.planned_at
        fired_rows = await session.execute(
            select(occurrences.c.schedule_id, planned, occurrences.c.state).where(
                occurrences.c.schedule_id.is_not(None), planned >= start, planned < end
            )
        )
        fired = {(row.schedule_id, row.planned_at): row.state for row in fired_rows.all()}
        one_offs = await one_off_slots(session, registry, durations, start, end)
        states = await session.execute(
            select(occurrences.c.id, occurrences.c.state).where(
                occurrences.c.schedule_id.is_(None),
                occurrences.c.state.in_(("scheduled", "dispatched")),
                occurrences.c.play_at >= start,
                occurrences.c.play_at < end,
            )
        )
        one_off_states = {f"bulletin {row.id[:8]}": row.state for row in states.all()}
    return CalendarData(registry, stored, durations, fired, one_offs, one_off_states)


def schedule_items(
    data: CalendarData, policy: Policy, start: datetime, end: datetime, now: datetime
) -> tuple[list[CalendarItem], list[Slot]]:
    """Every air time of the stored schedules in each commune, and those that sound."""
    items: list[CalendarItem] = []
    sounding: list[Slot] = []
    for stored in data.schedules:
        schedule = stored.schedule
        reach = data.registry.reach(schedule.targets)
        communes = sorted(data.registry.communes(reach))
        if not communes:
            continue
        length = policy.length(schedule, data.durations)
        receivers = frozenset(r.id for r in reach)
        for slot in slots_for(schedule, receivers, length, start, end, limit=_WEEK_MINUTES):
            local = slot.start.astimezone(policy.zone).time()
            quiet = schedule.priority != "emergency" and any(
                (hours := policy.quiet_hours(commune)) is not None and hours.contains(local)
                for commune in communes
            )
            recorded = data.fired.get((schedule.id, slot.start))
            if recorded is not None and (slot.start <= now or _FIRED[recorded] != "fired"):
                state = _FIRED[recorded]  # what happened (or was decided) is the truth
                sounds = state == "fired"
            else:
                state = _planned_state(stored, quiet=quiet, past=slot.start <= now)
                sounds = schedule.enabled and not quiet and slot.start > now
            if sounds:
                sounding.append(slot)
            items.extend(CalendarItem(commune, slot, schedule.id, state) for commune in communes)
    return items, sounding


def _planned_state(stored: StoredSchedule, *, quiet: bool, past: bool) -> str:
    """The state of an air time no occurrence records (yet)."""
    if not stored.schedule.enabled:
        return "paused"
    if stored.approval == "pending":
        return "awaiting approval"
    if quiet:
        return "quiet hours"
    return "not fired" if past else "planned"


def _one_off_items(data: CalendarData, now: datetime) -> list[CalendarItem]:
    items: list[CalendarItem] = []
    for slot in data.one_offs:
        reach = [data.registry.receivers[r] for r in slot.receivers if r in data.registry.receivers]
        recorded = data.one_off_states.get(slot.schedule_id, "scheduled")
        if recorded == "dispatched":
            state = "fired"
        else:
            state = "not fired" if slot.start <= now else "planned"
        items.extend(
            CalendarItem(commune, slot, None, state)
            for commune in sorted(data.registry.communes(reach))
        )
    return items


def _commune_of_receivers(registry: Registry, receiver_ids: frozenset[str]) -> set[str]:
    known = [registry.receivers[r] for r in receiver_ids if r in registry.receivers]
    return set(registry.communes(known))


@dataclass(frozen=True)
class Week:
    week_start: date
    zone: ZoneInfo
    #: commune id -> (name, label) of the communes shown
    communes: dict[str, tuple[str, str]]
    items: list[tuple[CalendarItem, bool]]  # (air time, in a clash there)
    clashes: list[Clash]


def _bounds(week_start: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the week in UTC: Monday 00:00 to the next Monday 00:00 in `zone`."""
    start = datetime.combine(week_start, time(0), zone).astimezone(UTC)
    end = datetime.combine(week_start + timedelta(days=7), time(0), zone).astimezone(UTC)
    return start, end


def build_week(
    data: CalendarData, policy: Policy, week_start: date, now: datetime, only: str | None
) -> Week:
    zone = policy.zone
    start, end = _bounds(week_start, zone)
    names = {g.id: g.name for g in data.registry.tree if g.kind == "commune"}
    if only is not None and only not in names:
        raise CalendarError(_unknown_commune(only, sorted(names)))
    items, sounding = schedule_items(data, policy, start, end, now)
    items += _one_off_items(data, now)
    sounding += data.one_offs
    marked: set[tuple[str, str, datetime]] = set()
    clashes: list[Clash] = []
    for clash in find_clashes(sounding, []):
        where = _commune_of_receivers(data.registry, clash.receivers)
        if only is not None and only not in where:
            continue
        clashes.append(clash)
        for commune in where:
            for slot in (clash.first, clash.second):
                marked.add((commune, slot.schedule_id, slot.start))
    shown = sorted(
        (item for item in items if only is None or item.commune == only),
        key=lambda item: (item.commune, item.slot.start, item.slot.schedule_id),
    )
    communes = {c: (names[c], f"{names[c]} ({c})") for c in sorted({i.commune for i in shown})}
    if only is not None:
        communes.setdefault(only, (names[only], f"{names[only]} ({only})"))
    flagged = [
        (item, (item.commune, item.slot.schedule_id, item.slot.start) in marked) for item in shown
    ]
    return Week(week_start, zone, communes, flagged, clashes)


def _unknown_commune(wanted: str, known: list[str]) -> str:
    where = f"--commune {wanted!r}: no such commune in the registry"
    if not known:
        return f"{where}; it has no communes yet (`loa devices import FILE` adds them)"
    close = difflib.get_close_matches(wanted, known, n=1)
    if close:
        return f"{where}; did you mean {close[0]!r}?"
    return f"{where}; it has: {', '.join(known)}"


def _week_start(text: str | None, zone: ZoneInfo, now: datetime) -> date:
    """The Monday of the week holding --start (default: today in `zone`)."""
    if text is None:
        day = now.astimezone(zone).date()
    else:
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            raise CalendarError(
                f"--start {text!r} is not a date; write YYYY-MM-DD, e.g. 2026-12-01"
            ) from None
    return day - timedelta(days=day.weekday())


def _text(week: Week, width: int) -> str:
    entries = [
        Entry(
            commune=week.communes[item.commune][1],
            start=item.slot.start,
            title=item.slot.title,
            priority=item.slot.priority,
            state=item.state,
            clash=clash,
        )
        for item, clash in week.items
    ]
    try:
        grid = week_grid(entries, week.week_start, week.zone, width=width)
    except ScheduleError as exc:
        if exc.field == "width":
            raise CalendarError(f"--width {exc.problem}") from None
        raise
    if not entries:
        scope = ""
        if len(week.communes) == 1:
            scope = f" No schedule or bulletin reaches {next(iter(week.communes.values()))[1]}."
        return f"{grid}{scope}\n{_HINT}."
    if not week.clashes:
        return f"{grid}\n\nNo clashes this week."
    lines = summarise(week.clashes, week.zone)
    return "\n".join([grid, "", "Clashes this week:", *(f"  {line}" for line in lines)])


def week_json(week: Week) -> dict[str, Any]:
    by_commune: dict[str, list[dict[str, Any]]] = {c: [] for c in week.communes}
    for item, clash in week.items:
        slot = item.slot
        by_commune[item.commune].append(
            {
                "schedule": item.schedule,
                "title": slot.title,
                "priority": slot.priority,
                "local": slot.start.astimezone(week.zone).isoformat(),
                "utc": slot.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "state": item.state,
                "clash": clash,
            }
        )
    return {
        "week_start": week.week_start.isoformat(),
        "zone": week.zone.key,
        "communes": [
            {"id": commune, "name": week.communes[commune][0], "entries": entries}
            for commune, entries in by_commune.items()
        ],
        "clashes": summarise(week.clashes, week.zone),
    }


def run_calendar(args: argparse.Namespace, *, now: datetime | None = None) -> int:
    """Print the week's calendar; `now` (aware) is for tests, default the clock's."""
    from controller.scheduler.policy import Policy

    config = load_config(args.config)
    policy = Policy(config)
    moment = datetime.now(UTC) if now is None else now
    week_start = _week_start(args.start, policy.zone, moment)
    start, end = _bounds(week_start, policy.zone)

    async def work(store: Store) -> CalendarData:
        return await load_calendar(store, start, end)

    week = build_week(with_store(config, work), policy, week_start, moment, args.commune)
    if args.json:
        emit_json(week_json(week))
        return 0
    width = args.width
    if width is None:
        width = _terminal_width()
    emit_text(_text(week, width))
    return 0


def _terminal_width() -> int:
    """The terminal's columns when stdout is one (the grid reads best filling it)."""
    import shutil

    if sys.stdout.isatty():
        return max(_MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)
    return DEFAULT_WIDTH
