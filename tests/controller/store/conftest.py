"""`store`: an open, migrated store on each backend of `store_url` (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from controller.store import Store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with await Store.open(store_url) as opened:
        await opened.upgrade()
        yield opened
