"""Bulletins and their occurrences in the store.

A bulletin is what to air (one content per language: a receiver plays its village's
language, else Vietnamese), to whom (`Target`s, resolved to receivers at dispatch), at
what priority, volume, repeat count and chime. Each airing is an occurrence with its own
id, play time and expiry; its state moves `scheduled -> dispatched -> done`, or ends
`cancelled` or `expired` (`set_occurrence_state` moves it only forward). Deliveries per
receiver are in `controller.store.deliveries`.

The functions take the `AsyncSession` of a `store.read()` or `store.write()` block, so a
caller can create a bulletin and its first occurrence in one transaction. Rows are
checked when made (`ValueError` names the field).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from sqlalchemy import Select, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from controller.store.deliveries import counts_by_occurrence
from controller.store.schema import (
    audio_contents,
    bulletin_contents,
    bulletin_targets,
    bulletins,
    occurrences,
)
from devices.ids import check_id
from devices.protocol.priority import PRIORITIES, Priority
from devices.registry.model import LANGUAGE_PATTERN, LANGUAGE_RULE

__all__ = [
    "CHIMES",
    "OCCURRENCE_STATES",
    "TARGET_KINDS",
    "BulletinDetail",
    "BulletinRow",
    "OccurrenceRow",
    "OccurrenceSummary",
    "Target",
    "cancel_bulletin",
    "create_bulletin",
    "create_occurrence",
    "due_occurrences",
    "get_bulletin",
    "get_occurrence",
    "list_occurrences",
    "occurrence_from_row",
    "overdue_occurrences",
    "set_occurrence_state",
]

#: Where the chime plays around the bulletin.
CHIMES: Final = ("none", "before", "after", "both")
#: "all" receivers, one "receiver", or a "group" (village, commune, province, free group).
TARGET_KINDS: Final = ("all", "receiver", "group")
#: `missed`: a scheduled air time that never went out (the controller was down past the
#: grace, or it fell in quiet hours); it is inserted as such, with its `reason`.
OCCURRENCE_STATES: Final = ("scheduled", "dispatched", "done", "cancelled", "expired", "missed")
#: Each state an occurrence may move to, from which states, and the column stamped.
_MOVES: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "dispatched": (("scheduled",), "dispatched_at"),
    "done": (("dispatched",), "finished_at"),
    "cancelled": (("scheduled", "dispatched"), "cancelled_at"),
    "expired": (("scheduled", "dispatched"), "finished_at"),
}
_STAMPS: Final = ("dispatched_at", "cancelled_at", "finished_at")
_HEX32: Final = re.compile(r"^[0-9a-f]{32}$")
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")
_MAX_REPEAT: Final = 10


@dataclass(frozen=True, slots=True)
class BulletinRow:
    """One row of `bulletins`."""

    #: 32 lower-case hex digits
    id: str
    #: for people and logs, 1 to 200 characters
    title: str
    priority: Priority
    #: output volume in % for its occurrences; None keeps each receiver's
    volume: int | None
    #: times played back to back, 1 to 10
    repeat: int
    #: one of `CHIMES`
    chime: str
    #: the operator who made it, or the process
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None = None

    def __post_init__(self) -> None:
        _check_hex32(self.id, "id")
        _check_text(self.title, "title", 200)
        _check_text(self.created_by, "created_by", 200)
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority {self.priority!r}: expected one of {', '.join(PRIORITIES)}")
        if self.volume is not None and not 0 <= self.volume <= 100:
            raise ValueError(f"volume {self.volume!r}: expected 0 to 100 (%), or None")
        if not 1 <= self.repeat <= _MAX_REPEAT:
            raise ValueError(f"repeat {self.repeat!r}: expected 1 to {_MAX_REPEAT}")
        if self.chime not in CHIMES:
            raise ValueError(f"chime {self.chime!r}: expected one of {', '.join(CHIMES)}")
        _check_aware(self.created_at, "created_at")
        _check_aware(self.cancelled_at, "cancelled_at")


@dataclass(frozen=True, slots=True)
class Target:
    """Whom a bulletin is for: `Target("all")`, `Target("receiver", id)`, `Target("group", id)`."""

    kind: str
    target_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ValueError(
                f"target kind {self.kind!r}: expected one of {', '.join(TARGET_KINDS)}"
            )
        if self.kind == "all":
            if self.target_id is not None:
                raise ValueError(f"target 'all' takes no id, not {self.target_id!r}")
        else:
            check_id(self.target_id, f"{self.kind} id")


@dataclass(frozen=True, slots=True)
class OccurrenceRow:
    """One row of `occurrences`: one airing of a bulletin."""

    #: 32 lower-case hex digits
    id: str
    bulletin_id: str
    #: when to start; None for an emergency: as soon as the audio has arrived
    play_at: datetime | None
    #: after this instant it must not start
    expires_at: datetime
    created_at: datetime
    #: one of `OCCURRENCE_STATES`
    state: str = "scheduled"
    #: when its commands went out
    dispatched_at: datetime | None = None
    cancelled_at: datetime | None = None
    #: when it became done or expired
    finished_at: datetime | None = None
    #: the schedule that fired it, and the air time it planned (None: a one-off bulletin)
    schedule_id: str | None = None
    planned_at: datetime | None = None
    #: deliver from this instant; None: `delivery.lead_s` before `play_at`
    dispatch_at: datetime | None = None
    #: why it ended as it did (a `missed` occurrence: why it never went out)
    reason: str | None = None

    def __post_init__(self) -> None:
        _check_hex32(self.id, "id")
        _check_hex32(self.bulletin_id, "bulletin_id")
        if (self.schedule_id is None) != (self.planned_at is None):
            raise ValueError("schedule_id and planned_at go together: both or neither")
        if self.state not in OCCURRENCE_STATES:
            raise ValueError(
                f"state {self.state!r}: expected one of {', '.join(OCCURRENCE_STATES)}"
            )
        for name in ("play_at", "expires_at", "created_at", "planned_at", "dispatch_at", *_STAMPS):
            _check_aware(getattr(self, name), name)
        if self.play_at is not None and self.expires_at <= self.play_at:
            raise ValueError(
                f"expires_at {self.expires_at.isoformat()} is not after "
                f"play_at {self.play_at.isoformat()}"
            )


class BulletinDetail(NamedTuple):
    """A bulletin with its contents (language to content id, the default first) and targets."""

    bulletin: BulletinRow
    contents: dict[str, str]
    targets: list[Target]


@dataclass(frozen=True, slots=True)
class OccurrenceSummary:
    """An occurrence for a listing: its bulletin's title and priority, deliveries per state."""

    occurrence: OccurrenceRow
    title: str
    priority: str
    #: every delivery state, with how many receivers stand in it (0 included)
    counts: dict[str, int]


