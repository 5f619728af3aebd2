"""The as-run log: every occurrence aired (or meant to air) in a period, and how well.

For each occurrence whose air time (its `play_at`; an emergency's dispatch or creation
time) falls in the period: the bulletin's title and priority, the schedule that fired it
(if one did), its planned, dispatch and play times, its state and reason, whom it was for,
and its deliveries counted by outcome: receivers targeted, played, failed (failed,
rejected, pre-empted or expired), cancelled and still pending. Reach is played / targeted.

The counts are grouped in SQL (one aggregate over `deliveries` per period), not read row by
row, so a year of a province's broadcasts stays one query. With a commune, only the
deliveries to that commune's receivers are counted, and an occurrence is listed when it
reached a receiver there or its bulletin names the commune, one of its villages, or `all`
(a missed occurrence has no deliveries, but was still meant for the commune).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import case, func, or_, select
from sqlalchemy.sql import Select

from controller.reports.period import Period
from controller.store import Store
from controller.store.schema import bulletin_targets, bulletins, deliveries, groups, occurrences
from controller.store.schema import receivers as receivers_table

__all__ = ["FAILED_STATES", "AsRunRow", "DaySummary", "as_run", "daily"]

#: Delivery states that mean "it did not play there".
FAILED_STATES: Final = ("failed", "rejected", "preempted", "expired")


@dataclass(frozen=True, slots=True)
class AsRunRow:
    """One occurrence of the as-run log (see the module docstring)."""

    occurrence: str
    bulletin: str
    title: str
    priority: str
    schedule: str | None
    state: str
    reason: str | None
    #: "all", or the receiver and group ids the bulletin was sent to, comma-separated
    targets: str
    #: the air time a schedule planned; for a one-off bulletin its play_at
    planned_at: datetime | None
    #: when delivery started (or was to start)
    dispatch_at: datetime | None
    play_at: datetime | None
    #: the first receiver's proof of play
    first_played_at: datetime | None
    targeted: int
    played: int
    failed: int
    cancelled: int

    @property
    def pending(self) -> int:
        """Deliveries not finished yet (queued .. playing)."""
        return self.targeted - self.played - self.failed - self.cancelled

    @property
    def reach(self) -> float | None:
        """Played / targeted; None when it targeted no receiver (missed before delivery)."""
        return self.played / self.targeted if self.targeted else None

    @property
    def aired_at(self) -> datetime | None:
        return self.play_at or self.dispatch_at


@dataclass(frozen=True, slots=True)
class DaySummary:
    """The occurrences of one local day, for the reach chart."""

    day: date
    occurrences: int
    targeted: int
    played: int

    @property
    def reach(self) -> float | None:
        return self.played / self.targeted if self.targeted else None


def _aired() -> Any:
    o = occurrences.c
    return func.coalesce(o.play_at, o.dispatched_at, o.created_at)


def _commune_receivers(commune: str) -> Select[Any]:
    """Ids of the receivers standing in a village of `commune`."""
    return (
        select(receivers_table.c.id)
        .join(groups, groups.c.id == receivers_table.c.village_id)
        .where(or_(groups.c.parent_id == commune, groups.c.id == commune))
    )


def _query(period: Period, commune: str | None) -> Select[Any]:
    o, d = occurrences.c, deliveries.c
    aired = _aired()
    in_period = (aired >= period.start, aired < period.end)
    counted = (
        select(
            d.occurrence_id,
            func.count().label("targeted"),
            func.sum(case((d.state == "played", 1), else_=0)).label("played"),
            func.sum(case((d.state.in_(FAILED_STATES), 1), else_=0)).label("failed"),
            func.sum(case((d.state == "cancelled", 1), else_=0)).label("cancelled"),
            func.min(d.started_at).label("first_played_at"),
        )
        .join(occurrences, o.id == d.occurrence_id)
        .where(*in_period)
        .group_by(d.occurrence_id)
    )
    if commune is not None:
        counted = counted.where(d.receiver_id.in_(_commune_receivers(commune)))
    counts = counted.subquery("counts")
    query = (
        select(
            o.id,
            o.bulletin_id,
            o.schedule_id,
            o.state,
            o.reason,
            o.planned_at,
            o.play_at,
            func.coalesce(o.dispatched_at, o.dispatch_at).label("dispatch"),
            bulletins.c.title,
            bulletins.c.priority,
            counts.c.targeted,
            counts.c.played,
            counts.c.failed,
            counts.c.cancelled,
            counts.c.first_played_at,
        )
        .join(bulletins, bulletins.c.id == o.bulletin_id)
        .outerjoin(counts, counts.c.occurrence_id == o.id)
        .where(*in_period)
        .order_by(aired, o.id)
    )
    if commune is not None:
        places = select(groups.c.id).where(
            or_(groups.c.id == commune, groups.c.parent_id == commune)
        )
        named = select(bulletin_targets.c.bulletin_id).where(
            or_(bulletin_targets.c.kind == "all", bulletin_targets.c.target_id.in_(places))
        )
        query = query.where(or_(counts.c.targeted.is_not(None), o.bulletin_id.in_(named)))
    return query


async def as_run(store: Store, period: Period, *, commune: str | None = None) -> list[AsRunRow]:
    """The as-run log of `period` (oldest first), for one commune or all."""
    async with store.read() as session:
        rows = (await session.execute(_query(period, commune))).all()
        ids = sorted({row.bulletin_id for row in rows})
        targets: dict[str, list[str]] = {}
        if ids:
            found = await session.execute(
                select(bulletin_targets.c.bulletin_id, bulletin_targets.c.target_id)
                .where(bulletin_targets.c.bulletin_id.in_(ids))
                .order_by(bulletin_targets.c.bulletin_id, bulletin_targets.c.target_id)
            )
            for item in found.all():
                targets.setdefault(item.bulletin_id, []).append(item.target_id or "all")
    return [
        AsRunRow(
            occurrence=row.id,
            bulletin=row.bulletin_id,
            title=row.title,
            priority=row.priority,
            schedule=row.schedule_id,
            state=row.state,
            reason=row.reason,
            targets=", ".join(targets.get(row.bulletin_id, [])),
            planned_at=row.planned_at or row.play_at,
            dispatch_at=row.dispatch,
            play_at=row.play_at,
            first_played_at=row.first_played_at,
            targeted=int(row.targeted or 0),
            played=int(row.played or 0),
            failed=int(row.failed or 0),
            cancelled=int(row.cancelled or 0),
        )
        for row in rows
    ]


def daily(rows: Sequence[AsRunRow], period: Period) -> list[DaySummary]:
    """Every local day of `period` (those without occurrences too), in order."""
    days: dict[date, list[AsRunRow]] = {}
    day = period.first_day
    while day <= period.last_day:
        days[day] = []
        day = date.fromordinal(day.toordinal() + 1)
    for row in rows:
        aired = row.aired_at
        if aired is not None:
            days.setdefault(aired.astimezone(period.zone).date(), []).append(row)
    return [
        DaySummary(
            day,
            len(members),
            sum(r.targeted for r in members),
            sum(r.played for r in members),
        )
        for day, members in sorted(days.items())
    ]
