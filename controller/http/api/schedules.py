"""`/api/v1/schedules` and `/api/v1/calendar`: the broadcast calendar over HTTP.

    GET    /api/v1/schedules?commune=&enabled=&q=      list (paged), with the next air time
    POST   /api/v1/schedules                           create (fields of a schedule file, or
                                                       {"yaml": "<a schedule file>"}), `force`, `by`
    GET    /api/v1/schedules/clashes?start=&days=      clashes in a window
    GET    /api/v1/schedules/{id}                      one, its next air times and what it fired
    PUT    /api/v1/schedules/{id}                      replace it
    DELETE /api/v1/schedules/{id}
    POST   /api/v1/schedules/{id}/pause|resume|approve (approve: {"by": NAME})
    GET    /api/v1/schedules/{id}/preview?count=20     next air times, local and UTC
    GET    /api/v1/calendar?week=YYYY-MM-DD&commune=   the week grid (as `loa schedule calendar`)

Everything goes through what `loa schedule ...` uses: the schedule file reader
(`schedules.file.parse_schedules`: a JSON body is written as a one-schedule file, so every
field is checked with the same words), `apply_schedules` with the commune's rules
(`controller.scheduler.policy.Policy`: quiet hours are refused, clashes are refused unless
`force` is true, approval), and the calendar and preview of the CLI. Nothing is written
when anything is refused. After a write the scheduler is woken to pick the change up.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query

from controller.cli.schedule_calendar import build_week, load_calendar, schedule_items, week_json
from controller.cli.schedule_cmd import fired_json, schedule_state, schedule_summary
from controller.cli.schedule_preview import preview_of, utc_text
from controller.http.api.paging import Page, PagingQuery, page_of
from controller.http.api.schedule_models import (
    AirTime,
    ApproveBody,
    CalendarWeek,
    ClashItem,
    ClashReport,
    ClashSide,
    Fired,
    Preview,
    ScheduleDetail,
    ScheduleSummary,
    ScheduleWrite,
    WriteResult,
    file_fields,
    refused,
    schedule_from_body,
)
from controller.http.context import Ctx, HttpContext
from controller.http.problems import FieldError, Problem, invalid
from controller.scheduler.policy import Policy, PolicyError, Registry, speakable
from controller.store.fires import fired_occurrences
from controller.store.registry_rows import load_groups, load_receivers
from controller.store.schedules import (
    ApplyResult,
    ScheduleStoreError,
    StoredSchedule,
    UnknownScheduleError,
    apply_schedules,
    approve_schedule,
    delete_schedule,
    get_schedule,
    list_schedules,
    schedule_to_dict,
    set_enabled,
)
from devices.registry import GroupTree
from schedules.clashes import find_clashes, summarise
from schedules.model import Schedule

router = APIRouter(prefix="/api/v1", tags=["schedules"])

#: The `source` of schedules written through the API or the dashboard.
API_SOURCE: Final = "api"
#: Air times `GET /schedules/{id}` shows.
DETAIL_COUNT: Final = 5


def _wake(context: HttpContext) -> None:
    scheduler = context.controller.scheduler
    if scheduler is not None:
        scheduler.wake()


async def _write(
    context: HttpContext, schedule: Schedule, body: ScheduleWrite, *, new_only: bool = False
) -> ApplyResult:
    by = (body.by or "").strip() or "dashboard"
    rules = Policy(context.config, force=body.force, can_speak=speakable(context.config))
    try:
        result = await apply_schedules(
            context.store,
            [schedule],
            source=API_SOURCE,
            dry_run=False,
            at=context.clock.now(),
            by=by,
            rules=rules,
            new_only=new_only,
        )
    except (ScheduleStoreError, PolicyError) as exc:
        raise refused(exc) from None
    _wake(context)
    return result


async def _stored(context: HttpContext, schedule_id: str) -> StoredSchedule:
    try:
        return await get_schedule(context.store, schedule_id)
    except UnknownScheduleError as exc:
        raise Problem(404, str(exc), title="No such schedule") from None


async def _registry(context: HttpContext) -> Registry:
    async with context.store.read() as session:
        return Registry(GroupTree(await load_groups(session)), await load_receivers(session))


def _communes(registry: Registry, schedule: Schedule) -> list[str]:
    return sorted(registry.communes(registry.reach(schedule.targets)))


async def _detail(context: HttpContext, item: StoredSchedule) -> ScheduleDetail:
    schedule = item.schedule
    fired = await fired_occurrences(context.store, schedule.id, limit=20)
    preview = preview_of(schedule, context.clock.now(), DETAIL_COUNT)
    return ScheduleDetail(
        id=schedule.id,
        file=file_fields(schedule),
        definition=schedule_to_dict(schedule),
        source=item.source,
        created_at=utc_text(item.created_at),
        updated_at=utc_text(item.updated_at),
        created_by=item.created_by,
        state=schedule_state(item),
        approval=item.approval,
        approved_by=item.approved_by,
        communes=_communes(await _registry(context), schedule),
        occurrences=[AirTime(**row) for row in preview["occurrences"]],
        fired=[Fired(**fired_json(row)) for row in fired],
    )


async def _result(context: HttpContext, result: ApplyResult, schedule_id: str) -> WriteResult:
    change = next((c for c in result.changes if c.id == schedule_id), None)
    return WriteResult(
        action="unchanged" if change is None else change.action,  # type: ignore[arg-type]
        fields=[] if change is None else list(change.fields),
        clashes=list(result.clashes),
        pending_approval=schedule_id in result.pending,
        schedule=await _detail(context, await _stored(context, schedule_id)),
    )


# --- Routes -----------------------------------------------------------------------------------


@router.get("/schedules", response_model=Page[ScheduleSummary])
async def list_all(
    context: Ctx,
    paging: PagingQuery,
    commune: Annotated[str | None, Query(description="only those reaching this commune")] = None,
    enabled: Annotated[bool | None, Query(description="only enabled (true) or paused")] = None,
    q: Annotated[str | None, Query(max_length=200, description="in the id or title")] = None,
) -> Page[ScheduleSummary]:
    """The stored schedules by id, with their next air time."""
    stored = await list_schedules(context.store)
    registry = await _registry(context)
    now = context.clock.now()
    needle = (q or "").strip().casefold()
    items: list[ScheduleSummary] = []
    for item in stored:
        schedule = item.schedule
        communes = _communes(registry, schedule)
        if commune and commune not in communes:
            continue
        if enabled is not None and schedule.enabled != enabled:
            continue
        if needle and needle not in f"{schedule.id} {schedule.title}".casefold():
            continue
        items.append(
            ScheduleSummary(
                **schedule_summary(item, now), targets=schedule.targets, communes=communes
            )
        )
    return page_of(items, paging)


@router.post("/schedules", response_model=WriteResult, status_code=201)
async def create(context: Ctx, body: ScheduleWrite) -> WriteResult:
    """Store a new schedule, judged by the commune's rules (quiet hours, clashes, approval)."""
    schedule = schedule_from_body(body)
    result = await _write(context, schedule, body, new_only=True)
    return await _result(context, result, schedule.id)