async def create_bulletin(
    session: AsyncSession,
    bulletin: BulletinRow,
    contents: Mapping[str, str],
    targets: Sequence[Target],
) -> None:
    """Insert a bulletin with its contents (language to content id) and targets.

    `ValueError` if there is no content or no target, a language or content id is
    malformed, or a content is not in the audio library.
    """
    if not contents:
        raise ValueError(f"bulletin {bulletin.id}: no content; give one per language")
    if not targets:
        raise ValueError(f"bulletin {bulletin.id}: no target; give receivers, groups or all")
    for language, content_id in contents.items():
        if not LANGUAGE_PATTERN.match(language):
            raise ValueError(f"language {language!r}: expected {LANGUAGE_RULE}")
        if not _SHA256.match(content_id):
            raise ValueError(f"content {content_id!r} ({language}): expected a sha256 digest")
    known: set[str] = set(
        (
            await session.execute(
                select(audio_contents.c.id).where(audio_contents.c.id.in_(set(contents.values())))
            )
        ).scalars()
    )
    for language, content_id in contents.items():
        if content_id not in known:
            raise ValueError(
                f"content {content_id} ({language}) is not in the audio library "
                "(`loa audio list` shows what is)"
            )
    await session.execute(insert(bulletins).values(**dataclasses.asdict(bulletin)))
    await session.execute(
        insert(bulletin_contents),
        [
            {
                "bulletin_id": bulletin.id,
                "language": language,
                "content_id": content_id,
                "position": position,
            }
            for position, (language, content_id) in enumerate(contents.items())
        ],
    )
    await session.execute(
        insert(bulletin_targets),
        [
            {"bulletin_id": bulletin.id, "kind": t.kind, "target_id": t.target_id or ""}
            for t in dict.fromkeys(targets)
        ],
    )


