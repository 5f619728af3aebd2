"""Maintenance commands waiting for a receiver to come back (`waiting_commands`).

`controller.maintenance` keeps here the latest command of each kind (`volume`,
`restart`) asked for a receiver that was not online, so a controller restart does not
lose it: `keep_waiting` replaces the receiver's waiting command of that kind,
`forget_waiting` drops the ones sent (or overtaken by one sent at once), and
`load_waiting` returns those still valid, removing the expired. A receiver removed from
the registry takes its waiting commands with it (the foreign key cascades).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select

from controller.store.schema import waiting_commands
from controller.store.store import Store


@dataclass(frozen=True)
class WaitingCommand:
    """A command for `receiver_id` of `kind`, its body's `fields`, asked at `asked_at`,
    worth sending until `expires_at`."""

    receiver_id: str
    kind: str
    fields: dict[str, Any]
    asked_at: datetime
    expires_at: datetime


async def keep_waiting(store: Store, command: WaitingCommand) -> None:
    """Keep `command`, in place of the receiver's waiting command of the same kind."""
    async with store.write() as session:
        await session.execute(_where(command.receiver_id, [command.kind]))
        await session.execute(
            insert(waiting_commands).values(
                receiver_id=command.receiver_id,
                kind=command.kind,
                fields=json.dumps(command.fields, sort_keys=True),
                asked_at=command.asked_at,
                expires_at=command.expires_at,
            )
        )


async def forget_waiting(store: Store, receiver_id: str, kinds: Sequence[str]) -> None:
    """Drop the receiver's waiting commands of `kinds` (sent, or no longer wanted)."""
    if kinds:
        async with store.write() as session:
            await session.execute(_where(receiver_id, kinds))


async def load_waiting(store: Store, now: datetime) -> list[WaitingCommand]:
    """The waiting commands still valid at `now` (by receiver and kind); the expired are
    removed."""
    async with store.write() as session:
        await session.execute(delete(waiting_commands).where(waiting_commands.c.expires_at <= now))
        rows = (
            await session.execute(
                select(waiting_commands).order_by(
                    waiting_commands.c.receiver_id, waiting_commands.c.kind
                )
            )
        ).all()
    return [
        WaitingCommand(
            row.receiver_id, row.kind, json.loads(row.fields), row.asked_at, row.expires_at
        )
        for row in rows
    ]


def _where(receiver_id: str, kinds: Sequence[str]) -> Any:
    return delete(waiting_commands).where(
        and_(
            waiting_commands.c.receiver_id == receiver_id,
            waiting_commands.c.kind.in_(list(kinds)),
        )
    )
