"""Schedules in the store (`loa schedule apply` and friends), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from controller.store import Store
from controller.store.contents import save_content
from controller.store.registry import import_registry
from controller.store.schedules import (
    ScheduleChange,
    ScheduleCheckError,
    ScheduleExistsError,
    ScheduleStoreError,
    UnknownScheduleError,
    apply_schedules,
    delete_schedule,
    get_schedule,
    list_schedules,
    schedule_from_dict,
    schedule_to_dict,
    set_enabled,
)
from devices.registry import read_registry
from schedules.cron import Cron
from schedules.model import Schedule
from schedules.recurrence import Daily, MonthlyNth, Once, Recurrence, Weekly
from schedules.when import When
from tests.controller.store.test_contents import row
from tests.devices.registry.support import EXAMPLE_YAML

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
LATER = AT + timedelta(hours=1)
#: The stored contents `daily` names by prefix (and a third sharing 6 characters with VI).
VI = "3fa2b1c9d0" + "1" * 54
TAY = "77aa01bc5f" + "2" * 54
VI_TWIN = "3fa2b1" + "3" * 58


@pytest.fixture
async def store(store: Store) -> Store:
    """The migrated store with the example registry (commune `tra-linh`) and three contents:
    `apply_schedules` checks targets and contents against them."""
    return await prepared(store)


async def prepared(store: Store) -> Store:
    registry = read_registry(EXAMPLE_YAML)
    await import_registry(store, registry.groups, registry.receivers, dry_run=False, at=AT)
    async with store.write() as session:
        for content_id in (VI, TAY, VI_TWIN):
            await save_content(session, row(content_id, id=content_id))
    return store


def daily(schedule_id: str, **changes: object) -> Schedule:
    base = Schedule(
        id=schedule_id,
        title=f"Chương trình {schedule_id}",
        when=When(Daily((time(6), time(17))), date(2026, 12, 1)),
        targets="tra-linh",
        contents=(("vi", "3fa2b1c9d0"), ("tay", "77aa01bc5f")),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def full(schedule: Schedule) -> Schedule:
    """`schedule` as stored: its content id prefixes replaced by the full ids they name."""
    ids = {"3fa2b1c9d0": VI, "77aa01bc5f": TAY}
    contents = tuple((language, ids[given]) for language, given in schedule.contents)
    return dataclasses.replace(schedule, contents=contents)


def test_every_kind_goes_to_a_dict_and_back_unchanged() -> None:
    window = {"start": date(2026, 12, 1), "until": date(2026, 12, 14), "zone": "Europe/Prague"}
    recurrences: list[Recurrence] = [
        Once(date(2026, 12, 3), time(19, 0, 30)),
        Daily((time(6),)),
        Weekly((0, 3), (time(7, 30),)),
        MonthlyNth(-1, 1, (time(8),)),
        Cron("30 6 * * 1-5"),
    ]
    for recurrence in recurrences:
        schedule = daily(
            "x",
            when=When(recurrence, exceptions=frozenset({date(2026, 12, 7)}), **window),  # type: ignore[arg-type]
            text=(("hmn", "Nyob zoo"),),
            contents=(),
            priority="priority",
            duration_s=600,
            volume=80,
            enabled=False,
        )
        assert schedule_from_dict(schedule_to_dict(schedule)) == schedule, recurrence.kind


async def test_apply_twice_changes_nothing_the_second_time(store: Store) -> None:
    first = await apply_schedules(
        store, [daily("sang"), daily("cho")], source="/s", dry_run=False, at=AT
    )
    assert first.changes == (ScheduleChange("sang", "added"), ScheduleChange("cho", "added"))
    again = await apply_schedules(
        store, [daily("sang"), daily("cho")], source="/s", dry_run=False, at=LATER
    )
    assert again.changes == ()
    assert again.unchanged == ("sang", "cho")
    stored = await list_schedules(store)
    assert [s.schedule for s in stored] == [full(daily("cho")), full(daily("sang"))]
    assert {s.updated_at for s in stored} == {AT}, "an unchanged schedule is not rewritten"


async def test_an_edit_shows_the_fields_that_changed(store: Store) -> None:
    await apply_schedules(store, [daily("sang")], source="/s", dry_run=False, at=AT)
    edited = daily(
        "sang",
        priority="priority",
        when=When(Daily((time(6, 30),)), date(2026, 12, 1)),
        contents=(("tay", "77aa01bc5f"), ("vi", "3fa2b1c9d0")),  # the default language changes
    )
    result = await apply_schedules(store, [edited], source="/other", dry_run=False, at=LATER)
    assert result.changes == (
        ScheduleChange("sang", "updated", ("when", "contents", "priority", "source")),
    )
    stored = await get_schedule(store, "sang")
    assert stored.schedule == full(edited)
    assert stored.schedule.default_language == "tay"
    assert (stored.source, stored.created_at, stored.updated_at) == ("/other", AT, LATER)


async def test_dry_run_writes_nothing(store: Store) -> None:
    await apply_schedules(store, [daily("sang")], source="/s", dry_run=False, at=AT)
    result = await apply_schedules(
        store, [daily("sang", title="Mới"), daily("cho")], source="/s", dry_run=True, at=LATER
    )
    assert result.dry_run
    assert result.changes == (
        ScheduleChange("sang", "updated", ("title",)),
        ScheduleChange("cho", "added"),
    )
    assert [s.schedule for s in await list_schedules(store)] == [full(daily("sang"))]


async def test_prune_removes_only_what_the_same_source_no_longer_holds(store: Store) -> None:
    await apply_schedules(store, [daily("a"), daily("b")], source="/s", dry_run=False, at=AT)
    await apply_schedules(store, [daily("c")], source="cli", dry_run=False, at=AT)
    kept = await apply_schedules(store, [daily("a")], source="/s", dry_run=False, at=LATER)
    assert kept.changes == ()
    assert kept.not_in_files == ("b", "c"), "without --prune: reported, kept"
    dry = await apply_schedules(
        store, [daily("a")], source="/s", dry_run=True, at=LATER, prune=True
    )
    assert dry.changes == (ScheduleChange("b", "removed"),)
    assert len(await list_schedules(store)) == 3
    pruned = await apply_schedules(
        store, [daily("a")], source="/s", dry_run=False, at=LATER, prune=True
    )
    assert pruned.ids("removed") == ["b"]
    assert pruned.not_in_files == ("c",)
    assert [s.schedule.id for s in await list_schedules(store)] == ["a", "c"]


async def test_pause_resume_and_delete(store: Store) -> None:
    await apply_schedules(store, [daily("sang")], source="/s", dry_run=False, at=AT)
    assert await set_enabled(store, "sang", False, LATER) is True
    assert (await get_schedule(store, "sang")).schedule.enabled is False
    assert await set_enabled(store, "sang", False, LATER) is False, "pausing twice is harmless"
    again = await apply_schedules(store, [daily("sang")], source="/s", dry_run=True, at=LATER)
    assert again.changes == (ScheduleChange("sang", "updated", ("enabled",)),), "files win"
    assert await set_enabled(store, "sang", True, LATER) is False
    assert (await get_schedule(store, "sang")).schedule.enabled is True
    removed = await delete_schedule(store, "sang")
    assert removed.schedule == full(daily("sang"))
    assert await list_schedules(store) == []


async def test_an_unknown_id_suggests_a_close_one(store: Store) -> None:
    with pytest.raises(UnknownScheduleError, match="none is stored yet"):
        await get_schedule(store, "sang")
    await apply_schedules(store, [daily("sang-chieu")], source="/s", dry_run=False, at=AT)
    for call in (
        get_schedule(store, "sang-cheiu"),
        set_enabled(store, "sang-cheiu", False, AT),
        delete_schedule(store, "sang-cheiu"),
    ):
        with pytest.raises(UnknownScheduleError, match="did you mean 'sang-chieu'"):
            await call
    assert len(await list_schedules(store)) == 1


async def test_repeated_ids_apply_nothing(store: Store) -> None:
    with pytest.raises(ScheduleStoreError, match="more than once"):
        await apply_schedules(store, [daily("a"), daily("a")], source="/s", dry_run=False, at=AT)
    assert await list_schedules(store) == []


async def test_new_only_refuses_a_stored_id_and_the_loser_of_a_race(store: Store) -> None:
    await apply_schedules(store, [daily("sang")], source="/s", dry_run=False, at=AT)
    with pytest.raises(ScheduleExistsError, match=r"'sang' exists \(from /s\)") as stored:
        await apply_schedules(
            store,
            [daily("chieu"), daily("sang")],
            source="api",
            dry_run=False,
            at=LATER,
            new_only=True,
        )
    assert stored.value.schedule_id == "sang"
    assert [s.schedule.id for s in await list_schedules(store)] == ["sang"]

    # Two writers adding the same id at once: one adds it, the other is told it exists
    # (on PostgreSQL the loser may already have read the table before the winner wrote).
    async def add(title: str) -> str:
        schedule = daily("trua", title=title)
        try:
            await apply_schedules(
                store, [schedule], source="api", dry_run=False, at=LATER, new_only=True
            )
        except ScheduleExistsError:
            return "exists"
        return "added"

    results = await asyncio.gather(add("một"), add("hai"), add("ba"))
    assert sorted(results) == ["added", "exists", "exists"]
    kept = (await get_schedule(store, "trua")).schedule.title
    assert kept == ["một", "hai", "ba"][results.index("added")]


@dataclasses.dataclass
class _Verdict:
    approvals: dict[str, str]
    clash_lines: tuple[str, ...] = ()


@dataclasses.dataclass
class _AddsMeanwhile:
    """Rules that, while judging, let another writer add the same schedule and commit."""

    store: Store

    async def check(
        self, session: AsyncSession, changed: Sequence[Schedule], now: datetime
    ) -> _Verdict:
        for schedule in changed:
            await apply_schedules(self.store, [schedule], source="other", dry_run=False, at=now)
        return _Verdict({s.id: "none" for s in changed})


async def test_an_id_added_by_another_writer_meanwhile_is_refused_on_postgresql(
    postgres_url: str,
) -> None:
    """PostgreSQL runs writers side by side: the insert itself finds the other's row."""
    async with await Store.open(postgres_url) as store:
        await store.upgrade()
        await prepared(store)
        with pytest.raises(ScheduleExistsError, match="'trua' exists by someone else"):
            await apply_schedules(
                store,
                [daily("trua")],
                source="api",
                dry_run=False,
                at=AT,
                rules=_AddsMeanwhile(store),
                new_only=True,
            )
        assert (await get_schedule(store, "trua")).source == "other"


