"""Schedules in the store: the calendar an operator applied from files, with a diff.

A schedule is kept whole as canonical JSON text (`definition`: sorted keys, dates and times
in ISO form, languages in their given order), so that "did this file change anything?" is
one string comparison, and the changed fields are found by comparing the two dicts key by
key. `enabled` is kept in its own column, not in the definition, because pausing and
resuming change it without touching the plan.

`apply_schedules` is declarative, like `import_registry`: the files are the truth, so
applying a file that says `enabled: true` resumes a schedule paused with `loa schedule
pause` (the diff shows `enabled`). With `prune`, schedules that earlier came from the same
`source` and are no longer in it are removed; schedules from other sources (another folder,
the CLI) are only reported as `not_in_files`, so pruning one folder never empties another's.

Before anything is written, every schedule is checked against the store in the same
transaction: its `targets` against the registry (as `loa bulletin send --to` is: each id a
receiver or group, and at least one registered receiver named) and each `contents` id
prefix against the audio library (unknown or ambiguous is an error). The definition keeps
the FULL content id, so a later fire never depends on a prefix that a new content could
make ambiguous. `text` is not prepared here (that costs text-to-speech; it is the firing
part's). Every problem of every schedule is reported in one `ScheduleCheckError`, and
nothing is applied.

Firing state (which occurrence fired when) is not here yet; it comes with the firing part.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, Protocol

from sqlalchemy import delete, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from controller.audio.library import MIN_PREFIX
from controller.delivery.plan import TargetError, parse_targets, resolve
from controller.store.registry_rows import load_groups, load_receivers, require_aware
from controller.store.schedule_json import schedule_from_dict, schedule_to_dict
from controller.store.schema import audio_contents
from controller.store.schema import schedules as schedules_table
from controller.store.store import Store
from devices.registry import GroupTree
from loa.errors import LoaError
from schedules.model import Schedule

__all__ = [
    "ApplyResult",
    "ScheduleChange",
    "ScheduleCheckError",
    "ScheduleStoreError",
    "StoredSchedule",
    "UnknownScheduleError",
    "apply_schedules",
    "approve_schedule",
    "delete_schedule",
    "get_schedule",
    "list_schedules",
    "schedule_from_dict",
    "schedule_to_dict",
    "set_enabled",
]

#: The `source` of schedules made on the command line rather than read from a file.
CLI_SOURCE: Final = "cli"


class Judgement(Protocol):
    """What `ApplyRules.check` says: approval per schedule id, clashes for people."""

    @property
    def approvals(self) -> dict[str, str]: ...

    @property
    def clash_lines(self) -> tuple[str, ...]: ...


class ApplyRules(Protocol):
    """The commune's rules an apply is judged by (`controller.scheduler.policy.Policy`)."""

    async def check(
        self, session: AsyncSession, changed: Sequence[Schedule], now: datetime
    ) -> Judgement: ...


class ScheduleStoreError(LoaError):
    """A schedule operation that cannot be done as asked; nothing was changed."""