async def get_bulletin(session: AsyncSession, bulletin_id: str) -> BulletinDetail | None:
    """The bulletin `bulletin_id` with its contents and targets, or None."""
    found = (await session.execute(select(bulletins).where(bulletins.c.id == bulletin_id))).first()
    if found is None:
        return None
    languages = await session.execute(
        select(bulletin_contents)
        .where(bulletin_contents.c.bulletin_id == bulletin_id)
        .order_by(bulletin_contents.c.position, bulletin_contents.c.language)
    )
    targeted = await session.execute(
        select(bulletin_targets)
        .where(bulletin_targets.c.bulletin_id == bulletin_id)
        .order_by(bulletin_targets.c.kind, bulletin_targets.c.target_id)
    )
    return BulletinDetail(
        _bulletin(found),
        {row.language: row.content_id for row in languages.all()},
        [Target(row.kind, row.target_id or None) for row in targeted.all()],
    )


async def cancel_bulletin(session: AsyncSession, bulletin_id: str, at: datetime) -> bool:
    """Mark a bulletin cancelled at `at`; False if it is unknown or was cancelled already.

    Its occurrences are the caller's to cancel (`set_occurrence_state`), with their
    deliveries; `due_occurrences` leaves out those of a cancelled bulletin meanwhile.
    """
    _check_aware(at, "at")
    statement = (
        update(bulletins)
        .where(bulletins.c.id == bulletin_id, bulletins.c.cancelled_at.is_(None))
        .values(cancelled_at=at)
        .returning(bulletins.c.id)
    )
    return (await session.execute(statement)).first() is not None


async def create_occurrence(session: AsyncSession, occurrence: OccurrenceRow) -> None:
    """Insert an occurrence of a stored bulletin."""
    await session.execute(insert(occurrences).values(**dataclasses.asdict(occurrence)))


async def get_occurrence(session: AsyncSession, occurrence_id: str) -> OccurrenceRow | None:
    """The occurrence `occurrence_id`, or None."""
    query = select(occurrences).where(occurrences.c.id == occurrence_id)
    found = (await session.execute(query)).first()
    return None if found is None else occurrence_from_row(found)


@dataclass(frozen=True)
class OccurrenceFilter:
    """Which occurrences a list keeps: `states`, a `priority`, and when they play (or
    were sent, or made: the first known) within [`since`, `until`)."""

    states: Sequence[str] | None = None
    priority: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self, query: Select[Any]) -> Select[Any]:
        if self.states is not None:
            _check_states(self.states)
            query = query.where(occurrences.c.state.in_(list(self.states)))
        if self.priority is not None:
            query = query.where(bulletins.c.priority == self.priority)
        when = func.coalesce(
            occurrences.c.play_at, occurrences.c.dispatched_at, occurrences.c.created_at
        )
        if self.since is not None:
            _check_aware(self.since, "since")
            query = query.where(when >= self.since)
        if self.until is not None:
            _check_aware(self.until, "until")
            query = query.where(when < self.until)
        return query


