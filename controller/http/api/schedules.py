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

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final, Literal

import yaml
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from controller.cli.schedule_calendar import _build, _json, _load, _schedule_items
from controller.cli.schedule_cmd import _fired, _state, _summary
from controller.cli.schedule_preview import preview_of, utc_text
from controller.http.api.paging import Page, PagingQuery, page_of
from controller.http.context import Ctx, HttpContext
from controller.http.problems import FieldError, Problem, invalid
from controller.scheduler.policy import Policy, PolicyError, Registry, speakable
from controller.store.fires import fired_occurrences
from controller.store.registry_rows import load_groups, load_receivers
from controller.store.schedules import (
    ApplyResult,
    ScheduleCheckError,
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
from schedules.file import ScheduleFileError, parse_schedules
from schedules.model import Schedule

router = APIRouter(prefix="/api/v1", tags=["schedules"])

#: The `source` of schedules written through the API or the dashboard.
API_SOURCE: Final = "api"
#: Air times `GET /schedules/{id}` shows.
DETAIL_COUNT: Final = 5
_DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: `schedule 'x': contents.vi: problem` -> the field named in a reader's or a check's problem
_NAMED: Final = re.compile(r"^schedule '[^']*': ([a-z_]+(?:\.[a-z0-9_-]+)?): ")
_MISSING: Final = re.compile(r" has no ([a-z_]+);")


class ScheduleWrite(BaseModel):
    """A schedule as a schedule file writes it (docs/schedules.md): `id`, `title`, `when`,
    `targets`, `contents` and/or `text`, ...; or `yaml`: the text of a schedule file holding
    one schedule. `force` accepts clashes; `by` is who writes it."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "id": "tl-sang",
                "title": "Chương trình phát thanh buổi sáng",
                "when": {"daily": ["06:00"], "from": "2026-12-01"},
                "targets": "all",
                "text": {"vi": "Xin chào bà con."},
                "by": "can-bo-xa",
            }
        },
    )

    yaml: str | None = Field(default=None, description="a schedule file's text (one schedule)")
    force: bool = Field(default=False, description="accept clashes with other schedules")
    by: str | None = Field(default=None, max_length=200, description="who writes it")


class ApproveBody(BaseModel):
    by: str = Field(min_length=1, max_length=200, description="who approves: not its author")


class ScheduleSummary(BaseModel):
    id: str
    title: str
    kind: str
    priority: str
    enabled: bool
    #: on, paused or awaiting (approval)
    state: str
    approval: str
    next_air_local: str | None
    next_air_utc: str | None
    source: str
    targets: str
    communes: list[str]


class AirTime(BaseModel):
    air_local: str
    air_utc: str
    deliver_local: str
    deliver_utc: str


class Fired(BaseModel):
    occurrence: str
    planned_at: str | None
    play_at: str | None
    state: str
    reason: str | None


class ScheduleDetail(BaseModel):
    id: str
    #: the schedule as a schedule file writes it (PUT takes it back)
    file: dict[str, Any]
    #: the schedule as stored (`loa schedule show --json`)
    definition: dict[str, Any]
    source: str
    created_at: str
    updated_at: str
    created_by: str
    state: str
    approval: str
    approved_by: str | None
    communes: list[str]
    occurrences: list[AirTime]
    fired: list[Fired]


class WriteResult(BaseModel):
    action: Literal["added", "updated", "unchanged"]
    fields: list[str]
    #: clashes accepted with `force`
    clashes: list[str]
    pending_approval: bool
    schedule: ScheduleDetail


class Preview(BaseModel):
    id: str
    title: str
    kind: str
    zone: str
    enabled: bool
    priority: str
    targets: str
    languages: list[str]
    lead_s: int
    after: str
    occurrences: list[AirTime]


class ClashSide(BaseModel):
    schedule: str
    title: str
    priority: str
    start_local: str
    start_utc: str


class ClashItem(BaseModel):
    first: ClashSide
    second: ClashSide
    outcome: str
    receivers: int
    text: str


class ClashReport(BaseModel):
    start: str
    end: str
    zone: str
    #: one line per distinct clash (repeats merged)
    lines: list[str]
    clashes: list[ClashItem]


class CalendarEntry(BaseModel):
    schedule: str | None
    title: str
    priority: str
    local: str
    utc: str
    #: planned, paused, awaiting approval, quiet hours, fired, missed, ...
    state: str
    clash: bool


class CalendarCommune(BaseModel):
    id: str
    name: str
    entries: list[CalendarEntry]


class CalendarWeek(BaseModel):
    week_start: date
    zone: str
    communes: list[CalendarCommune]
    clashes: list[str]


# --- Reading a schedule from a request ------------------------------------------------------


def _time_text(value: time) -> str:
    return value.isoformat(timespec="minutes" if not value.second else "seconds")


def file_fields(schedule: Schedule) -> dict[str, Any]:
    """`schedule` as a schedule file writes it (what `POST`/`PUT` take)."""
    stored = schedule_to_dict(schedule)
    recurrence = schedule.when.recurrence
    rule = stored["when"]
    when: dict[str, Any]
    times = [_time_text(t) for t in getattr(recurrence, "times", ())]
    if rule["kind"] == "once":
        when = {"once": f"{rule['on']} {rule['at']}"}
    elif rule["kind"] == "daily":
        when = {"daily": times}
    elif rule["kind"] == "weekly":
        when = {"weekly": {"days": [_DAYS[d] for d in rule["weekdays"]], "at": times}}
    elif rule["kind"] == "monthly_nth":
        nth = "last" if rule["n"] == -1 else rule["n"]
        when = {"monthly": {"nth": nth, "day": _DAYS[rule["weekday"]], "at": times}}
    else:
        when = {"cron": rule["expression"]}
    when["from"] = rule["from"]
    if rule["until"] is not None:
        when["until"] = rule["until"]
    if rule["except"]:
        when["except"] = rule["except"]
    when["zone"] = rule["zone"]
    fields: dict[str, Any] = {"id": schedule.id, "title": schedule.title, "when": when}
    fields["targets"] = schedule.targets
    if schedule.contents:
        fields["contents"] = dict(schedule.contents)
    if schedule.text:
        fields["text"] = dict(schedule.text)
    for key in ("priority", "duration_s", "lead_s", "expires_after_s", "enabled", "volume"):
        if stored[key] is not None:
            fields[key] = stored[key]
    fields["repeat"] = schedule.repeat
    fields["chime"] = schedule.chime
    return fields


def _key_lines(text: str) -> dict[int, str]:
    """Line number -> the schedule key it belongs to, in a file `yaml.safe_dump` wrote."""
    owner: dict[int, str] = {}
    key = "request"
    for number, line in enumerate(text.splitlines(), start=1):
        found = re.match(r"^(?:- |  )([A-Za-z_][\w-]*):", line)
        if found:
            key = found[1]
        owner[number] = key
    return owner


def _field_errors(exc: ScheduleFileError, owners: dict[int, str] | None) -> list[FieldError]:
    errors: list[FieldError] = []
    for _, line, problem in exc.problems:
        if owners is None:  # YAML text as given: the line is what helps
            where = "" if line is None else f"line {line}: "
            errors.append(FieldError("yaml", where + problem))
            continue
        named, missing = _NAMED.match(problem), _MISSING.search(problem)
        if named:
            field = named[1]
        elif missing and problem.startswith("schedule"):
            field = missing[1]
        else:
            field = owners.get(line or 0, "request")
        message = re.sub(r"^schedule '[^']*': ", "", problem)
        errors.append(FieldError(field, message))
    return errors


def schedule_from_body(body: ScheduleWrite, path_id: str | None = None) -> Schedule:
    """The one schedule the body gives; a 422 naming each bad field."""
    fields = dict(body.model_extra or {})
    if body.yaml is not None:
        if fields:
            raise invalid(
                "yaml", f"give the YAML text or the fields, not both (found {', '.join(fields)})"
            )
        text, owners = body.yaml, None
    else:
        if not fields:
            raise invalid("request", 'no schedule given: send its fields, or {"yaml": TEXT}')
        if path_id is not None:
            fields.setdefault("id", path_id)
        text = yaml.safe_dump(
            {"schedules": [fields]}, allow_unicode=True, sort_keys=False, width=1_000_000
        )
        owners = _key_lines(text)
    try:
        found = parse_schedules([("request", text)])
    except ScheduleFileError as exc:
        errors = _field_errors(exc, owners)
        raise Problem(
            422, "; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        ) from None
    if len(found) != 1:
        raise invalid("yaml", f"holds {len(found)} schedules; send one at a time")
    schedule = found[0]
    if path_id is not None and schedule.id != path_id:
        raise invalid("id", f"{schedule.id!r} is not {path_id!r}, the id in the path")
    return schedule


# --- Writing ----------------------------------------------------------------------------------


def _problem_field(problem: str, default: str) -> str:
    named = _NAMED.match(problem)
    return named[1] if named else default


def _refused(exc: ScheduleStoreError | PolicyError) -> Problem:
    if isinstance(exc, PolicyError):
        if exc.forcible:
            errors = [FieldError("when", line) for line in exc.problems]
            detail = "clashes with other schedules or bulletins: " + "; ".join(exc.problems)
            detail += "; move it, or send force: true to accept them"
            return Problem(409, detail, title="Clashes", errors=errors)
        errors = [FieldError(_problem_field(p, "when"), p) for p in exc.problems]
        return Problem(422, "; ".join(exc.problems) + "; nothing was stored", errors=errors)
    if isinstance(exc, ScheduleCheckError):
        errors = [FieldError(_problem_field(p, "request"), p) for p in exc.problems]
        return Problem(422, str(exc).replace("\n", "; "), errors=errors)
    return Problem(422, str(exc))


def _wake(context: HttpContext) -> None:
    scheduler = context.controller.scheduler
    if scheduler is not None:
        scheduler.wake()


async def _write(context: HttpContext, schedule: Schedule, body: ScheduleWrite) -> ApplyResult:
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
        )
    except (ScheduleStoreError, PolicyError) as exc:
        raise _refused(exc) from None
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
        state=_state(item),
        approval=item.approval,
        approved_by=item.approved_by,
        communes=_communes(await _registry(context), schedule),
        occurrences=[AirTime(**row) for row in preview["occurrences"]],
        fired=[Fired(**_fired(row)) for row in fired],
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
            ScheduleSummary(**_summary(item, now), targets=schedule.targets, communes=communes)
        )
    return page_of(items, paging)


@router.post("/schedules", response_model=WriteResult, status_code=201)
async def create(context: Ctx, body: ScheduleWrite) -> WriteResult:
    """Store a new schedule, judged by the commune's rules (quiet hours, clashes, approval)."""
    schedule = schedule_from_body(body)
    try:
        existing = await get_schedule(context.store, schedule.id)
    except UnknownScheduleError:
        existing = None
    if existing is not None:
        raise Problem(
            409,
            f"schedule {schedule.id!r} exists (from {existing.source}); "
            f"replace it with PUT /api/v1/schedules/{schedule.id}, or give another id",
            errors=(FieldError("id", "already used"),),
        )
    result = await _write(context, schedule, body)
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
    data = await _load(context.store, begin, end)
    _, sounding = _schedule_items(data, policy, begin, end, now)
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
    data = await _load(context.store, begin, end)
    only = (commune or "").strip() or None
    if only is not None:
        known = sorted(g.id for g in data.registry.tree if g.kind == "commune")
        if only not in known:
            raise invalid(
                "commune", f"{only!r} is not a commune; the registry has: {', '.join(known)}"
            )
    return CalendarWeek.model_validate(_json(_build(data, policy, monday, now, only)))


@router.get("/calendar", response_model=CalendarWeek)
async def calendar(
    context: Ctx,
    week: Annotated[date | None, Query(description="a day of the week, YYYY-MM-DD")] = None,
    commune: Annotated[str | None, Query(description="only this commune")] = None,
) -> CalendarWeek:
    """The week's air times per commune (Monday first, in the controller's zone), and clashes."""
    return await calendar_week(context, week, commune)


__all__ = ["calendar_week", "file_fields", "router", "schedule_from_body"]
