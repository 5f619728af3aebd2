"""`/api/v1/reports`: the as-run log and receivers' uptime, as JSON or CSV.

    GET /api/v1/reports/as-run?from=&to=&commune=   every occurrence of the period, its reach
    GET /api/v1/reports/as-run.csv?...               the same, CSV (UTF-8 with BOM)
    GET /api/v1/reports/uptime?from=&to=             % of the period each receiver was online
    GET /api/v1/reports/uptime.csv?...               the same, CSV

`from` and `to` are days (YYYY-MM-DD, both included) or ISO 8601 instants, in the
controller's zone; the default is the last 7 days. A period that ends before it starts or
spans more than 366 days is a 422 naming the field (`controller.reports.period`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from controller.http.context import Ctx, HttpContext
from controller.http.problems import invalid
from controller.reports.asrun import AsRunRow, DaySummary, as_run, daily
from controller.reports.export import UptimeLine, as_run_csv, uptime_csv
from controller.reports.period import Period, PeriodError, period_of
from controller.reports.uptime import receiver_uptimes
from controller.store import list_receivers
from controller.store.registry_rows import load_groups

router = APIRouter(prefix="/api/v1", tags=["reports"])

FromQuery = Annotated[
    str | None,
    Query(alias="from", description="first day YYYY-MM-DD (or ISO 8601); default 7 days ago"),
]
ToQuery = Annotated[
    str | None, Query(alias="to", description="last day YYYY-MM-DD, included; default now")
]
CommuneQuery = Annotated[str | None, Query(description="only this commune (its id)")]


class AsRunItem(BaseModel):
    occurrence: str
    bulletin: str
    title: str
    priority: str
    schedule: str | None
    state: str
    reason: str | None
    targets: str
    planned_at: datetime | None
    dispatch_at: datetime | None
    play_at: datetime | None
    first_played_at: datetime | None
    targeted: int
    played: int
    failed: int
    cancelled: int
    pending: int
    #: played / targeted, 0..1; null when no receiver was targeted
    reach: float | None


class AsRunDay(BaseModel):
    day: date
    occurrences: int
    targeted: int
    played: int
    reach: float | None


class AsRunReport(BaseModel):
    start: datetime
    end: datetime
    zone: str
    commune: str | None
    items: list[AsRunItem]
    days: list[AsRunDay]
    targeted: int
    played: int
    reach: float | None


class UptimeItem(BaseModel):
    id: str
    name: str
    village: str
    commune: str | None
    #: 0..1 of the period, counted from `since`
    uptime: float
    changes: int
    #: the period's start, or when the receiver was registered if later
    since: datetime


class UptimeReport(BaseModel):
    start: datetime
    end: datetime
    zone: str
    #: worst first
    receivers: list[UptimeItem]


def period(context: HttpContext, given_from: str | None, given_to: str | None) -> Period:
    """The period asked for; a 422 naming `from` or `to` if it cannot be reported on."""
    try:
        return period_of(given_from, given_to, context.zone, context.clock.now())
    except PeriodError as exc:
        raise invalid(exc.field, exc.problem) from None


async def check_commune(context: HttpContext, commune: str | None) -> str | None:
    """`commune` if it is a commune of the registry (blank: None), else a 422."""
    if commune is None or not commune.strip():
        return None
    async with context.store.read() as session:
        known = {g.id: g.name for g in await load_groups(session) if g.kind == "commune"}
    wanted = commune.strip()
    if wanted not in known:
        listed = ", ".join(sorted(known)) or "none yet"
        raise invalid("commune", f"{wanted!r} is not a commune of the registry; it has: {listed}")
    return wanted


def _item(row: AsRunRow) -> AsRunItem:
    return AsRunItem(
        occurrence=row.occurrence,
        bulletin=row.bulletin,
        title=row.title,
        priority=row.priority,
        schedule=row.schedule,
        state=row.state,
        reason=row.reason,
        targets=row.targets,
        planned_at=row.planned_at,
        dispatch_at=row.dispatch_at,
        play_at=row.play_at,
        first_played_at=row.first_played_at,
        targeted=row.targeted,
        played=row.played,
        failed=row.failed,
        cancelled=row.cancelled,
        pending=row.pending,
        reach=row.reach,
    )


def _day(day: DaySummary) -> AsRunDay:
    return AsRunDay(
        day=day.day,
        occurrences=day.occurrences,
        targeted=day.targeted,
        played=day.played,
        reach=day.reach,
    )


async def as_run_report(
    context: HttpContext, given_from: str | None, given_to: str | None, commune: str | None
) -> AsRunReport:
    """The as-run report as the API answers it (the reports page shows the same)."""
    chosen = period(context, given_from, given_to)
    only = await check_commune(context, commune)
    rows = await as_run(context.store, chosen, commune=only)
    targeted = sum(r.targeted for r in rows)
    played = sum(r.played for r in rows)
    return AsRunReport(
        start=chosen.start,
        end=chosen.end,
        zone=chosen.zone.key,
        commune=only,
        items=[_item(r) for r in rows],
        days=[_day(d) for d in daily(rows, chosen)],
        targeted=targeted,
        played=played,
        reach=played / targeted if targeted else None,
    )


async def uptime_report(
    context: HttpContext, given_from: str | None, given_to: str | None
) -> UptimeReport:
    """Each registered receiver's uptime in the period (up to now), worst first."""
    chosen = period(context, given_from, given_to)
    now = context.clock.now().astimezone(UTC)
    end = min(chosen.end, now)
    rows = await list_receivers(context.store)
    items: list[UptimeItem] = []
    if chosen.start >= end:  # a period still to come
        return UptimeReport(start=chosen.start, end=end, zone=chosen.zone.key, receivers=items)
    found = {u.receiver_id: u for u in await receiver_uptimes(context.store, chosen.start, end)}
    for row in rows:
        known = found.get(row.receiver.id)
        if known is None:
            continue
        items.append(
            UptimeItem(
                id=row.receiver.id,
                name=row.receiver.name,
                village=row.village.name,
                commune=None if row.commune is None else row.commune.name,
                uptime=round(known.fraction, 5),
                changes=known.changes,
                since=known.since,
            )
        )
    items.sort(key=lambda item: (item.uptime, item.id))
    return UptimeReport(start=chosen.start, end=end, zone=chosen.zone.key, receivers=items)