@router.get("/schedules/clashes", response_model=ClashReport)
async def clashes(
    context: Ctx,
    start: Annotated[date | None, Query(description="first day YYYY-MM-DD (default today)")] = None,
    days: Annotated[int, Query(ge=1, le=62, description="days to look at")] = 7,
) -> ClashReport:
    """The clashes among what will (or did) sound in the window, as the calendar finds them."""
    policy = Policy(context.config)
    now = context.clock.now()
    first = start or now.astimezone(policy.zone).date()
    begin = datetime.combine(first, time(), policy.zone).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=days), time(), policy.zone).astimezone(UTC)
    data = await load_calendar(context.store, begin, end)
    _, sounding = schedule_items(data, policy, begin, end, now)
    found = find_clashes([*sounding, *data.one_offs], [])

    def side(slot: Any) -> ClashSide:
        return ClashSide(
            schedule=slot.schedule_id,
            title=slot.title,
            priority=slot.priority,
            start_local=slot.start.astimezone(policy.zone).isoformat(),
            start_utc=utc_text(slot.start),
        )

    return ClashReport(
        start=utc_text(begin),
        end=utc_text(end),
        zone=policy.zone.key,
        lines=summarise(found, policy.zone),
        clashes=[
            ClashItem(
                first=side(c.first),
                second=side(c.second),
                outcome=c.outcome,
                receivers=len(c.receivers),
                text=c.describe(policy.zone),
            )
            for c in found
        ],
    )


