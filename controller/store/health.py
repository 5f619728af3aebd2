"""Receivers' health in the store: the current state per receiver and every transition.

The ingest keeps the live state in memory (`devices.health.ReceiverHealth`) and
writes here in batches: each transition as it happens (within a second), and
telemetry at most every `health.telemetry_flush` seconds per receiver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from controller.store.schema import receiver_health, receiver_transitions
from controller.store.store import Store
from devices.health import (
    HEALTH_STATES,
    LINK_STATES,
    NEVER_HEARD,
    HealthState,
    LinkState,
    Transition,
)


@dataclass(frozen=True)
class HealthRow:
    """One row of `receiver_health`."""

    receiver_id: str
    state: HealthState
    link_state: LinkState
    since: datetime
    cause: str
    epoch: int | None
    last_heard: datetime | None
    heartbeat_s: int | None
    firmware: str | None
    capabilities: tuple[str, ...]
    telemetry: dict[str, Any] | None
    telemetry_at: datetime | None


async def load_health(store: Store) -> dict[str, HealthRow]:
    """Every receiver's stored health, by receiver id."""
    async with store.read() as session:
        rows = (await session.execute(select(receiver_health))).all()
    return {row.receiver_id: health_row(row) for row in rows}


async def save_health(
    store: Store, rows: Sequence[HealthRow], transitions: Sequence[Transition], at: datetime
) -> None:
    """Upsert `rows` and append `transitions`, in one transaction."""
    if not rows and not transitions:
        return
    async with store.write() as session:
        if transitions:
            await session.execute(
                insert(receiver_transitions),
                [
                    {
                        "receiver_id": t.receiver_id,
                        "at": t.at,
                        "from_state": t.from_state,
                        "to_state": t.to_state,
                        "cause": t.cause[:300],
                        "epoch": t.epoch,
                    }
                    for t in transitions
                ],
            )
        if rows:
            # Delete and insert: portable across SQLite and PostgreSQL, and one statement each.
            ids = [row.receiver_id for row in rows]
            await session.execute(
                delete(receiver_health).where(receiver_health.c.receiver_id.in_(ids))
            )
            await session.execute(
                insert(receiver_health),
                [
                    {
                        "receiver_id": row.receiver_id,
                        "state": row.state,
                        "link_state": row.link_state,
                        "since": row.since,
                        "cause": row.cause[:300],
                        "epoch": row.epoch,
                        "last_heard": row.last_heard,
                        "heartbeat_s": row.heartbeat_s,
                        "firmware": row.firmware,
                        "capabilities": list(row.capabilities),
                        "telemetry": row.telemetry,
                        "telemetry_at": row.telemetry_at,
                        "updated_at": at,
                    }
                    for row in rows
                ],
            )


async def transitions_between(
    store: Store, receiver_id: str, start: datetime, end: datetime
) -> tuple[LinkState, list[Transition]]:
    """The link state at `start` and the transitions in [start, end), oldest first."""
    table = receiver_transitions
    async with store.read() as session:
        before = (
            await session.execute(
                select(table.c.to_state, table.c.from_state)
                .where(table.c.receiver_id == receiver_id, table.c.at < start)
                .order_by(table.c.at.desc(), table.c.id.desc())
                .limit(1)
            )
        ).first()
        rows = (
            await session.execute(
                select(table)
                .where(table.c.receiver_id == receiver_id, table.c.at >= start, table.c.at < end)
                .order_by(table.c.at, table.c.id)
            )
        ).all()
    state: LinkState = "offline"
    if before is not None:
        last = before.to_state if before.to_state != "flapping" else before.from_state
        state = link_state(last)
    return state, [
        Transition(
            r.receiver_id,
            r.at,
            health_state(r.from_state),
            health_state(r.to_state),
            r.cause,
            r.epoch,
        )
        for r in rows
    ]


def health_row(row: Any) -> HealthRow:
    """A `HealthRow` from a database row holding the `receiver_health` columns."""
    return HealthRow(
        receiver_id=row.receiver_id,
        state=health_state(row.state),
        link_state=link_state(row.link_state),
        since=row.since,
        cause=row.cause,
        epoch=row.epoch,
        last_heard=row.last_heard,
        heartbeat_s=row.heartbeat_s,
        firmware=row.firmware,
        capabilities=tuple(row.capabilities or ()),
        telemetry=row.telemetry,
        telemetry_at=row.telemetry_at,
    )


def never_heard(receiver_id: str, since: datetime) -> HealthRow:
    """The health of a registered receiver that has not spoken yet."""
    return HealthRow(
        receiver_id=receiver_id,
        state="offline",
        link_state="offline",
        since=since,
        cause=NEVER_HEARD,
        epoch=None,
        last_heard=None,
        heartbeat_s=None,
        firmware=None,
        capabilities=(),
        telemetry=None,
        telemetry_at=None,
    )


def health_state(value: str) -> HealthState:
    """A stored state; one written by a newer Loa shows as offline: not known to be up."""
    return next((state for state in HEALTH_STATES if state == value), "offline")


def link_state(value: str) -> LinkState:
    return next((state for state in LINK_STATES if state == value), "offline")