def _csv(text: str, name: str) -> Response:
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _file_name(kind: str, start: datetime, end: datetime, context: HttpContext) -> str:
    zone = context.zone
    first = start.astimezone(zone).date()
    last = (end.astimezone(zone)).date()
    return f"loa-{kind}-{first:%Y%m%d}-{last:%Y%m%d}.csv"


@router.get("/reports/as-run", response_model=AsRunReport)
async def get_as_run(
    context: Ctx,
    given_from: FromQuery = None,
    given_to: ToQuery = None,
    commune: CommuneQuery = None,
) -> AsRunReport:
    """Every occurrence of the period: what, when, to whom, and its reach."""
    return await as_run_report(context, given_from, given_to, commune)


@router.get("/reports/as-run.csv", response_class=Response)
async def get_as_run_csv(
    context: Ctx,
    given_from: FromQuery = None,
    given_to: ToQuery = None,
    commune: CommuneQuery = None,
) -> Response:
    """The as-run log as CSV, times in the controller's zone and in UTC."""
    chosen = period(context, given_from, given_to)
    only = await check_commune(context, commune)
    rows = await as_run(context.store, chosen, commune=only)
    return _csv(
        as_run_csv(rows, chosen.zone), _file_name("as-run", chosen.start, chosen.end, context)
    )


@router.get("/reports/uptime", response_model=UptimeReport)
async def get_uptime(
    context: Ctx, given_from: FromQuery = None, given_to: ToQuery = None
) -> UptimeReport:
    """How much of the period each receiver was online, worst first."""
    return await uptime_report(context, given_from, given_to)


@router.get("/reports/uptime.csv", response_class=Response)
async def get_uptime_csv(
    context: Ctx, given_from: FromQuery = None, given_to: ToQuery = None
) -> Response:
    """The uptime report as CSV."""
    report = await uptime_report(context, given_from, given_to)
    lines: list[UptimeLine] = [
        (r.id, r.name, r.village, r.uptime, r.changes) for r in report.receivers
    ]
    return _csv(uptime_csv(lines), _file_name("uptime", report.start, report.end, context))
