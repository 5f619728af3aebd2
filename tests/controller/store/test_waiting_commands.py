"""Maintenance commands waiting for their receivers (`waiting_commands`), on SQLite and
PostgreSQL: the latest of each kind is kept, sent ones are forgotten, expired ones go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from controller.store import Store
from controller.store.schema import receivers
from controller.store.waiting_commands import (
    WaitingCommand,
    forget_waiting,
    keep_waiting,
    load_waiting,
)
from tests.controller.store.test_samples import registered

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def volume(receiver_id: str, level: int, asked: datetime = NOW) -> WaitingCommand:
    return WaitingCommand(receiver_id, "volume", {"volume": level}, asked, asked + DAY)


async def test_the_latest_of_each_kind_waits_until_forgotten_or_expired(store: Store) -> None:
    await registered(store, "r-1", "r-2")
    restart = WaitingCommand(
        "r-1", "restart", {"reason": "hỏng tiếng"}, NOW, NOW + timedelta(minutes=10)
    )
    await keep_waiting(store, volume("r-1", 30))
    await keep_waiting(store, restart)
    await keep_waiting(store, volume("r-1", 60, NOW + timedelta(minutes=1)))  # replaces 30
    await keep_waiting(store, volume("r-2", 10))
    assert await load_waiting(store, NOW) == [
        restart,
        volume("r-1", 60, NOW + timedelta(minutes=1)),
        volume("r-2", 10),
    ]

    await forget_waiting(store, "r-1", ["volume"])
    await forget_waiting(store, "r-2", [])  # nothing to forget: nothing changes
    assert await load_waiting(store, NOW) == [restart, volume("r-2", 10)]

    # Eleven minutes on, the restart has expired: it is removed, not returned.
    assert await load_waiting(store, NOW + timedelta(minutes=11)) == [volume("r-2", 10)]
    assert await load_waiting(store, NOW) == [volume("r-2", 10)]


async def test_a_receiver_removed_takes_its_waiting_commands_along(store: Store) -> None:
    await registered(store, "r-1", "r-2")
    await keep_waiting(store, volume("r-1", 30))
    await keep_waiting(store, volume("r-2", 40))
    async with store.write() as session:
        await session.execute(delete(receivers).where(receivers.c.id == "r-1"))
    assert await load_waiting(store, NOW) == [volume("r-2", 40)]
