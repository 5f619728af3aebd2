"""What a schedule fired, in the store: one occurrence per schedule and planned air time.

The store, not the scheduler's job state, is the record of what fired. An occurrence's id
is derived from its schedule and its planned instant (`occurrence_id`), and the pair is a
unique index: firing the same air time twice (APScheduler after a crash, a restart that
re-reads an old restart point, two controllers by mistake) inserts nothing the second time.

A schedule's occurrences share one bulletin per revision of the schedule (`bulletin_id`):
what to play, to whom, how; an edit makes a new bulletin, so the as-run log of an old air
time still shows what it played. Targets are kept as the schedule names them (groups stay
groups) and resolved to receivers when each occurrence is dispatched.

`schedule_jobs` holds the scheduler's state per schedule (`JobRow`): the revision its job
was built from, its contents ready to play, the instant it started counting air times
(`since`) and the last planned air time whose fire is written (`handled_through`), which is
moved only in the same transaction as the occurrences it covers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from controller.store.bulletins import (
    BulletinRow,
    OccurrenceRow,
    Target,
    create_bulletin,
    create_occurrence,
    occurrence_from_row,
)
from controller.store.schema import bulletins, occurrences, schedule_jobs
from controller.store.store import Store
from schedules.model import Schedule

__all__ = [
    "FireRow",
    "JobRow",
    "bulletin_id",
    "delete_jobs",
    "fired_occurrences",
    "load_job",
    "load_jobs",
    "mark_handled",
    "occurrence_id",
    "record_fires",
    "revision",
    "save_job",
]

_MAX_TITLE: Final = 200


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _utc_text(instant: datetime) -> str:
    if instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant!r}: pass an aware instant")
    return instant.astimezone(UTC).isoformat()


def occurrence_id(schedule_id: str, planned_at: datetime) -> str:
    """The occurrence of `schedule_id` at the planned air time `planned_at`, always the same."""
    return _digest("loa-schedule-occurrence", schedule_id, _utc_text(planned_at))


def revision(definition: str) -> str:
    """A short fingerprint of a schedule's stored definition (`schedules.definition`)."""
    return hashlib.sha256(definition.encode()).hexdigest()[:16]


def bulletin_id(schedule_id: str, schedule_revision: str) -> str:
    """The bulletin every occurrence of one revision of a schedule shares."""
    return _digest("loa-schedule-bulletin", schedule_id, schedule_revision)


@dataclass(frozen=True, slots=True)
class FireRow:
    """One planned air time of a schedule, as the scheduler decided it."""

    planned_at: datetime
    #: "scheduled" (to be delivered) or "missed" (never sent; `reason` says why)
    state: str
    #: when it plays: the planned time, or later when it was fired late; None if missed
    play_at: datetime | None
    #: deliver from this instant on (the fire); None if missed
    dispatch_at: datetime | None
    expires_at: datetime
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.state not in ("scheduled", "missed"):
            raise ValueError(f"a fire is scheduled or missed, not {self.state!r}")
        if self.state == "missed" and not self.reason:
            raise ValueError("a missed air time needs its reason")
        if self.state == "scheduled" and (self.play_at is None or self.dispatch_at is None):
            raise ValueError("a scheduled fire needs play_at and dispatch_at")