@router.get("/schedules/{schedule_id}", response_model=ScheduleDetail)
async def show(context: Ctx, schedule_id: str) -> ScheduleDetail:
    """One schedule, its next air times and the occurrences it fired (latest first)."""
    return await _detail(context, await _stored(context, schedule_id))


@router.put("/schedules/{schedule_id}", response_model=WriteResult)
async def replace(context: Ctx, schedule_id: str, body: ScheduleWrite) -> WriteResult:
    """Replace a stored schedule (a changed plan waits for approval again where asked)."""
    await _stored(context, schedule_id)
    schedule = schedule_from_body(body, schedule_id)
    result = await _write(context, schedule, body)
    return await _result(context, result, schedule_id)


@router.delete("/schedules/{schedule_id}", status_code=204)
async def remove(context: Ctx, schedule_id: str) -> None:
    """Remove a stored schedule (occurrences it fired stay in the as-run log)."""
    try:
        await delete_schedule(context.store, schedule_id)
    except UnknownScheduleError as exc:
        raise Problem(404, str(exc), title="No such schedule") from None
    _wake(context)


async def _toggle(context: HttpContext, schedule_id: str, enabled: bool) -> ScheduleDetail:
    try:
        await set_enabled(context.store, schedule_id, enabled, context.clock.now())
    except UnknownScheduleError as exc:
        raise Problem(404, str(exc), title="No such schedule") from None
    _wake(context)
    return await _detail(context, await _stored(context, schedule_id))


@router.post("/schedules/{schedule_id}/pause", response_model=ScheduleDetail)
async def pause(context: Ctx, schedule_id: str) -> ScheduleDetail:
    """Stop a schedule firing; it stays stored."""
    return await _toggle(context, schedule_id, False)


@router.post("/schedules/{schedule_id}/resume", response_model=ScheduleDetail)
async def resume(context: Ctx, schedule_id: str) -> ScheduleDetail:
    """Let a paused schedule fire again."""
    return await _toggle(context, schedule_id, True)


@router.post("/schedules/{schedule_id}/approve", response_model=ScheduleDetail)
async def approve(context: Ctx, schedule_id: str, body: ApproveBody) -> ScheduleDetail:
    """Approve a schedule that waits for a second person (not the one who wrote it)."""
    await _stored(context, schedule_id)
    try:
        await approve_schedule(context.store, schedule_id, body.by, context.clock.now())
    except ScheduleStoreError as exc:
        raise Problem(409, str(exc), errors=(FieldError("by", str(exc)),)) from None
    _wake(context)
    return await _detail(context, await _stored(context, schedule_id))


@router.get("/schedules/{schedule_id}/preview", response_model=Preview)
async def preview(
    context: Ctx,
    schedule_id: str,
    count: Annotated[int, Query(ge=1, le=1000, description="air times")] = 20,
) -> Preview:
    """The next `count` air times, local and UTC, and when delivery starts for each."""
    item = await _stored(context, schedule_id)
    return Preview(**preview_of(item.schedule, context.clock.now(), count))


async def calendar_week(
    context: HttpContext, week: date | None, commune: str | None
) -> CalendarWeek:
    """The week holding `week` (default: this one), as `loa schedule calendar --json`."""
    policy = Policy(context.config)
    now = context.clock.now()
    day = week or now.astimezone(policy.zone).date()
    monday = day - timedelta(days=day.weekday())
    begin = datetime.combine(monday, time(), policy.zone).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(), policy.zone).astimezone(UTC)
    data = await load_calendar(context.store, begin, end)
    only = (commune or "").strip() or None
    if only is not None:
        known = sorted(g.id for g in data.registry.tree if g.kind == "commune")
        if only not in known:
            raise invalid(
                "commune", f"{only!r} is not a commune; the registry has: {', '.join(known)}"
            )
    return CalendarWeek.model_validate(week_json(build_week(data, policy, monday, now, only)))


@router.get("/calendar", response_model=CalendarWeek)
async def calendar(
    context: Ctx,
    week: Annotated[date | None, Query(description="a day of the week, YYYY-MM-DD")] = None,
    commune: Annotated[str | None, Query(description="only this commune")] = None,
) -> CalendarWeek:
    """The week's air times per commune (Monday first, in the controller's zone), and clashes."""
    return await calendar_week(context, week, commune)


__all__ = ["calendar_week", "file_fields", "router", "schedule_from_body"]