async def list_occurrences(
    session: AsyncSession,
    *,
    limit: int = 50,
    offset: int = 0,
    states: Sequence[str] | None = None,
    chosen: OccurrenceFilter | None = None,
) -> list[OccurrenceSummary]:
    """The newest occurrences (of `states`, or as `chosen` filters), newest first, with
    delivery counts; `offset` skips that many."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    chosen = chosen or OccurrenceFilter(states=states)
    query = (
        select(occurrences, bulletins.c.title, bulletins.c.priority)
        .join(bulletins, bulletins.c.id == occurrences.c.bulletin_id)
        .order_by(occurrences.c.created_at.desc(), occurrences.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = (await session.execute(chosen.where(query))).all()
    counts = await counts_by_occurrence(session, [row.id for row in rows])
    return [
        OccurrenceSummary(occurrence_from_row(row), row.title, row.priority, counts[row.id])
        for row in rows
    ]


async def count_occurrences(session: AsyncSession, chosen: OccurrenceFilter) -> int:
    """How many occurrences `chosen` keeps."""
    query = select(func.count()).select_from(
        occurrences.join(bulletins, bulletins.c.id == occurrences.c.bulletin_id)
    )
    return int((await session.execute(chosen.where(query))).scalar_one())


async def due_occurrences(
    session: AsyncSession, *, now: datetime, lead: timedelta
) -> list[OccurrenceRow]:
    """Scheduled occurrences to dispatch now: play time within `lead` of `now`, or none.

    An occurrence with its own `dispatch_at` (a schedule's lead) is due from that instant
    instead. Those that expired, or whose bulletin was cancelled, are left out.
    Emergencies (no play time) come first, then by play time.
    """
    _check_aware(now, "now")
    query = (
        select(occurrences)
        .join(bulletins, bulletins.c.id == occurrences.c.bulletin_id)
        .where(
            occurrences.c.state == "scheduled",
            occurrences.c.expires_at > now,
            or_(
                occurrences.c.play_at.is_(None),
                occurrences.c.dispatch_at <= now,
                and_(occurrences.c.dispatch_at.is_(None), occurrences.c.play_at <= now + lead),
            ),
            bulletins.c.cancelled_at.is_(None),
        )
        .order_by(occurrences.c.play_at.asc().nulls_first(), occurrences.c.id)
    )
    return [occurrence_from_row(row) for row in (await session.execute(query)).all()]


async def overdue_occurrences(session: AsyncSession, *, now: datetime) -> list[OccurrenceRow]:
    """Scheduled or dispatched occurrences whose expiry has passed: to end as expired or done."""
    _check_aware(now, "now")
    query = (
        select(occurrences)
        .where(
            occurrences.c.state.in_(("scheduled", "dispatched")),
            occurrences.c.expires_at <= now,
        )
        .order_by(occurrences.c.expires_at, occurrences.c.id)
    )
    return [occurrence_from_row(row) for row in (await session.execute(query)).all()]


async def set_occurrence_state(
    session: AsyncSession, occurrence_id: str, state: str, at: datetime
) -> bool:
    """Move an occurrence forward to `state` at `at`, stamping the matching column.

    `dispatched` from `scheduled`; `done` from `dispatched`; `cancelled` and `expired`
    from either. False (nothing changed) if the occurrence is unknown or not in a state
    it may move from, e.g. it was cancelled meanwhile.
    """
    if state not in _MOVES:
        raise ValueError(
            f"an occurrence cannot be moved to {state!r}; expected one of {', '.join(_MOVES)}"
        )
    _check_aware(at, "at")
    sources, stamp = _MOVES[state]
    statement = (
        update(occurrences)
        .where(occurrences.c.id == occurrence_id, occurrences.c.state.in_(sources))
        .values({"state": state, stamp: at})
        .returning(occurrences.c.id)
    )
    return (await session.execute(statement)).first() is not None


_BULLETIN_FIELDS: Final = tuple(f.name for f in dataclasses.fields(BulletinRow))
_OCCURRENCE_FIELDS: Final = tuple(f.name for f in dataclasses.fields(OccurrenceRow))


def _bulletin(row: Any) -> BulletinRow:
    return BulletinRow(**{name: getattr(row, name) for name in _BULLETIN_FIELDS})


def occurrence_from_row(row: Any) -> OccurrenceRow:
    """An `occurrences` row (all its columns) as an `OccurrenceRow`."""
    return OccurrenceRow(**{name: getattr(row, name) for name in _OCCURRENCE_FIELDS})


def _check_states(states: Sequence[str]) -> None:
    for state in states:
        if state not in OCCURRENCE_STATES:
            raise ValueError(
                f"occurrence state {state!r}: expected one of {', '.join(OCCURRENCE_STATES)}"
            )


def _check_hex32(value: str, name: str) -> None:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise ValueError(f"{name} {value!r}: expected 32 lower-case hex digits")


def _check_text(value: str, name: str, limit: int) -> None:
    if not value.strip() or len(value) > limit:
        raise ValueError(f"{name} {value!r}: expected 1 to {limit} characters, not blank")


def _check_aware(value: datetime | None, name: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name}: naive datetime {value!r}; pass a timezone-aware instant (UTC)")