class ScheduleCheckError(ScheduleStoreError):
    """Schedules name targets or contents the store lacks; `problems` lists every one."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join([*self.problems, "nothing was applied"]))


class UnknownScheduleError(ScheduleStoreError):
    """No schedule with this id is stored (the message suggests a close one)."""


class ScheduleExistsError(ScheduleStoreError):
    """A schedule to add is already stored, or was added by someone else meanwhile."""

    def __init__(self, schedule_id: str, source: str | None) -> None:
        self.schedule_id = schedule_id
        self.source = source
        origin = f" (from {source})" if source else " by someone else meanwhile"
        super().__init__(f"schedule {schedule_id!r} exists{origin}; nothing was changed")


@dataclass(frozen=True)
class ScheduleChange:
    """One schedule an apply adds, updates (`fields`: what changed) or removes."""

    id: str
    action: Literal["added", "updated", "removed"]
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApplyResult:
    """What an apply changed (or, with `dry_run`, would change)."""

    dry_run: bool
    changes: tuple[ScheduleChange, ...]
    unchanged: tuple[str, ...]
    #: Stored schedules the files do not hold and that were kept (another source, or no prune).
    not_in_files: tuple[str, ...]
    #: Clashes accepted (`--force`), for people
    clashes: tuple[str, ...] = ()
    #: Schedules written that wait for a second person's approval before they fire
    pending: tuple[str, ...] = ()

    def ids(self, action: Literal["added", "updated", "removed"]) -> list[str]:
        return [c.id for c in self.changes if c.action == action]


@dataclass(frozen=True)
class StoredSchedule:
    """A schedule as stored, with where it came from and when it was written."""

    schedule: Schedule
    source: str
    created_at: datetime
    updated_at: datetime
    #: who applied or added this plan
    created_by: str = ""
    #: "none" (fires without approval), "pending" (waits for it) or "approved"
    approval: str = "none"
    approved_by: str | None = None
    approved_at: datetime | None = None


def _definition(data: dict[str, Any]) -> str:
    """The stored text: the dict without `id` (the key) and `enabled` (its own column)."""
    plan = {k: v for k, v in data.items() if k not in ("id", "enabled")}
    return json.dumps(plan, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def stored_from_row(row: Row[Any]) -> StoredSchedule:
    """A `schedules` row as a `StoredSchedule`."""
    data = {**json.loads(row.definition), "id": row.id, "enabled": row.enabled}
    return StoredSchedule(
        schedule_from_dict(data),
        row.source,
        row.created_at,
        row.updated_at,
        created_by=row.created_by,
        approval=row.approval,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
    )


# --- Applying, listing, pausing, deleting ------------------------------------------------------


async def apply_schedules(
    store: Store,
    schedules: Sequence[Schedule],
    *,
    source: str,
    dry_run: bool,
    at: datetime,
    prune: bool = False,
    by: str = "",
    rules: ApplyRules | None = None,
    new_only: bool = False,
) -> ApplyResult:
    """Add and update `schedules`; with `prune` remove the ones `source` no longer holds.

    With `new_only` every schedule must be new: one already stored, or stored by another
    writer while this one runs, raises `ScheduleExistsError` and nothing is written.

    With `dry_run` nothing is written and the result says what would change. Applying the
    same schedules again changes nothing (every one is `unchanged`). `rules` (the commune's
    quiet hours, clashes and approval: `controller.scheduler.policy.Policy`) judge the
    schedules added or changed before anything is written, and may refuse them all. A
    schedule whose plan changed is written `by` this person; where the rules ask for
    approval it waits for it again.
    """
    require_aware(at)
    ids = [s.id for s in schedules]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ScheduleStoreError(
            f"schedule ids {repeated} appear more than once; nothing was changed"
        )
    wanted = {s.id: s for s in schedules}
    async with store.read() if dry_run else store.write() as session:
        schedules = await _checked(session, schedules)
        rows = {row.id: row for row in (await session.execute(select(schedules_table))).all()}
        _refuse_stored(schedules if new_only else (), rows)
        changes: list[ScheduleChange] = []
        unchanged: list[str] = []
        writes: list[tuple[ScheduleChange, Schedule, str]] = []
        for schedule in schedules:
            data = schedule_to_dict(schedule)
            definition = _definition(data)
            old = rows.get(schedule.id)
            if old is None:
                change = ScheduleChange(schedule.id, "added")
            else:
                fields = _changed_fields(old, data, definition, source)
                if not fields:
                    unchanged.append(schedule.id)
                    continue
                change = ScheduleChange(schedule.id, "updated", fields)
            changes.append(change)
            writes.append((change, schedule, definition))
        others = sorted(rows.keys() - wanted.keys())
        removed = [i for i in others if prune and rows[i].source == source]
        changes.extend(ScheduleChange(i, "removed") for i in removed)
        replanned = [
            schedule
            for change, schedule, _ in writes
            if change.action == "added" or set(change.fields) - {"source", "enabled"}
        ]
        judged_clashes: tuple[str, ...] = ()
        approvals: dict[str, str] = {}
        if rules is not None:
            touched = [s for c, s, _ in writes if set(c.fields) != {"source"}]
            judged = await rules.check(session, touched, at)
            judged_clashes = judged.clash_lines
            approvals = {s.id: judged.approvals.get(s.id, "none") for s in replanned}
        if not dry_run:
            for change, schedule, definition in writes:
                values: dict[str, Any] = {
                    "definition": definition,
                    "title": schedule.title,
                    "priority": schedule.priority,
                    "enabled": schedule.enabled,
                    "source": source,
                    "updated_at": at,
                }
                if schedule in replanned:
                    values.update(
                        created_by=by,
                        approval=approvals.get(schedule.id, "none"),
                        approved_by=None,
                        approved_at=None,
                    )
                if change.action == "added":
                    await _insert(session, schedule.id, at, values)
                else:
                    await session.execute(
                        update(schedules_table)
                        .where(schedules_table.c.id == schedule.id)
                        .values(**values)
                    )
            if removed:
                await session.execute(
                    delete(schedules_table).where(schedules_table.c.id.in_(removed))
                )
    return ApplyResult(
        dry_run=dry_run,
        changes=tuple(changes),
        unchanged=tuple(unchanged),
        not_in_files=tuple(i for i in others if i not in removed),
        clashes=judged_clashes,
        pending=tuple(sorted(i for i, state in approvals.items() if state == "pending")),
    )


async def _checked(session: Any, schedules: Sequence[Schedule]) -> list[Schedule]:
    """`schedules` with full content ids, once targets and contents are found in the store.

    Read in the apply's own transaction, so what is checked is what the write sees.
    """
    tree = GroupTree(await load_groups(session))
    registry = list((await load_receivers(session)).values())
    receiver_ids = [r.id for r in registry]
    content_ids = list((await session.execute(select(audio_contents.c.id))).scalars())
    problems: list[str] = []
    checked: list[Schedule] = []
    # A province's schedules name the same few targets (its communes) again and again.
    judged: dict[str, list[str]] = {}
    for schedule in schedules:
        if schedule.targets not in judged:
            judged[schedule.targets] = _target_problems(
                schedule.targets, tree, registry, receiver_ids
            )
        mine = list(judged[schedule.targets])
        contents: list[tuple[str, str]] = []
        for language, given in schedule.contents:
            try:
                contents.append((language, _content_id(given, content_ids)))
            except ScheduleStoreError as exc:
                mine.append(f"contents.{language}: {exc}")
        problems.extend(f"schedule {schedule.id!r}: {problem}" for problem in mine)
        if not mine:
            checked.append(dataclasses.replace(schedule, contents=tuple(contents)))
    if problems:
        raise ScheduleCheckError(problems)
    return checked


def _target_problems(
    targets: str, tree: GroupTree, registry: Sequence[Any], receiver_ids: Sequence[str]
) -> list[str]:
    """Every unknown id in `targets` (not only the first), or that they name nobody."""
    problems: list[str] = []
    for part in (p.strip() for p in targets.split(",")):
        if part:
            try:
                parse_targets(part, tree, receiver_ids)
            except TargetError as exc:
                problems.append(f"targets: {exc}")
    if problems:
        return problems
    try:
        named = resolve(parse_targets(targets, tree, receiver_ids), registry, tree)
    except TargetError as exc:
        return [f"targets: {exc}"]
    if not named:
        return [f"targets: {targets!r} names no registered receiver"]
    return []


def _content_id(given: str, content_ids: Sequence[str]) -> str:
    """The full id `given` names, read as `AudioLibrary.get` reads it (which needs the file
    store, not only the table); `ScheduleStoreError` says why there is none or several."""
    key = given.strip().lower()
    if len(key) < MIN_PREFIX:
        raise ScheduleStoreError(
            f"{given!r} is too short to name an audio content: give its id or at least "
            f"its first {MIN_PREFIX} characters (see `loa audio list`)"
        )
    matches = [i for i in content_ids if i.startswith(key)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ScheduleStoreError(
            f"no audio content has an id starting {given!r}; see `loa audio list`"
        )
    raise ScheduleStoreError(
        f"{len(matches)} audio contents have ids starting {given!r}; give more characters"
    )


def _changed_fields(
    old: Row[Any], data: dict[str, Any], definition: str, source: str
) -> tuple[str, ...]:
    """The operator's keys whose values differ (`when` as a whole), then `source`."""
    fields: list[str] = []
    if old.definition != definition:
        before = json.loads(old.definition)
        fields = [k for k in data if k not in ("id", "enabled") and before.get(k) != data[k]]
    if old.enabled != data["enabled"]:
        fields.append("enabled")
    if old.source != source:
        fields.append("source")
    return tuple(fields)


