"""What happened to a controller (`controller_events`) and its session epoch (`controller_state`).

Every instant is timezone-aware: a naive `at` is refused with `ValueError`,
and instants come back in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from controller.store.schema import controller_events, controller_state
from controller.store.store import Store


@dataclass(frozen=True)
class ControllerEvent:
    """One row of `controller_events`."""

    id: int
    at: datetime
    controller_id: str
    kind: str
    detail: dict[str, Any] | None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"naive datetime {self.at!r}: events carry UTC instants")


async def record_event(
    store: Store,
    controller_id: str,
    kind: str,
    detail: dict[str, Any] | None,
    at: datetime,
) -> int:
    """Record that `kind` happened to `controller_id` at `at`; returns the event id."""
    _require_aware(at)
    statement = (
        insert(controller_events)
        .values(at=at, controller_id=controller_id, kind=kind, detail=detail)
        .returning(controller_events.c.id)
    )
    async with store.write() as session:
        event_id: int = (await session.execute(statement)).scalar_one()
    return event_id


async def list_events(
    store: Store, controller_id: str | None = None, limit: int = 100
) -> list[ControllerEvent]:
    """The newest `limit` events, newest first; only `controller_id`'s if given."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    table = controller_events
    query = select(table).order_by(table.c.at.desc(), table.c.id.desc()).limit(limit)
    if controller_id is not None:
        query = query.where(table.c.controller_id == controller_id)
    async with store.read() as session:
        rows = (await session.execute(query)).all()
    return [
        ControllerEvent(
            id=row.id,
            at=row.at,
            controller_id=row.controller_id,
            kind=row.kind,
            detail=row.detail,
        )
        for row in rows
    ]


async def next_epoch(store: Store, controller_id: str, at: datetime) -> int:
    """Hand out `controller_id`'s next session epoch: 1 the first time, then always larger.

    One atomic upsert, so concurrent callers (in this process or others) get
    distinct, consecutive values.
    """
    _require_aware(at)
    dialect_insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
    state = controller_state
    upsert = dialect_insert(state).values(controller_id=controller_id, epoch=1, updated_at=at)
    statement = upsert.on_conflict_do_update(
        index_elements=[state.c.controller_id],
        set_={"epoch": state.c.epoch + 1, "updated_at": upsert.excluded.updated_at},
    ).returning(state.c.epoch)
    async with store.write() as session:
        epoch: int = (await session.execute(statement)).scalar_one()
    return epoch


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a timezone-aware instant (UTC)")
