"""The schedules API's bodies and answers (pydantic models), and how a body becomes a
`Schedule`: read by the same reader as schedule files, so every mistake names its field."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from controller.http.problems import FieldError, Problem, invalid
from controller.scheduler.policy import PolicyError
from controller.store.schedules import (
    ScheduleCheckError,
    ScheduleExistsError,
    ScheduleStoreError,
    schedule_to_dict,
)
from schedules.file import ScheduleFileError, parse_schedules
from schedules.model import Schedule

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


def refused(exc: ScheduleStoreError | PolicyError) -> Problem:
    if isinstance(exc, PolicyError):
        if exc.forcible:
            errors = [FieldError("when", line) for line in exc.problems]
            detail = "clashes with other schedules or bulletins: " + "; ".join(exc.problems)
            detail += "; move it, or send force: true to accept them"
            return Problem(409, detail, title="Clashes", errors=errors)
        errors = [FieldError(_problem_field(p, "when"), p) for p in exc.problems]
        return Problem(422, "; ".join(exc.problems) + "; nothing was stored", errors=errors)
    if isinstance(exc, ScheduleExistsError):
        return Problem(
            409,
            f"{exc}; replace it with PUT /api/v1/schedules/{exc.schedule_id}, or give another id",
            errors=(FieldError("id", "already used"),),
        )
    if isinstance(exc, ScheduleCheckError):
        errors = [FieldError(_problem_field(p, "request"), p) for p in exc.problems]
        return Problem(422, str(exc).replace("\n", "; "), errors=errors)
    return Problem(422, str(exc))