async def list_schedules(store: Store) -> list[StoredSchedule]:
    """Every stored schedule, by id."""
    async with store.read() as session:
        rows = (await session.execute(select(schedules_table).order_by(schedules_table.c.id))).all()
    return [stored_from_row(row) for row in rows]


async def get_schedule(store: Store, schedule_id: str) -> StoredSchedule:
    """The stored schedule `schedule_id`; `UnknownScheduleError` (with a hint) if none."""
    async with store.read() as session:
        row = await _row(session, schedule_id)
    return stored_from_row(row)


async def set_enabled(store: Store, schedule_id: str, enabled: bool, at: datetime) -> bool:
    """Pause (`enabled=False`) or resume a schedule; returns whether it was enabled before."""
    require_aware(at)
    async with store.write() as session:
        row = (
            await session.execute(
                select(schedules_table.c.enabled).where(schedules_table.c.id == schedule_id)
            )
        ).one_or_none()
        if row is None:
            raise await _unknown(session, schedule_id)
        was = bool(row.enabled)
        if was != enabled:
            await session.execute(
                update(schedules_table)
                .where(schedules_table.c.id == schedule_id)
                .values(enabled=enabled, updated_at=at)
            )
    return was


async def approve_schedule(store: Store, schedule_id: str, by: str, at: datetime) -> StoredSchedule:
    """Approve a schedule that waits for it, as `by`: a second person, not its author.

    `ScheduleStoreError` if it does not wait for approval or `by` wrote it.
    """
    require_aware(at)
    who = by.strip()
    if not who:
        raise ScheduleStoreError("say who approves it (--by NAME)")
    async with store.write() as session:
        row = await _row(session, schedule_id)
        if row.approval != "pending":
            state = "was approved already" if row.approval == "approved" else "needs no approval"
            raise ScheduleStoreError(f"schedule {schedule_id!r} {state}; nothing changed")
        if who.casefold() == (row.created_by or "").strip().casefold():
            raise ScheduleStoreError(
                f"schedule {schedule_id!r} was written by {row.created_by!r}; a second person "
                "must approve it"
            )
        await session.execute(
            update(schedules_table)
            .where(schedules_table.c.id == schedule_id)
            .values(approval="approved", approved_by=who, approved_at=at)
        )
        row = await _row(session, schedule_id)
    return stored_from_row(row)


