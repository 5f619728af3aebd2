"""The receiver registry in the store: import a registry file, list and show receivers,
and the receivers heard but not registered (from `controller.store.unregistered`).

Tables: `groups`, `receivers` and `receiver_groups` (free-group membership), read
together with `receiver_health` and `receiver_transitions` (written by the health
code, `controller.store.health`).

`import_registry()` is idempotent and all or nothing: one write transaction, and a
registry whose references do not hold together (with what the store has already)
changes nothing. It never deletes: receivers the file leaves out are reported.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from controller.store.health import HealthRow, health_state
from controller.store.registry_rows import (
    RECEIVER_FIELDS,
    health_from_row,
    insert_memberships,
    insert_receivers,
    load_groups,
    load_receivers,
    receiver_values,
    require_aware,
)
from controller.store.schema import groups as groups_table
from controller.store.schema import (
    receiver_groups,
    receiver_health,
    receiver_transitions,
    receivers,
    unregistered_receivers,
)
from controller.store.store import Store
from controller.store.unregistered import (
    Unregistered,
    adopt,
    list_unregistered,
    record_unregistered,
)
from devices.health import HEALTH_STATES, Transition
from devices.registry import Group, GroupTree, Receiver, RegistryError

__all__ = [
    "TRANSITIONS_SHOWN",
    "Change",
    "ImportResult",
    "ReceiverDetail",
    "ReceiverRow",
    "Unregistered",
    "adopt",
    "get_receiver",
    "import_registry",
    "list_receivers",
    "list_unregistered",
    "record_unregistered",
]

#: How many transitions `get_receiver()` returns, newest first.
TRANSITIONS_SHOWN: Final = 20
_GROUP_FIELDS: Final = ("name", "kind", "parent_id")
#: Parents before children, so foreign keys hold at every insert.
_KIND_ORDER: Final = {"province": 0, "commune": 1, "free": 2, "village": 3}
_REGISTERED_AT: Final = receivers.c.created_at.label("registered_at")
_REGISTRY_UPDATED_AT: Final = receivers.c.updated_at.label("registry_updated_at")


@dataclass(frozen=True)
class Change:
    """One group or receiver that an import adds or updates (`fields`: what changed)."""

    kind: Literal["group", "receiver"]
    id: str
    action: Literal["added", "updated"]
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportResult:
    """What an import changed (or, with `dry_run`, would change)."""

    dry_run: bool
    changes: tuple[Change, ...]
    groups_unchanged: int
    receivers_unchanged: int
    #: Receivers that were waiting as unregistered and are registered now.
    adopted: tuple[str, ...]
    #: Registered receivers the file does not list (they are kept).
    not_in_file: tuple[str, ...]

    def count(self, kind: Literal["group", "receiver"], action: Literal["added", "updated"]) -> int:
        return sum(1 for c in self.changes if c.kind == kind and c.action == action)

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.adopted)


@dataclass(frozen=True)
class ReceiverRow:
    """A receiver as `list_receivers()` shows it: where it is and how it is."""

    receiver: Receiver
    village: Group
    commune: Group | None
    health: HealthRow


@dataclass(frozen=True)
class ReceiverDetail:
    """Everything the store knows about one registered receiver."""

    receiver: Receiver
    village: Group
    commune: Group | None
    province: Group | None
    groups: tuple[Group, ...]
    health: HealthRow
    #: The newest `TRANSITIONS_SHOWN` state changes, newest first.
    transitions: tuple[Transition, ...]
    registered_at: datetime
    updated_at: datetime


async def import_registry(
    store: Store,
    groups: Sequence[Group],
    receivers_in: Sequence[Receiver],
    *,
    dry_run: bool,
    at: datetime,
) -> ImportResult:
    """Add and update `groups` and `receivers_in`; with `dry_run` only say what would change.

    Raises `RegistryError` (changing nothing) when ids repeat or references break.
    """
    require_aware(at)
    _check_unique("group", [g.id for g in groups])
    _check_unique("receiver", [r.id for r in receivers_in])
    new_groups = {g.id: g for g in groups}
    new = {r.id: r for r in receivers_in}
    async with store.read() if dry_run else store.write() as session:
        old_groups = {g.id: g for g in await load_groups(session)}
        old = await load_receivers(session)
        problems = GroupTree({**old_groups, **new_groups}.values()).problems(
            {**old, **new}.values()
        )
        if problems:
            shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
            raise RegistryError(f"cannot import: {shown}; nothing was changed")
        group_changes = [
            change
            for g in groups
            if (change := _change("group", g.id, old_groups.get(g.id), g, _GROUP_FIELDS))
        ]
        receiver_changes = [
            change
            for r in receivers_in
            if (change := _change("receiver", r.id, old.get(r.id), r, RECEIVER_FIELDS))
        ]
        waiting: set[str] = set(
            (await session.execute(select(unregistered_receivers.c.id))).scalars()
        )
        adopted = tuple(sorted(waiting & new.keys()))
        group_changes.sort(key=lambda c: _KIND_ORDER[new_groups[c.id].kind])
        if not dry_run:
            await _write_groups(session, [(c, new_groups[c.id]) for c in group_changes])
            await _write_receivers(session, [(c, new[c.id]) for c in receiver_changes], at)
            if adopted:
                await session.execute(
                    delete(unregistered_receivers).where(unregistered_receivers.c.id.in_(adopted))
                )
    return ImportResult(
        dry_run=dry_run,
        changes=(*group_changes, *receiver_changes),
        groups_unchanged=len(groups) - len(group_changes),
        receivers_unchanged=len(receivers_in) - len(receiver_changes),
        adopted=adopted,
        not_in_file=tuple(sorted(old.keys() - new.keys())),
    )


def _check_unique(what: str, ids: list[str]) -> None:
    repeated = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if repeated:
        raise RegistryError(f"{what} ids {repeated} appear more than once; nothing was changed")


def _change(
    kind: Literal["group", "receiver"], item_id: str, old: Any, new: Any, fields: Sequence[str]
) -> Change | None:
    if old is None:
        return Change(kind, item_id, "added")
    changed = tuple(f for f in fields if getattr(old, f) != getattr(new, f))
    return Change(kind, item_id, "updated", changed) if changed else None


async def _write_groups(session: AsyncSession, changes: list[tuple[Change, Group]]) -> None:
    for change, group in changes:
        values = {"name": group.name, "kind": group.kind, "parent_id": group.parent_id}
        if change.action == "added":
            await session.execute(insert(groups_table).values(id=group.id, **values))
        else:
            await session.execute(
                update(groups_table).where(groups_table.c.id == group.id).values(**values)
            )


async def _write_receivers(
    session: AsyncSession, changes: list[tuple[Change, Receiver]], at: datetime
) -> None:
    await insert_receivers(session, [r for c, r in changes if c.action == "added"], at)
    regrouped = []
    for change, receiver in changes:
        if change.action == "updated":
            await session.execute(
                update(receivers)
                .where(receivers.c.id == receiver.id)
                .values(receiver_values(receiver) | {"updated_at": at})
            )
            if "groups" in change.fields:
                regrouped.append(receiver)
                await session.execute(
                    delete(receiver_groups).where(receiver_groups.c.receiver_id == receiver.id)
                )
    await insert_memberships(session, regrouped)


async def list_receivers(
    store: Store, *, group: str | None = None, status: str | None = None
) -> list[ReceiverRow]:
    """Registered receivers, by commune, village and id.

    `group` keeps those in the group or below it (a commune: all its villages'
    receivers, and those in its free groups); `status` keeps those in that health
    state (`devices.health.HEALTH_STATES`; no health row counts as "offline").
    """
    if status is not None and status not in HEALTH_STATES:
        raise RegistryError(
            f"unknown status {status!r}; expected one of {', '.join(HEALTH_STATES)}"
        )
    health = receiver_health
    query = select(receivers.c.id, _REGISTERED_AT, health).outerjoin(
        health, health.c.receiver_id == receivers.c.id
    )
    async with store.read() as session:
        tree = GroupTree(await load_groups(session))
        if group is not None:
            below = _below(tree, group)
            in_free_group = select(receiver_groups.c.receiver_id).where(
                receiver_groups.c.group_id.in_(below)
            )
            query = query.where(
                or_(receivers.c.village_id.in_(below), receivers.c.id.in_(in_free_group))
            )
        if status is not None:
            query = query.where(func.coalesce(health.c.state, "offline") == status)
        rows = (await session.execute(query)).all()
        # All of them, not an IN list of ids, which a country-sized registry would overflow.
        registered = await load_receivers(session)
    listed = [
        _row(registered[row.id], tree, health_from_row(row.id, row.registered_at, row))
        for row in rows
    ]
    return sorted(
        listed, key=lambda r: (r.commune.id if r.commune else "", r.village.id, r.receiver.id)
    )


def _below(tree: GroupTree, group_id: str) -> list[str]:
    if group_id not in tree:
        close = difflib.get_close_matches(group_id, [g.id for g in tree], n=1)
        hint = f"did you mean {close[0]!r}?" if close else "the registry file names the groups"
        raise RegistryError(f"no group {group_id!r}; {hint}")
    return sorted(tree.descendants(group_id))


def _row(receiver: Receiver, tree: GroupTree, health: HealthRow) -> ReceiverRow:
    village = tree.get(receiver.village_id)
    assert village is not None  # noqa: S101 - a foreign key holds it
    return ReceiverRow(receiver, village, tree.commune_of(receiver), health)


async def get_receiver(store: Store, receiver_id: str) -> ReceiverDetail | None:
    """The registered receiver `receiver_id`, or None if there is none."""
    health = receiver_health
    query = (
        select(receivers.c.id, _REGISTERED_AT, _REGISTRY_UPDATED_AT, health)
        .outerjoin(health, health.c.receiver_id == receivers.c.id)
        .where(receivers.c.id == receiver_id)
    )
    t = receiver_transitions
    history = (
        select(t)
        .where(t.c.receiver_id == receiver_id)
        .order_by(t.c.at.desc(), t.c.id.desc())
        .limit(TRANSITIONS_SHOWN)
    )
    async with store.read() as session:
        row = (await session.execute(query)).first()
        if row is None:
            return None
        receiver = (await load_receivers(session, [receiver_id]))[receiver_id]
        tree = GroupTree(await load_groups(session))
        transitions = (await session.execute(history)).all()
    base = _row(receiver, tree, health_from_row(receiver_id, row.registered_at, row))
    return ReceiverDetail(
        receiver=receiver,
        village=base.village,
        commune=base.commune,
        province=tree.province_of(receiver),
        groups=tuple(g for g in (tree.get(i) for i in receiver.groups) if g is not None),
        health=base.health,
        transitions=tuple(
            Transition(
                receiver_id,
                t.at,
                health_state(t.from_state),
                health_state(t.to_state),
                t.cause,
                t.epoch,
            )
            for t in transitions
        ),
        registered_at=row.registered_at,
        updated_at=row.registry_updated_at,
    )
