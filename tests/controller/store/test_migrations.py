"""Schema migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from controller.store import Store
from controller.store.schema import metadata


async def test_upgrade_from_empty_reaches_head_and_is_idempotent(store_url: str) -> None:
    head = Store.head_revision()
    async with await Store.open(store_url) as store:
        assert await store.current_revision() is None
        assert await store.upgrade() == (None, head)
        assert await store.current_revision() == head
        assert await store.upgrade() == (head, head)

    async with await Store.open(store_url) as reopened:
        assert await reopened.current_revision() == head
        assert await reopened.upgrade() == (head, head)


async def test_two_stores_upgrading_at_once_both_end_at_head(store_url: str) -> None:
    head = Store.head_revision()
    async with await Store.open(store_url) as first, await Store.open(store_url) as second:
        results = await asyncio.gather(first.upgrade(), second.upgrade())
    assert sorted(results, key=lambda result: result[0] or "") == [(None, head), (head, head)]


async def test_migrated_schema_matches_the_tables_the_code_uses(store_url: str) -> None:
    def differences(conn: Connection) -> list[Any]:
        diff: list[Any] = compare_metadata(MigrationContext.configure(conn), metadata)
        return diff

    async with await Store.open(store_url) as store:
        await store.upgrade()
        async with store.read() as session:
            connection = await session.connection()
            diff = await connection.run_sync(differences)
    assert diff == []