async def test_apply_stores_full_content_ids_and_reapplying_prefixes_changes_nothing(
    store: Store,
) -> None:
    await apply_schedules(store, [daily("sang")], source="/s", dry_run=False, at=AT)
    stored = await get_schedule(store, "sang")
    assert stored.schedule.contents == (("vi", VI), ("tay", TAY))
    again = await apply_schedules(store, [daily("sang")], source="/s", dry_run=False, at=LATER)
    assert again.unchanged == ("sang",), "the prefixes still name the same contents"


async def test_every_target_and_content_problem_of_every_schedule_applies_nothing(
    store: Store,
) -> None:
    bad = [
        daily("ok"),
        daily("cho", targets="tra-linh, ban-khong, rx-khong"),
        daily("hop", contents=(("vi", "3fa2b1"), ("tay", "abcdef0123"))),
        daily("tiem", targets="all", contents=(), text=(("vi", "Tiêm chủng"),)),
    ]
    for dry_run in (True, False):
        with pytest.raises(ScheduleCheckError) as caught:
            await apply_schedules(store, bad, source="/s", dry_run=dry_run, at=AT)
        problems = caught.value.problems
        assert [p.split(":")[0] for p in problems] == [
            "schedule 'cho'",
            "schedule 'cho'",
            "schedule 'hop'",
            "schedule 'hop'",
        ]
        assert "'ban-khong' is neither a registered receiver nor a group" in problems[0]
        assert "'rx-khong'" in problems[1]
        assert "contents.vi: 2 audio contents have ids starting '3fa2b1'" in problems[2]
        assert "contents.tay: no audio content has an id starting 'abcdef0123'" in problems[3]
        assert str(caught.value).endswith("nothing was applied")
    assert await list_schedules(store) == []


async def test_targets_naming_no_registered_receiver_are_an_error(store_url: str) -> None:
    async with await Store.open(store_url) as empty:
        await empty.upgrade()
        spoken = daily("tiem", targets="all", contents=(), text=(("vi", "Tiêm chủng"),))
        with pytest.raises(ScheduleCheckError, match="'all' names no registered receiver"):
            await apply_schedules(empty, [spoken], source="/s", dry_run=False, at=AT)
        assert await list_schedules(empty) == []