async def delete_schedule(store: Store, schedule_id: str) -> StoredSchedule:
    """Remove a schedule; returns it as it was stored."""
    async with store.write() as session:
        row = await _row(session, schedule_id)
        await session.execute(delete(schedules_table).where(schedules_table.c.id == schedule_id))
    return stored_from_row(row)


def _refuse_stored(schedules: Sequence[Schedule], rows: dict[str, Any]) -> None:
    """`ScheduleExistsError` for the first of `schedules` already among `rows`."""
    for schedule in schedules:
        if schedule.id in rows:
            raise ScheduleExistsError(schedule.id, rows[schedule.id].source)


async def _insert(
    session: AsyncSession, schedule_id: str, at: datetime, values: dict[str, Any]
) -> None:
    """Insert a new schedule; another writer's insert of the same id since this
    transaction read (PostgreSQL runs writers side by side) is `ScheduleExistsError`."""
    try:
        await session.execute(
            insert(schedules_table).values(id=schedule_id, created_at=at, **values)
        )
    except sa_exc.IntegrityError:
        raise ScheduleExistsError(schedule_id, None) from None


async def _row(session: Any, schedule_id: str) -> Any:
    """The stored row of `schedule_id`; `UnknownScheduleError` (with a hint) if none."""
    row = (
        await session.execute(select(schedules_table).where(schedules_table.c.id == schedule_id))
    ).one_or_none()
    if row is None:
        raise await _unknown(session, schedule_id)
    return row


async def _unknown(session: Any, schedule_id: str) -> UnknownScheduleError:
    known = list((await session.execute(select(schedules_table.c.id))).scalars())
    close = difflib.get_close_matches(schedule_id, known, n=1)
    if close:
        hint = f"did you mean {close[0]!r}?"
    elif known:
        hint = "`loa schedule list` shows them"
    else:
        hint = "none is stored yet; `loa schedule apply FILE|DIR` adds them"
    return UnknownScheduleError(f"no schedule {schedule_id!r}; {hint}")
