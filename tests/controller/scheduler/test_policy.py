"""The commune's rules when schedules are applied: quiet hours refused, clashes refused
unless forced, approval by a second person; nothing is written when anything is refused."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import pytest

from controller.config.model import Config, SchedulesConfig
from controller.scheduler.policy import Policy, PolicyError
from controller.store import Store
from controller.store.bulletins import (
    BulletinRow,
    OccurrenceRow,
    Target,
    create_bulletin,
    create_occurrence,
)
from controller.store.contents import save_content
from controller.store.registry import import_registry
from controller.store.schedules import (
    ScheduleStoreError,
    apply_schedules,
    approve_schedule,
    get_schedule,
    list_schedules,
)
from devices.registry import read_registry
from schedules.model import Schedule
from schedules.recurrence import Daily
from schedules.when import When
from tests.controller.store.test_contents import row
from tests.devices.registry.support import EXAMPLE_YAML

VI = "3fa2b1c9d0" + "1" * 54  # 61.44 s of audio (the `row` fixture's duration)
#: An instant well before the air times below, so the horizons see them all.
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with await Store.open(store_url) as opened:
        await opened.upgrade()
        registry = read_registry(EXAMPLE_YAML)
        await import_registry(
            opened, registry.groups, registry.receivers, dry_run=False, at=NOW - timedelta(1)
        )
        async with opened.write() as session:
            await save_content(session, row(VI, id=VI))
        yield opened


def config(**rules: object) -> Config:
    return dataclasses.replace(Config(), schedules=SchedulesConfig(**rules))  # type: ignore[arg-type]


def daily(schedule_id: str, at: time, **changes: object) -> Schedule:
    base = Schedule(
        id=schedule_id,
        title=f"Chương trình {schedule_id}",
        when=When(Daily((at,)), date(2026, 12, 1)),
        targets="tra-linh",
        contents=(("vi", VI),),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


async def apply(
    store: Store, schedules: list[Schedule], rules: Policy, by: str = "lan"
) -> list[str]:
    result = await apply_schedules(
        store, schedules, source="test", dry_run=False, at=NOW, by=by, rules=rules
    )
    return list(result.clashes)


async def test_an_air_time_in_quiet_hours_is_refused_unless_an_emergency(store: Store) -> None:
    late = daily("nhac-dem", time(22, 30))
    with pytest.raises(PolicyError) as refused:
        await apply(store, [late], Policy(config()))
    assert not refused.value.forcible
    assert str(refused.value).splitlines()[0] == (
        "schedule 'nhac-dem': its air time 2026-12-01 22:30 falls in the quiet hours of "
        "Xã Trà Lĩnh (tra-linh) (22:00-05:00); only emergencies may sound then: move it, "
        "or make it an emergency"
    )
    assert await list_schedules(store) == []
    # --force does not override the commune's quiet hours
    with pytest.raises(PolicyError):
        await apply(store, [late], Policy(config(), force=True))
    await apply(store, [dataclasses.replace(late, priority="emergency")], Policy(config()))
    assert [s.schedule.id for s in await list_schedules(store)] == ["nhac-dem"]


async def test_a_commune_sets_its_own_quiet_hours(store: Store) -> None:
    early = daily("tin-som", time(5, 15))
    await apply(store, [early], Policy(config()))  # 05:15 is after the default 05:00
    rules = Policy(config(quiet_hours_by_commune={"tra-linh": "21:00-05:30"}))
    with pytest.raises(
        PolicyError, match=r"quiet hours of Xã Trà Lĩnh \(tra-linh\) \(21:00-05:30\)"
    ):
        await apply(store, [dataclasses.replace(early, title="changed")], rules)


async def test_a_clash_is_refused_with_its_receivers_and_times_and_forced_through(
    store: Store,
) -> None:
    await apply(store, [daily("tin-sang", time(6))], Policy(config()))
    meeting = daily("hop-xom", time(6, 0, 30), targets="na-vuong", priority="priority")
    with pytest.raises(PolicyError) as refused:
        await apply(store, [meeting], Policy(config()))
    assert refused.value.forcible
    text = str(refused.value)
    assert "interrupts" in text
    assert "5 receivers (tl-na-vuong-1, tl-na-vuong-2, tl-na-vuong-3 and 2 more)" in text
    assert "every day from 2026-12-01" in text
    assert text.endswith(
        "nothing was applied; move one of them, or accept the clashes with --force"
    )
    assert [s.schedule.id for s in await list_schedules(store)] == ["tin-sang"]
    accepted = await apply(store, [meeting], Policy(config(), force=True))
    assert len(accepted) == 1
    assert "interrupts" in accepted[0]
    assert {s.schedule.id for s in await list_schedules(store)} == {"tin-sang", "hop-xom"}


async def test_a_planned_one_off_bulletin_is_part_of_the_calendar(store: Store) -> None:
    air = datetime(2026, 12, 3, 0, 0, 20, tzinfo=UTC)  # 07:00:20 in Hà Nội
    async with store.write() as session:
        bulletin = BulletinRow(
            id="b" * 32,
            title="Họp dân",
            priority="normal",
            volume=None,
            repeat=1,
            chime="none",
            created_by="lan",
            created_at=NOW,
        )
        await create_bulletin(session, bulletin, {"vi": VI}, [Target("group", "po-tau")])
        await create_occurrence(
            session,
            OccurrenceRow(
                id="c" * 32,
                bulletin_id="b" * 32,
                play_at=air,
                expires_at=air + timedelta(hours=1),
                created_at=NOW,
            ),
        )
    waits = r"\"Họp dân\" \(normal, 07:00\) share 5 receivers .*: \"Họp dân\" waits 42 s"
    with pytest.raises(PolicyError, match=waits):
        await apply(store, [daily("tin-bay-gio", time(7))], Policy(config()))


async def test_a_schedule_waits_for_a_second_person_and_waits_again_when_changed(
    store: Store,
) -> None:
    rules = Policy(config(approval=("tra-linh",)))
    result = await apply_schedules(
        store,
        [daily("tin-sang", time(6))],
        source="test",
        dry_run=False,
        at=NOW,
        by="lan",
        rules=rules,
    )
    assert result.pending == ("tin-sang",)
    stored = await get_schedule(store, "tin-sang")
    assert (stored.approval, stored.created_by) == ("pending", "lan")
    with pytest.raises(ScheduleStoreError, match="written by 'lan'; a second person"):
        await approve_schedule(store, "tin-sang", "Lan ", NOW)
    approved = await approve_schedule(store, "tin-sang", "minh", NOW)
    assert (approved.approval, approved.approved_by) == ("approved", "minh")
    with pytest.raises(ScheduleStoreError, match="was approved already"):
        await approve_schedule(store, "tin-sang", "hoa", NOW)
    # the same plan applied again keeps its approval; a changed plan waits again
    await apply(store, [daily("tin-sang", time(6))], rules, by="lan")
    assert (await get_schedule(store, "tin-sang")).approval == "approved"
    await apply(store, [daily("tin-sang", time(6, 5))], rules, by="lan")
    assert (await get_schedule(store, "tin-sang")).approval == "pending"
    # an emergency never waits
    storm = daily("bao", time(9), priority="emergency")
    await apply(store, [storm], rules)
    assert (await get_schedule(store, "bao")).approval == "none"
    with pytest.raises(ScheduleStoreError, match="needs no approval"):
        await approve_schedule(store, "bao", "minh", NOW)