async def record_fires(
    session: AsyncSession,
    schedule: Schedule,
    *,
    schedule_revision: str,
    contents: Mapping[str, str],
    targets: Sequence[Target],
    fires: Sequence[FireRow],
    now: datetime,
) -> list[str]:
    """Insert the occurrences of `fires` that are not stored yet; their ids, in order.

    The schedule's bulletin for this revision is made on its first fire. `ValueError` if
    a content is no longer in the audio library (`create_bulletin` says which).
    """
    if not fires:
        return []
    wanted = {occurrence_id(schedule.id, fire.planned_at): fire for fire in fires}
    stored: set[str] = set(
        (
            await session.execute(
                select(occurrences.c.id).where(occurrences.c.id.in_(list(wanted)))
            )
        ).scalars()
    )
    new = {oid: fire for oid, fire in wanted.items() if oid not in stored}
    if not new:
        return []
    bid = bulletin_id(schedule.id, schedule_revision)
    known = (await session.execute(select(bulletins.c.id).where(bulletins.c.id == bid))).first()
    if known is None:
        bulletin = BulletinRow(
            id=bid,
            title=schedule.title[:_MAX_TITLE],
            priority=schedule.priority,
            volume=schedule.volume,
            repeat=schedule.repeat,
            chime=schedule.chime,
            created_by=f"schedule {schedule.id}",
            created_at=now,
        )
        await create_bulletin(session, bulletin, contents, targets)
    for oid, fire in new.items():
        await create_occurrence(
            session,
            OccurrenceRow(
                id=oid,
                bulletin_id=bid,
                play_at=fire.play_at if fire.state == "scheduled" else fire.planned_at,
                expires_at=fire.expires_at,
                created_at=now,
                state=fire.state,
                finished_at=now if fire.state == "missed" else None,
                schedule_id=schedule.id,
                planned_at=fire.planned_at,
                dispatch_at=fire.dispatch_at,
                reason=fire.reason,
            ),
        )
    return list(new)


async def fired_occurrences(
    store: Store, schedule_id: str, *, limit: int = 20
) -> list[OccurrenceRow]:
    """The latest occurrences `schedule_id` fired (missed ones included), newest first."""
    async with store.read() as session:
        rows = await session.execute(
            select(occurrences)
            .where(occurrences.c.schedule_id == schedule_id)
            .order_by(occurrences.c.planned_at.desc())
            .limit(limit)
        )
        return [occurrence_from_row(row) for row in rows.all()]


@dataclass(frozen=True, slots=True)
class JobRow:
    """The scheduler's persistent state for one schedule (see the module docstring)."""

    schedule_id: str
    revision: str
    #: language -> content id, the default language first (text read aloud included)
    contents: dict[str, str]
    since: datetime
    handled_through: datetime | None
    updated_at: datetime


async def load_jobs(session: AsyncSession) -> dict[str, JobRow]:
    """Every job row, by schedule id."""
    rows = (await session.execute(select(schedule_jobs))).all()
    return {row.schedule_id: _job(row) for row in rows}


async def load_job(session: AsyncSession, schedule_id: str) -> JobRow | None:
    """The job row of `schedule_id`, or None."""
    query = select(schedule_jobs).where(schedule_jobs.c.schedule_id == schedule_id)
    row = (await session.execute(query)).first()
    return None if row is None else _job(row)


async def save_job(session: AsyncSession, job: JobRow) -> None:
    """Insert or replace the job row of `job.schedule_id`."""
    values: dict[str, Any] = {
        "revision": job.revision,
        "contents": json.dumps(list(job.contents.items()), ensure_ascii=False),
        "since": job.since,
        "handled_through": job.handled_through,
        "updated_at": job.updated_at,
    }
    changed = await session.execute(
        update(schedule_jobs)
        .where(schedule_jobs.c.schedule_id == job.schedule_id)
        .values(**values)
        .returning(schedule_jobs.c.schedule_id)
    )
    if changed.first() is None:
        await session.execute(insert(schedule_jobs).values(schedule_id=job.schedule_id, **values))


async def mark_handled(
    session: AsyncSession, schedule_id: str, through: datetime, at: datetime
) -> None:
    """Every air time of `schedule_id` up to `through` is written: restart after it."""
    await session.execute(
        update(schedule_jobs)
        .where(schedule_jobs.c.schedule_id == schedule_id)
        .values(handled_through=through, updated_at=at)
    )


async def delete_jobs(session: AsyncSession, schedule_ids: Sequence[str]) -> None:
    """Forget the job rows of schedules deleted, paused or waiting for approval."""
    if schedule_ids:
        await session.execute(
            delete(schedule_jobs).where(schedule_jobs.c.schedule_id.in_(list(schedule_ids)))
        )


def _job(row: Any) -> JobRow:
    return JobRow(
        schedule_id=row.schedule_id,
        revision=row.revision,
        contents=dict(json.loads(row.contents)),
        since=row.since,
        handled_through=row.handled_through,
        updated_at=row.updated_at,
    )
