"""Reading and writing registry rows: the helpers `registry` and `unregistered` share.

Groups and receivers come back as the model's frozen `Group` and `Receiver`; a
receiver's health comes back as `controller.store.health.HealthRow`, or as "offline,
never heard from" (since it was registered) when the health code has no row for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from controller.store.health import HealthRow, health_row, never_heard
from controller.store.schema import groups as groups_table
from controller.store.schema import receiver_groups, receivers
from devices.registry import Group, Receiver

#: The fields of `Receiver` that live in the `receivers` table (not the id, not groups).
RECEIVER_FIELDS: Final = tuple(f.name for f in dataclasses.fields(Receiver) if f.name != "id")


def require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a timezone-aware instant (UTC)")


async def load_groups(session: AsyncSession) -> list[Group]:
    rows = (await session.execute(select(groups_table).order_by(groups_table.c.id))).all()
    return [Group(row.id, row.name, row.kind, row.parent_id) for row in rows]


#: What changes whenever the receivers or their free groups change: how many receivers,
#: the latest `updated_at` (every import, update and adoption sets it), how many
#: memberships. Groups are few and compared whole.
ReceiversSignature = tuple[int, datetime | None, int]


async def receivers_signature(session: AsyncSession) -> ReceiversSignature:
    """Two aggregate queries that tell whether `load_receivers` would give anything new.

    A 10,000-receiver registry costs a few milliseconds this way against a quarter of a
    second to load (and the controller's event loop is held while it builds them).
    """
    row = (await session.execute(select(func.count(), func.max(receivers.c.updated_at)))).one()
    memberships = await session.execute(select(func.count()).select_from(receiver_groups))
    return int(row[0]), row[1], int(memberships.scalar_one())


async def load_receivers(
    session: AsyncSession, ids: Iterable[str] | None = None
) -> dict[str, Receiver]:
    """Registered receivers by id (all, or those of `ids`), with their free groups."""
    query = select(receivers).order_by(receivers.c.id)
    members = select(receiver_groups).order_by(receiver_groups.c.group_id)
    if ids is not None:
        wanted = list(ids)
        query = query.where(receivers.c.id.in_(wanted))
        members = members.where(receiver_groups.c.receiver_id.in_(wanted))
    in_groups: dict[str, list[str]] = {}
    for member in (await session.execute(members)).all():
        in_groups.setdefault(member.receiver_id, []).append(member.group_id)
    return {
        row.id: Receiver(
            id=row.id,
            name=row.name,
            village_id=row.village_id,
            lat=row.lat,
            lon=row.lon,
            groups=tuple(in_groups.get(row.id, ())),
            languages=tuple(row.languages),
            speakers=row.speakers,
            installed=row.installed,
            notes=row.notes,
            heartbeat_s=row.heartbeat_s,
        )
        for row in (await session.execute(query)).all()
    }


async def insert_receivers(session: AsyncSession, added: list[Receiver], at: datetime) -> None:
    """Insert new receivers (registered at `at`) with their free groups."""
    if not added:
        return
    rows = [receiver_values(r) | {"created_at": at, "updated_at": at} for r in added]
    await session.execute(insert(receivers), rows)
    await insert_memberships(session, added)


async def insert_memberships(session: AsyncSession, members: Iterable[Receiver]) -> None:
    rows = [{"receiver_id": r.id, "group_id": g} for r in members for g in r.groups]
    if rows:
        await session.execute(insert(receiver_groups), rows)


def receiver_values(receiver: Receiver) -> dict[str, Any]:
    """The `receivers` columns of `receiver` (its groups go to `receiver_groups`)."""
    values = {f: getattr(receiver, f) for f in RECEIVER_FIELDS if f != "groups"}
    return values | {"id": receiver.id, "languages": list(receiver.languages)}


def health_from_row(receiver_id: str, registered_at: datetime, row: Row[Any]) -> HealthRow:
    """The health in a row of receivers outer-joined with `receiver_health`."""
    if row.state is None:
        return never_heard(receiver_id, registered_at)
    return health_row(row)
