"""Session epochs, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from controller.store import Store, next_epoch

NOW = datetime(2025, 3, 1, 6, 30, tzinfo=UTC)


async def test_epochs_start_at_one_and_count_up_per_controller(store: Store) -> None:
    assert [await next_epoch(store, "ctl-1", NOW) for _ in range(3)] == [1, 2, 3]
    assert await next_epoch(store, "ctl-2", NOW) == 1
    assert await next_epoch(store, "ctl-1", NOW) == 4


async def test_concurrent_calls_get_distinct_consecutive_epochs(store: Store) -> None:
    epochs = await asyncio.gather(*(next_epoch(store, "ctl-1", NOW) for _ in range(20)))
    assert sorted(epochs) == list(range(1, 21))


async def test_two_stores_on_one_database_never_hand_out_the_same_epoch(store_url: str) -> None:
    async with await Store.open(store_url) as first, await Store.open(store_url) as second:
        await first.upgrade()
        calls = [next_epoch(s, "ctl-1", NOW) for _ in range(10) for s in (first, second)]
        epochs = await asyncio.gather(*calls)
    assert sorted(epochs) == list(range(1, 21))


async def test_epochs_keep_counting_after_a_restart(store_url: str) -> None:
    async with await Store.open(store_url) as store:
        await store.upgrade()
        assert [await next_epoch(store, "ctl-1", NOW) for _ in range(3)] == [1, 2, 3]

    async with await Store.open(store_url) as store:
        # An earlier clock (e.g. after an NTP step back) must not reset the count.
        assert await next_epoch(store, "ctl-1", NOW - timedelta(days=1)) == 4


async def test_a_naive_instant_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await next_epoch(store, "ctl-1", datetime(2025, 3, 1))  # noqa: DTZ001
    assert await next_epoch(store, "ctl-1", NOW) == 1
