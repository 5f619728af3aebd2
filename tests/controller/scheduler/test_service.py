"""The scheduler in `loa serve`: stored schedules fire occurrences, once each, on SQLite and
PostgreSQL; late air times are sent within the grace, older ones recorded missed."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from controller.cli.bulletin_view import status_text
from controller.config.model import SchedulesConfig
from controller.delivery.status import occurrence_report
from controller.scheduler.service import SchedulerService
from controller.store import Store
from controller.store.contents import save_content
from controller.store.fires import occurrence_id
from controller.store.registry import import_registry
from controller.store.schedules import apply_schedules, set_enabled
from controller.store.schema import schedule_jobs
from devices.registry import read_registry
from loa.clock import SystemClock
from schedules.model import Schedule
from schedules.recurrence import Daily, Once
from schedules.when import When
from tests.controller.store.test_contents import row
from tests.devices.registry.support import EXAMPLE_YAML
from tests.integration.schedule_support import stored_occurrences as stored

VI = "3fa2b1c9d0" + "1" * 54
NO_QUIET = SchedulesConfig(quiet_hours="none", sync_s=0.2, grace_s=600, late_start_s=30)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with await Store.open(store_url) as opened:
        await opened.upgrade()
        registry = read_registry(EXAMPLE_YAML)
        at = datetime.now(UTC) - timedelta(days=2)
        await import_registry(opened, registry.groups, registry.receivers, dry_run=False, at=at)
        async with opened.write() as session:
            await save_content(session, row(VI, id=VI))
        yield opened


def schedule(schedule_id: str, when: When, **changes: object) -> Schedule:
    base = Schedule(
        id=schedule_id, title="Tin sáng", when=when, targets="tra-linh", contents=(("vi", VI),)
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


class Running:
    """A scheduler service running as a task, counting its wake-ups of the delivery."""

    def __init__(self, store: Store, config: SchedulesConfig = NO_QUIET) -> None:
        self.woken = 0
        self.service = SchedulerService(
            store,
            clock=SystemClock(),
            config=config,
            time_zone="Asia/Ho_Chi_Minh",
            speak=None,
            on_fired=self._woken,
        )
        self.task: asyncio.Task[None] | None = None

    def _woken(self) -> None:
        self.woken += 1

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.service.run())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def wait_for(check: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await check():  # type: ignore[operator]
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def in_utc(instant: datetime) -> When:
    """A `once` at `instant` (seconds kept), in UTC so no zone rounding is involved."""
    return When(
        Once(instant.date(), instant.time().replace(microsecond=0)), instant.date(), zone="UTC"
    )


async def test_a_once_fires_its_lead_before_air_time_and_only_once(store: Store) -> None:
    air = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    item = schedule("hop-thon", in_utc(air), lead_s=1)
    await apply_schedules(store, [item], source="test", dry_run=False, at=datetime.now(UTC))
    async with Running(store) as running:
        await wait_for(lambda: _has(store, "hop-thon", 1))
        fired_at = datetime.now(UTC)
        await asyncio.sleep(1.5)
    found = await stored(store, "hop-thon")
    assert len(found) == 1
    only = found[0]
    assert only["id"] == occurrence_id("hop-thon", air)
    assert only["state"] == "scheduled"
    assert only["planned_at"] == air
    assert only["play_at"] == air
    assert only["expires_at"] == air + timedelta(seconds=3600)
    assert air - timedelta(seconds=1.5) <= fired_at <= air
    assert only["dispatch_at"] is not None
    assert running.woken == 1


async def _has(store: Store, schedule_id: str, count: int) -> bool:
    return len(await stored(store, schedule_id)) >= count


async def test_after_a_restart_late_air_times_are_sent_within_the_grace_and_older_missed(
    store: Store,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    long_ago, lately, soon = (
        now - timedelta(minutes=20),
        now - timedelta(minutes=5),
        now + timedelta(minutes=5),
    )
    times = tuple(sorted({t.time() for t in (long_ago, lately, soon)}))
    when = When(Daily(times), (now - timedelta(days=1)).date(), zone="UTC")
    item = schedule("tin-sang", when, lead_s=900)
    # Applied half an hour ago, while the controller was down: it counts air times from then.
    await apply_schedules(
        store, [item], source="test", dry_run=False, at=now - timedelta(minutes=30)
    )
    async with Running(store):
        await wait_for(lambda: _has(store, "tin-sang", 3))
    found = {r["planned_at"]: r for r in await stored(store, "tin-sang")}
    assert set(found) == {long_ago, lately, soon}
    assert found[long_ago]["state"] == "missed"
    assert "more than the grace of 10 min" in str(found[long_ago]["reason"])
    # `loa bulletin status` of a missed air time: ended (--watch stops), with its reason
    report = await occurrence_report(store, str(found[long_ago]["id"]))
    assert report.finished
    text = status_text(report, "UTC")
    assert "fired by schedule tin-sang for" in text
    assert "more than the grace of 10 min" in text
    assert found[lately]["state"] == "scheduled"
    assert "late" in str(found[lately]["reason"])
    late_play = found[lately]["play_at"]
    assert isinstance(late_play, datetime)
    assert now + timedelta(seconds=25) <= late_play <= now + timedelta(seconds=60)
    assert found[soon]["state"] == "scheduled"
    assert found[soon]["play_at"] == soon
    async with store.read() as session:
        handled: datetime = (
            await session.execute(select(schedule_jobs.c.handled_through))
        ).scalar_one()
    assert handled == soon


async def test_a_crash_before_the_restart_point_was_saved_fires_nothing_twice(
    store: Store,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    air = now + timedelta(minutes=3)
    item = schedule("bao-tin", in_utc(air), lead_s=900)
    await apply_schedules(store, [item], source="test", dry_run=False, at=now)
    async with Running(store):
        await wait_for(lambda: _has(store, "bao-tin", 1))
    # As if the controller died between writing the occurrence and its restart point.
    async with store.write() as session:
        await session.execute(update(schedule_jobs).values(handled_through=None))
    async with Running(store) as again:
        await wait_for(lambda: _fired(again, 1))  # fired again: the store added nothing
        assert again.woken == 0
    assert len(await stored(store, "bao-tin")) == 1


async def test_a_paused_schedule_has_no_job_and_resumes_from_the_resume(store: Store) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    when = When(Daily((time(23, 59),)), date(2026, 1, 1), zone="UTC")
    await apply_schedules(store, [schedule("nhac", when)], source="test", dry_run=False, at=now)
    async with Running(store) as running:
        await wait_for(lambda: _jobs(running, ["nhac"]))
        await set_enabled(store, "nhac", False, datetime.now(UTC))
        running.service.wake()
        await wait_for(lambda: _jobs(running, []))
        async with store.read() as session:
            assert (await session.execute(select(schedule_jobs))).all() == []
        await set_enabled(store, "nhac", True, datetime.now(UTC))
        running.service.wake()
        await wait_for(lambda: _jobs(running, ["nhac"]))


async def _fired(running: Running, count: int) -> bool:
    return running.service.fired >= count


async def _jobs(running: Running, ids: list[str]) -> bool:
    return running.service.job_ids() == ids
