"""Transactions and identity of a `Store`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from controller.store import Store, list_events, record_event

NOW = datetime(2025, 3, 1, 6, 30, tzinfo=UTC)


async def test_the_store_names_its_backend_and_hides_the_password(
    store: Store, store_url: str
) -> None:
    url = make_url(store_url)
    assert store.dialect == url.get_backend_name()
    assert store.is_sqlite == (url.get_backend_name() == "sqlite")
    if url.password:
        assert str(url.password) not in store.display_url
        assert "***" in store.display_url


async def test_a_failed_write_leaves_no_trace_not_even_a_created_table(store: Store) -> None:
    async def create_fill_and_fail() -> None:
        async with store.write() as session:
            await session.execute(text("CREATE TABLE scratch (x INTEGER)"))
            await session.execute(text("INSERT INTO scratch (x) VALUES (1)"))
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        await create_fill_and_fail()

    async with store.read() as session:
        connection = await session.connection()
        tables = await connection.run_sync(lambda conn: inspect(conn).get_table_names())
    assert "scratch" not in tables
    assert "controller_events" in tables


async def test_a_finished_write_is_seen_by_a_new_store(store: Store, store_url: str) -> None:
    event_id = await record_event(store, "ctl-1", "start", None, NOW)
    async with await Store.open(store_url) as other:
        assert [event.id for event in await list_events(other)] == [event_id]
