"""A store write whose caller is cancelled still finishes, and frees the store for the next."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from controller.store import Store, list_events, record_event
from controller.store.shield import complete

NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


async def test_a_cancelled_callers_write_completes_and_the_next_write_is_not_blocked(
    store: Store,
) -> None:
    started = asyncio.Event()

    async def caller() -> None:
        started.set()
        await complete(record_event(store, "ctl", "broker_connected", {"epoch": 1}, NOW))

    task = asyncio.create_task(caller())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(2):
        await record_event(store, "ctl", "stop", None, NOW)
    kinds = sorted(event.kind for event in await list_events(store))
    assert kinds == ["broker_connected", "stop"]


async def test_the_writes_own_error_reaches_a_caller_that_was_not_cancelled(
    store: Store,
) -> None:
    with pytest.raises(ValueError, match="naive"):
        await complete(record_event(store, "ctl", "start", None, datetime(2026, 1, 1)))  # noqa: DTZ001
