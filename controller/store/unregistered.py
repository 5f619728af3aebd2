"""Receivers heard on the broker but not in the registry, and adopting them into it.

The ingest code calls `record_unregistered()` for every message from an unknown id;
a technician sees them in `loa devices list` and either adds them to the registry
file (an import adopts them) or adopts one directly with `adopt()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from controller.store.registry_rows import insert_receivers, load_groups, require_aware
from controller.store.schema import receivers, unregistered_receivers
from controller.store.store import Store
from devices.ids import check_id
from devices.registry import (
    DEFAULT_HEARTBEAT_S,
    DEFAULT_LANGUAGES,
    GroupTree,
    Receiver,
    RegistryError,
)
from devices.registry.model import membership_problem, village_problem


@dataclass(frozen=True)
class Unregistered:
    """A receiver id heard on the broker that the registry does not know."""

    id: str
    first_seen: datetime
    last_seen: datetime
    epoch: int | None
    firmware: str | None
    messages: int
    last_topic: str | None


async def record_unregistered(
    store: Store,
    receiver_id: str,
    *,
    at: datetime,
    epoch: int | None,
    firmware: str | None,
    topic: str | None,
) -> bool:
    """Note a message from `receiver_id`, which is not registered; False if it is registered.

    The first sighting is kept; the last one, the message count, and the epoch,
    firmware and topic (when given) are updated.
    """
    check_id(receiver_id)
    require_aware(at)
    table = unregistered_receivers
    dialect_insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
    upsert = dialect_insert(table).values(
        id=receiver_id,
        first_seen=at,
        last_seen=at,
        epoch=epoch,
        firmware=firmware,
        messages=1,
        last_topic=topic,
    )
    statement = upsert.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={
            "last_seen": func.max(table.c.last_seen, upsert.excluded.last_seen)
            if store.is_sqlite
            else func.greatest(table.c.last_seen, upsert.excluded.last_seen),
            "messages": table.c.messages + 1,
            "epoch": func.coalesce(upsert.excluded.epoch, table.c.epoch),
            "firmware": func.coalesce(upsert.excluded.firmware, table.c.firmware),
            "last_topic": func.coalesce(upsert.excluded.last_topic, table.c.last_topic),
        },
    )
    async with store.write() as session:
        if await _registered(session, receiver_id):
            return False
        await session.execute(statement)
    return True


async def list_unregistered(store: Store) -> list[Unregistered]:
    """The receivers waiting to be registered, the most recently heard first."""
    table = unregistered_receivers
    query = (
        select(table)
        .where(table.c.id.not_in(select(receivers.c.id)))
        .order_by(table.c.last_seen.desc(), table.c.id)
    )
    async with store.read() as session:
        rows = (await session.execute(query)).all()
    return [
        Unregistered(
            id=row.id,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            epoch=row.epoch,
            firmware=row.firmware,
            messages=row.messages,
            last_topic=row.last_topic,
        )
        for row in rows
    ]


async def adopt(
    store: Store,
    receiver_id: str,
    *,
    village_id: str,
    at: datetime,
    name: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    groups: Sequence[str] = (),
    languages: Sequence[str] = DEFAULT_LANGUAGES,
    speakers: int = 1,
    installed: date | None = None,
    notes: str = "",
    heartbeat_s: int = DEFAULT_HEARTBEAT_S,
) -> Receiver:
    """Register the unregistered receiver `receiver_id` in `village_id` (named after its id
    unless `name` is given). `RegistryError` if it is unknown, already registered, or a
    group is not there."""
    require_aware(at)
    try:
        receiver = Receiver(
            id=receiver_id,
            name=receiver_id if name is None else name,
            village_id=village_id,
            lat=lat,
            lon=lon,
            groups=tuple(groups),
            languages=tuple(languages),
            speakers=speakers,
            installed=installed,
            notes=notes,
            heartbeat_s=heartbeat_s,
        )
    except (ValueError, TypeError) as exc:
        raise RegistryError(f"cannot adopt {receiver_id!r}: {exc}") from exc
    async with store.write() as session:
        if await _registered(session, receiver_id):
            raise RegistryError(
                f"receiver {receiver_id!r} is registered already; change it in the registry "
                "file and import that again"
            )
        waiting = select(unregistered_receivers.c.id).where(
            unregistered_receivers.c.id == receiver_id
        )
        if (await session.execute(waiting)).first() is None:
            raise RegistryError(
                f"no unregistered receiver {receiver_id!r}: Loa has not heard from it; "
                "`loa devices list --status unregistered` shows the receivers waiting"
            )
        tree = GroupTree(await load_groups(session))
        problems = [village_problem(receiver_id, village_id, tree.get(village_id))] + [
            membership_problem(receiver_id, group_id, tree.get(group_id)) for group_id in groups
        ]
        found = [problem for problem in problems if problem is not None]
        if found:
            raise RegistryError(
                f"cannot adopt {receiver_id!r}: {'; '.join(found)}; import the registry "
                "file that has it first"
            )
        await insert_receivers(session, [receiver], at)
        await session.execute(
            delete(unregistered_receivers).where(unregistered_receivers.c.id == receiver_id)
        )
    return receiver


async def _registered(session: AsyncSession, receiver_id: str) -> bool:
    query = select(receivers.c.id).where(receivers.c.id == receiver_id)
    return (await session.execute(query)).first() is not None
