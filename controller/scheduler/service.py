"""The scheduler inside `loa serve`: stored schedules fire occurrences at their lead time.

APScheduler 3 (`AsyncIOScheduler`) keeps the clock: one job per active schedule, its
trigger `AirTimeTrigger` (fire = air time minus the schedule's lead). Its own job stores
are not used for persistence: they pickle code into the database and run blocking SQL in
the event loop (an SQLite write lock held by a delivery write would stall the controller
for seconds), and after a crash they are known to fire twice or to drop late jobs. Jobs
live in APScheduler's memory store and are rebuilt from Loa's tables at start:

- `schedules` (what operators applied, paused, approved) is read every `sync_s` and the
  jobs follow it: a schedule paused, waiting for approval or deleted has no job.
- `schedule_jobs` (`controller.store.fires`) is the persistent job state: the revision a
  job was built from, its contents ready to play (text read aloud when the job is built,
  so a fire never waits for speech synthesis), `since` (when it began counting air
  times) and `handled_through` (the last air time whose fire is stored, moved in the same
  transaction as the occurrences). A restarted controller starts each job at the first
  air time after `handled_through`; APScheduler then lists every fire time passed
  meanwhile as due, and `decide` sends each late one or records it `missed`.
- `occurrences` is the record of what fired: one per schedule and planned air time
  (`occurrence_id`), so a second fire of the same air time adds nothing.

Each fire writes its occurrences and wakes the delivery engine (`on_fired`), which sends
them at once (`dispatch_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select

from controller.config.model import SchedulesConfig
from controller.delivery.plan import TargetError, parse_targets, resolve
from controller.scheduler.decide import FireRules, decide
from controller.scheduler.quiet_rules import CommuneQuiet
from controller.store import Store, record_event
from controller.store.fires import (
    FireRow,
    JobRow,
    delete_jobs,
    load_job,
    load_jobs,
    mark_handled,
    record_fires,
    revision,
    save_job,
)
from controller.store.registry_rows import (
    ReceiversSignature,
    load_groups,
    load_receivers,
    receivers_signature,
)
from controller.store.schedules import schedule_from_dict
from controller.store.schema import schedules as schedules_table
from controller.store.shield import complete
from devices.registry import GroupTree, Receiver
from loa.clock import Clock
from schedules.model import Schedule
from schedules.trigger import AirTimeTrigger

log = logging.getLogger(__name__)

#: Job rows built in one sync are written this many to a transaction.
SAVE_BATCH = 500
#: A schedule whose text could not be read aloud is tried again this often.
PREPARE_RETRY_S = 60.0

#: Makes the content of a text read aloud: (text, language, title, schedule id) -> content id.
Speak = Callable[[str, str, str, str], Awaitable[str]]


class _FireExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler 3 is untyped
    """Runs a due job's coroutine with the job's trigger and every run time it is due for.

    APScheduler's own executors call the job once per run time and drop those older than
    the misfire grace themselves; the scheduler needs them all, to send or record each.
    """

    def __init__(self, tasks: set[asyncio.Task[None]]) -> None:
        super().__init__()
        self._tasks = tasks

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        coroutine = job.func(
            *job.args, **job.kwargs, trigger=job.trigger, run_times=list(run_times)
        )
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            coroutine, name=f"fire-{job.id}"
        )
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if finished.cancelled():
                return
            error = finished.exception()
            if error is not None:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, [])

        task.add_done_callback(done)


class SchedulerService:
    """Keeps APScheduler's jobs in step with the stored schedules and fires them."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        config: SchedulesConfig,
        time_zone: str,
        speak: Speak | None,
        on_fired: Callable[[], None],
    ) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._zone = ZoneInfo(time_zone)
        self._speak = speak
        self._on_fired = on_fired
        self._rules = FireRules(
            grace=timedelta(seconds=config.grace_s),
            late_start=timedelta(seconds=config.late_start_s),
            zone=self._zone,
        )
        self._quiet = CommuneQuiet(config)
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduler: Any = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        #: the schedules' (count, latest update, latest approval) when last followed
        self._seen: tuple[Any, ...] | None = None
        self._signature: ReceiversSignature | None = None
        self._tree = GroupTree([])
        self._receivers: dict[str, Receiver] = {}
        #: schedule id -> (why its text cannot be read aloud, when to try again)
        self._not_ready: dict[str, tuple[str, float]] = {}
        self.fired = 0
        self.missed = 0

    def wake(self) -> None:
        """Look at the stored schedules now rather than at the next `sync_s`."""
        self._wake.set()

    def job_ids(self) -> list[str]:
        """The schedules that have a job now (for tests and `loa status`)."""
        return sorted(job.id for job in self._scheduler.get_jobs()) if self._scheduler else []

    def next_fire(self, schedule_id: str) -> datetime | None:
        job = self._scheduler.get_job(schedule_id) if self._scheduler else None
        return None if job is None else job.next_run_time

    async def run(self) -> None:
        self._scheduler = AsyncIOScheduler(
            event_loop=asyncio.get_running_loop(),
            timezone=UTC,
            jobstores={"default": MemoryJobStore()},
            executors={"default": _FireExecutor(self._tasks)},
            job_defaults={"coalesce": False, "max_instances": 1000, "misfire_grace_time": None},
        )
        self._scheduler.start()
        try:
            while True:
                try:
                    await self.sync()
                except Exception:
                    log.exception("scheduler: reading the stored schedules failed; retrying")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._config.sync_s)
        finally:
            self._scheduler.shutdown(wait=False)
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=2.0)

    # --- Keeping the jobs in step with the store -------------------------------------------

    async def sync(self) -> None:
        """Add, rebuild and remove jobs so that each active schedule has one.

        Not under the fire lock: reading text aloud for a new schedule must not hold up
        another's fire. A fire checks in its own transaction that its job's revision is
        still the stored one, and the job rows a sync writes are per schedule.
        """
        async with self._store.read() as session:
            changes = (
                await session.execute(
                    select(
                        func.count(),
                        func.max(schedules_table.c.updated_at),
                        func.max(schedules_table.c.approved_at),
                    )
                )
            ).one()
            signature = await receivers_signature(session)
            if signature != self._signature:
                self._tree = GroupTree(await load_groups(session))
                self._receivers = await load_receivers(session)
                self._signature = signature
            retry = any(at <= self._clock.monotonic() for _, at in self._not_ready.values())
            if tuple(changes) == self._seen and not retry:
                return
            rows = (
                await session.execute(
                    select(
                        schedules_table.c.id,
                        schedules_table.c.definition,
                        schedules_table.c.enabled,
                        schedules_table.c.approval,
                        schedules_table.c.updated_at,
                        schedules_table.c.approved_at,
                    ).order_by(schedules_table.c.id)
                )
            ).all()
            jobs = await load_jobs(session)
        await self._follow(rows, jobs)
        self._seen = tuple(changes)

    async def _follow(self, rows: Sequence[Any], jobs: dict[str, JobRow]) -> None:
        now = self._clock.now()
        stale: list[str] = []
        wanted: set[str] = set()
        built: list[tuple[Schedule, JobRow]] = []
        for row in rows:
            active = bool(row.enabled) and row.approval != "pending"
            if not active:
                stale.append(row.id)
                continue
            wanted.add(row.id)
            schedule = schedule_from_dict(
                {**json.loads(row.definition), "id": row.id, "enabled": True}
            )
            rev = revision(row.definition)
            job = jobs.get(row.id)
            if job is None or job.revision != rev:
                contents = await self._contents(schedule)
                if contents is None:
                    continue
                since = max(row.updated_at, row.approved_at or row.updated_at)
                job = JobRow(row.id, rev, contents, since, None, now)
                built.append((schedule, job))
                if len(built) >= SAVE_BATCH:
                    await self._save(built)
                    built = []
                continue
            self._schedule(schedule, job)
        await self._save(built)
        stale.extend(sorted(jobs.keys() - wanted - set(stale)))
        for schedule_id in stale:
            if self._scheduler.get_job(schedule_id) is not None:
                self._scheduler.remove_job(schedule_id)
        gone = [i for i in stale if i in jobs]
        if gone:
            async with self._store.write() as session:
                await delete_jobs(session, gone)

    async def _save(self, built: Sequence[tuple[Schedule, JobRow]]) -> None:
        """Write new job rows in one transaction, then give their schedules jobs."""
        if not built:
            return
        async with self._store.write() as session:
            for _, job in built:
                await save_job(session, job)
        for schedule, job in built:
            self._schedule(schedule, job)

    def _schedule(self, schedule: Schedule, job: JobRow) -> None:
        """Give `schedule` its APScheduler job, built from `job` (kept if already built)."""
        current = self._scheduler.get_job(schedule.id)
        if current is not None and current.kwargs.get("revision") == job.revision:
            return
        trigger = AirTimeTrigger(schedule.when, timedelta(seconds=schedule.lead_s))
        first = trigger.first_fire(job.handled_through or job.since)
        if first is None:  # every air time is behind it: a `once` that fired, an `until` passed
            if current is not None:
                self._scheduler.remove_job(schedule.id)
            return
        self._scheduler.add_job(
            self._fire,
            trigger=trigger,
            args=(schedule.id,),
            kwargs={"revision": job.revision},
            id=schedule.id,
            name=schedule.title,
            next_run_time=first,
            replace_existing=True,
        )
        log.info(
            "schedule %s: next air time %s",
            schedule.id,
            trigger.air_time(first).astimezone(self._zone).strftime("%Y-%m-%d %H:%M %Z"),
        )

    async def _contents(self, schedule: Schedule) -> dict[str, str] | None:
        """Language -> content id for every language, text read aloud; None if not ready."""
        contents = dict(schedule.contents)
        waiting = self._not_ready.get(schedule.id)
        if waiting is not None and waiting[1] > self._clock.monotonic():
            return None
        try:
            for language, text in schedule.text:
                if self._speak is None:
                    raise RuntimeError("text-to-speech is not available in this controller")
                contents[language] = await self._speak(text, language, schedule.title, schedule.id)
        except Exception as exc:  # noqa: BLE001 - any engine failure: the job waits, tried again
            problem = f"{type(exc).__name__}: {exc}"
            if waiting is None or waiting[0] != problem:
                log.error(
                    "schedule %s cannot be prepared (tried again every %g s): %s",
                    schedule.id,
                    PREPARE_RETRY_S,
                    problem,
                )
            self._not_ready[schedule.id] = (problem, self._clock.monotonic() + PREPARE_RETRY_S)
            return None
        self._not_ready.pop(schedule.id, None)
        return {language: contents[language] for language in schedule.languages}

    # --- Firing ------------------------------------------------------------------------------

    async def _fire(
        self,
        schedule_id: str,
        *,
        revision: str,
        trigger: AirTimeTrigger | None = None,
        run_times: Sequence[datetime] = (),
    ) -> None:
        """Store the occurrences of every air time in `run_times`; wake the delivery.

        `_FireExecutor` passes the job's trigger and run times (the defaults only let
        APScheduler check the call when the job is added).
        """
        if trigger is None or not run_times:
            return
        air_times = [trigger.air_time(run_time) for run_time in run_times]
        async with self._lock:
            outcome = await complete(self._record(schedule_id, revision, air_times))
        if outcome:
            self._on_fired()

    async def _record(self, schedule_id: str, rev: str, air_times: list[datetime]) -> bool:
        now = self._clock.now()
        problem: str | None = None
        new: list[str] = []
        async with self._store.write() as session:
            row = (
                await session.execute(
                    select(schedules_table).where(schedules_table.c.id == schedule_id)
                )
            ).one_or_none()
            job = await load_job(session, schedule_id)
            if row is None or job is None or job.revision != rev:
                log.info("schedule %s changed before its fire; the new job fires", schedule_id)
                return False
            schedule = schedule_from_dict(
                {**json.loads(row.definition), "id": row.id, "enabled": True}
            )
            fires = []
            try:
                targets = parse_targets(schedule.targets, self._tree, self._receivers)
                named = resolve(targets, list(self._receivers.values()), self._tree)
                quiet = self._quiet.reached(named, self._tree)
                fires = [decide(schedule, air, now, self._rules, quiet) for air in air_times]
                async with session.begin_nested():
                    new = await record_fires(
                        session,
                        schedule,
                        schedule_revision=rev,
                        contents=job.contents,
                        targets=targets,
                        fires=fires,
                        now=now,
                    )
            except (TargetError, ValueError) as exc:
                problem = f"targets: {exc}" if isinstance(exc, TargetError) else str(exc)
            await mark_handled(session, schedule_id, air_times[-1], now)
        if problem is not None:
            await self._failed(schedule, air_times, problem, now)
            return False
        self._log_fires(schedule_id, fires, stored=bool(new))
        return bool(new)

    def _log_fires(self, schedule_id: str, fires: Sequence[FireRow], *, stored: bool) -> None:
        for fire in fires:
            local = fire.planned_at.astimezone(self._zone).strftime("%Y-%m-%d %H:%M")
            if fire.state == "missed":
                self.missed += 1
                log.warning("schedule %s, %s: %s", schedule_id, local, fire.reason)
            else:
                self.fired += 1
                log.info(
                    "schedule %s fired for %s%s%s",
                    schedule_id,
                    local,
                    f" ({fire.reason})" if fire.reason else "",
                    "" if stored else " (already fired: nothing added)",
                )

    async def _failed(
        self, schedule: Schedule, air_times: Sequence[datetime], problem: str, now: datetime
    ) -> None:
        """A fire that cannot make an occurrence at all (its targets or audio are gone)."""
        self.missed += len(air_times)
        log.error("schedule %s cannot fire: %s", schedule.id, problem)
        await record_event(
            self._store,
            "scheduler",
            "schedule-fire-failed",
            {
                "schedule": schedule.id,
                "air_times": [t.isoformat() for t in air_times],
                "problem": problem,
            },
            now,
        )
