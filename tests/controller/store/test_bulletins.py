"""Bulletins and occurrences on SQLite and PostgreSQL; migration 0004 up and down with data."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

from controller.store import Store
from controller.store.bulletins import (
    OccurrenceFilter,
    Target,
    cancel_bulletin,
    count_occurrences,
    create_bulletin,
    due_occurrences,
    get_bulletin,
    get_occurrence,
    list_occurrences,
    overdue_occurrences,
    set_occurrence_state,
)
from controller.store.contents import delete_content, unreferenced_contents
from controller.store.deliveries import insert_deliveries, save_deliveries
from controller.store.engine import create_engine
from controller.store.schema import (
    audio_contents,
    bulletin_contents,
    bulletins,
    groups,
    receivers,
)
from controller.store.store import MIGRATIONS
from devices.delivery import apply_receipt, offer, start
from loa.errors import StoreError
from tests.controller.store.bulletin_data import (
    T0,
    add_bulletin,
    bulletin,
    content,
    hex32,
    occurrence,
    seed,
    sha,
)

HANOI = timezone(timedelta(hours=7))


async def test_a_bulletin_reads_back_with_its_contents_and_targets(store: Store) -> None:
    await seed(store)
    row = bulletin(
        title="Thông báo: bà con Thôn Nà Pồng họp lúc 19:30 🙂",
        created_at=datetime(2026, 12, 3, 7, 30, 15, 250_000, tzinfo=HANOI),
    )
    targets = [
        Target("group", "thon-1"),
        Target("receiver", "rx-9"),  # not registered (yet): targets are names, not keys
        Target("all"),
        Target("group", "thon-1"),
    ]
    async with store.write() as session:
        await create_bulletin(session, row, {"vi": sha("vi"), "tay": sha("tay")}, targets)

    async with store.read() as session:
        found = await get_bulletin(session, row.id)
        assert await get_bulletin(session, hex32("nothing")) is None
    assert found is not None
    stored, contents, stored_targets = found
    assert stored == row
    assert stored.created_at == datetime(2026, 12, 3, 0, 30, 15, 250_000, tzinfo=UTC)
    assert stored.created_at.tzinfo == UTC
    assert contents == {"tay": sha("tay"), "vi": sha("vi")}
    assert stored_targets == [Target("all"), Target("group", "thon-1"), Target("receiver", "rx-9")]


async def test_a_bulletin_whose_content_is_not_in_the_library_is_not_stored(store: Store) -> None:
    await seed(store)
    with pytest.raises(ValueError, match=rf"content {sha('lost')} \(tay\) is not in the audio"):
        async with store.write() as session:
            await create_bulletin(
                session, bulletin(), {"vi": sha("vi"), "tay": sha("lost")}, [Target("all")]
            )
    async with store.read() as session:
        assert await get_bulletin(session, bulletin().id) is None


@pytest.mark.parametrize(
    ("contents", "targets", "message"),
    [
        ({}, [Target("all")], "no content"),
        ({"vi": sha("vi")}, [], "no target"),
        ({"VI": sha("vi")}, [Target("all")], "language 'VI'"),
        ({"vi": "abc"}, [Target("all")], r"content 'abc' \(vi\): expected a sha256"),
    ],
)
async def test_a_bulletin_without_content_or_target_is_refused(
    store: Store, contents: dict[str, str], targets: list[Target], message: str
) -> None:
    await seed(store)
    with pytest.raises(ValueError, match=message):
        async with store.write() as session:
            await create_bulletin(session, bulletin(), contents, targets)


async def test_a_content_a_bulletin_uses_is_kept_from_gc(store: Store) -> None:
    await seed(store)
    await add_bulletin(store, bulletin())
    later = T0 + timedelta(days=30)

    async with store.read() as session:
        candidates = await unreferenced_contents(session, added_before=later)
    assert [c.id for c in candidates] == [sha("tay")]
    with pytest.raises(StoreError, match=r"(?i)foreign key"):
        async with store.write() as session:
            await delete_content(session, sha("vi"))


async def test_cancelling_a_bulletin_stamps_it_once(store: Store) -> None:
    await seed(store)
    await add_bulletin(store, bulletin())
    async with store.write() as session:
        assert await cancel_bulletin(session, bulletin().id, T0 + timedelta(minutes=5))
        assert not await cancel_bulletin(session, bulletin().id, T0 + timedelta(minutes=9))
        assert not await cancel_bulletin(session, hex32("nothing"), T0)
    async with store.read() as session:
        found = await get_bulletin(session, bulletin().id)
    assert found is not None
    assert found.bulletin.cancelled_at == T0 + timedelta(minutes=5)


async def test_an_occurrence_reads_back(store: Store) -> None:
    await seed(store)
    b = bulletin()
    scheduled = occurrence("morning", b, T0 + timedelta(hours=2))
    emergency = occurrence("now", b, None, expires_at=T0 + timedelta(minutes=10))
    await add_bulletin(store, b, scheduled, emergency)

    async with store.read() as session:
        assert await get_occurrence(session, scheduled.id) == scheduled
        assert await get_occurrence(session, emergency.id) == emergency
        assert await get_occurrence(session, hex32("nothing")) is None


async def test_due_occurrences_are_those_within_the_lead_not_expired_nor_cancelled(
    store: Store,
) -> None:
    await seed(store)
    b, gone = bulletin("b"), bulletin("cancelled")
    now = T0 + timedelta(hours=1)
    soon = occurrence("soon", b, now + timedelta(seconds=50))
    at_lead = occurrence("at lead", b, now + timedelta(seconds=60))
    later = occurrence("later", b, now + timedelta(seconds=61))
    late = occurrence("late", b, now - timedelta(minutes=20))  # missed, not expired yet
    emergency = occurrence("emergency", b, None, expires_at=now + timedelta(minutes=5))
    expired = occurrence("expired", b, now - timedelta(hours=2), expires_at=now)
    dispatched = occurrence("dispatched", b, now, state="dispatched", dispatched_at=now)
    of_cancelled = occurrence("of cancelled", gone, now)
    await add_bulletin(store, b, soon, at_lead, later, late, emergency, expired, dispatched)
    await add_bulletin(store, gone, of_cancelled)
    async with store.write() as session:
        await cancel_bulletin(session, gone.id, now)

    async with store.read() as session:
        due = await due_occurrences(session, now=now, lead=timedelta(seconds=60))
        overdue = await overdue_occurrences(session, now=now)
        with pytest.raises(ValueError, match="naive"):
            await due_occurrences(session, now=datetime(2026, 12, 3), lead=timedelta())  # noqa: DTZ001
    assert due == [emergency, late, soon, at_lead]
    assert overdue == [expired]


async def test_an_occurrence_moves_only_forward_and_stamps_when(store: Store) -> None:
    await seed(store)
    b = bulletin()
    first, second = occurrence("1", b, T0), occurrence("2", b, T0)
    await add_bulletin(store, b, first, second)
    at = [T0 + timedelta(minutes=m) for m in range(6)]

    async with store.write() as session:
        assert not await set_occurrence_state(session, first.id, "done", at[0])
        assert await set_occurrence_state(session, first.id, "dispatched", at[1])
        assert not await set_occurrence_state(session, first.id, "dispatched", at[2])
        assert await set_occurrence_state(session, first.id, "done", at[3])
        assert not await set_occurrence_state(session, first.id, "cancelled", at[4])
        assert await set_occurrence_state(session, second.id, "cancelled", at[1])
        assert not await set_occurrence_state(session, second.id, "expired", at[5])
        assert not await set_occurrence_state(session, hex32("nothing"), "cancelled", at[1])
        with pytest.raises(ValueError, match="cannot be moved to 'scheduled'"):
            await set_occurrence_state(session, second.id, "scheduled", at[5])

    async with store.read() as session:
        assert await get_occurrence(session, first.id) == dataclasses.replace(
            first, state="done", dispatched_at=at[1], finished_at=at[3]
        )
        assert await get_occurrence(session, second.id) == dataclasses.replace(
            second, state="cancelled", cancelled_at=at[1]
        )


async def test_the_listing_is_newest_first_with_counts_per_delivery_state(store: Store) -> None:
    await seed(store)
    b = bulletin(title="Lịch cắt điện")
    occs = [occurrence(str(i), b, T0, created_at=T0 + timedelta(minutes=i)) for i in range(3)]
    await add_bulletin(store, b, *occs)
    newest = occs[2]
    queued = [start(newest.id, rid, T0) for rid in ("rx-1", "rx-2", "rx-3")]
    offered = offer(queued[0], sha("vi"), T0).delivery
    armed = apply_receipt(offered, "armed", epoch=1, seq=0, at=T0).delivery
    async with store.write() as session:
        await insert_deliveries(session, queued)
        await save_deliveries(session, [armed, offer(queued[1], sha("vi"), T0).delivery])
        await set_occurrence_state(session, newest.id, "dispatched", T0)

    async with store.read() as session:
        listed = await list_occurrences(session)
        limited = await list_occurrences(session, limit=2)
        dispatched = await list_occurrences(session, states=["dispatched", "done"])
        assert await list_occurrences(session, states=[]) == []
        with pytest.raises(ValueError, match="occurrence state 'sent'"):
            await list_occurrences(session, states=["sent"])
        with pytest.raises(ValueError, match="limit must be at least 1"):
            await list_occurrences(session, limit=0)

    assert [s.occurrence.id for s in listed] == [o.id for o in reversed(occs)]
    assert [s.occurrence.id for s in limited] == [occs[2].id, occs[1].id]
    assert [s.occurrence.id for s in dispatched] == [newest.id]
    top = listed[0]
    assert (top.title, top.priority, top.occurrence.state) == (
        "Lịch cắt điện",
        "normal",
        "dispatched",
    )
    assert {state: n for state, n in top.counts.items() if n} == {
        "queued": 1,
        "offered": 1,
        "armed": 1,
    }
    assert len(top.counts) == 12
    assert sum(listed[1].counts.values()) == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "B" * 32}, "id 'BBB.*': expected 32 lower-case hex"),
        ({"title": " "}, "title ' ': expected 1 to 200 characters"),
        ({"title": "x" * 201}, "title 'x.*': expected 1 to 200"),
        ({"priority": "urgent"}, "priority 'urgent': expected one of emergency, live"),
        ({"volume": 101}, "volume 101: expected 0 to 100"),
        ({"repeat": 0}, "repeat 0: expected 1 to 10"),
        ({"repeat": 11}, "repeat 11"),
        ({"chime": "twice"}, "chime 'twice': expected one of none, before, after, both"),
        ({"created_at": datetime(2026, 12, 3)}, "created_at: naive"),  # noqa: DTZ001
    ],
)
def test_a_bulletin_row_that_does_not_hold_together_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bulletin(**changes)


@pytest.mark.parametrize(
    ("kind", "target_id", "message"),
    [
        ("village", "thon-1", "target kind 'village': expected one of all, receiver, group"),
        ("all", "thon-1", "target 'all' takes no id"),
        ("group", None, "group id None is not valid"),
        ("receiver", "Loa 1", "receiver id 'Loa 1' is not valid"),
    ],
)
def test_a_target_that_names_nothing_is_refused(
    kind: str, target_id: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Target(kind, target_id)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bulletin_id": "b"}, "bulletin_id 'b': expected 32"),
        ({"state": "sent"}, "state 'sent': expected one of scheduled"),
        ({"expires_at": T0}, "expires_at .* is not after play_at"),
        ({"dispatched_at": datetime(2026, 12, 3)}, "dispatched_at: naive"),  # noqa: DTZ001
    ],
)
def test_an_occurrence_row_that_does_not_hold_together_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        occurrence("x", bulletin(), T0, **changes)


def _migrate(conn: Connection, how: str, revision: str) -> list[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    getattr(command, how)(cfg, revision)
    return sorted(inspect(conn).get_table_names())


def _rows_of_0003(conn: Connection) -> None:
    conn.execute(insert(groups).values(id="thon-1", name="Thôn Nà Pồng", kind="village"))
    for rid in ("rx-1", "rx-2"):
        conn.execute(
            insert(receivers).values(
                id=rid,
                name=f"Loa {rid}",
                village_id="thon-1",
                languages=["vi"],
                speakers=1,
                installed=date(2026, 1, 5),
                created_at=T0,
                updated_at=T0,
            )
        )
    conn.execute(insert(audio_contents).values(**dataclasses.asdict(content("vi"))))


def _kept(sync: Session) -> tuple[list[str], list[str]]:
    names: list[str] = list(
        sync.execute(select(receivers.c.name).order_by(receivers.c.id)).scalars()
    )
    contents: list[str] = list(sync.execute(select(audio_contents.c.id)).scalars())
    return names, contents


def _bulletin_ids(sync: Session) -> list[str]:
    return list(sync.execute(select(bulletins.c.id)).scalars())


async def test_a_0003_store_upgrades_to_0004_and_back_keeping_its_rows(store_url: str) -> None:
    engine = create_engine(make_url(store_url))
    try:
        async with engine.begin() as conn:
            before = await conn.run_sync(_migrate, "upgrade", "0003")
            await conn.run_sync(_rows_of_0003)
        async with engine.begin() as conn:
            after = await conn.run_sync(_migrate, "upgrade", "0004")
        added = set(after) - set(before)
        assert added == {
            "bulletins",
            "bulletin_contents",
            "bulletin_targets",
            "occurrences",
            "deliveries",
            "delivery_events",
        }
        async with engine.begin() as conn:  # the code below writes what head has
            at_head = await conn.run_sync(_migrate, "upgrade", "head")

        async with await Store.open(store_url) as store:
            async with store.read() as session:
                assert await session.run_sync(_kept) == (["Loa rx-1", "Loa rx-2"], [sha("vi")])
            b = bulletin()
            occ = occurrence("1", b, T0)
            await add_bulletin(store, b, occ)
            async with store.write() as session:
                await insert_deliveries(session, [start(occ.id, "rx-1", T0)])

            async with engine.begin() as conn:
                assert await conn.run_sync(_migrate, "downgrade", "0003") == before
            async with store.read() as session:
                assert await session.run_sync(_kept) == (["Loa rx-1", "Loa rx-2"], [sha("vi")])

            async with engine.begin() as conn:
                assert await conn.run_sync(_migrate, "upgrade", "head") == at_head
            async with store.read() as session:
                assert await session.run_sync(_bulletin_ids) == []
            await add_bulletin(store, b, occ)
            async with store.read() as session:
                assert await get_occurrence(session, occ.id) == occ
    finally:
        await engine.dispose()


def _bulletin_of_0004(conn: Connection) -> str:
    """A bulletin in Tày and Vietnamese as revision 0004 stored it: no order kept."""
    row = bulletin("old")
    conn.execute(insert(bulletins).values(**dataclasses.asdict(row)))
    for language in ("vi", "tay"):
        conn.execute(
            insert(bulletin_contents).values(
                bulletin_id=row.id, language=language, content_id=sha(language)
            )
        )
    return row.id


async def test_0005_keeps_the_order_of_languages_from_then_on(store_url: str) -> None:
    engine = create_engine(make_url(store_url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_migrate, "upgrade", "0004")
            await conn.run_sync(_rows_of_0003)
            await conn.run_sync(
                lambda sync: sync.execute(
                    insert(audio_contents).values(**dataclasses.asdict(content("tay", "tay")))
                )
            )
            old_id = await conn.run_sync(_bulletin_of_0004)
        async with engine.begin() as conn:
            await conn.run_sync(_migrate, "upgrade", "0005")
        async with await Store.open(store_url) as store:
            async with store.write() as session:
                new = bulletin("new")
                await create_bulletin(
                    session, new, {"tay": sha("tay"), "vi": sha("vi")}, [Target("all")]
                )
            async with store.read() as session:
                old_detail = await get_bulletin(session, old_id)
                new_detail = await get_bulletin(session, new.id)
        assert old_detail is not None
        assert new_detail is not None
        assert list(old_detail.contents) == ["tay", "vi"], "stored before: by language"
        assert list(new_detail.contents) == ["tay", "vi"], "as given: the default first"
        async with engine.begin() as conn:
            await conn.run_sync(_migrate, "downgrade", "0004")
            kept = await conn.run_sync(
                lambda sync: sync.execute(
                    select(func.count()).select_from(bulletin_contents)
                ).scalar_one()
            )
        assert kept == 4
    finally:
        await engine.dispose()


async def test_the_listing_filters_by_priority_and_air_time_pages_and_counts(
    store: Store,
) -> None:
    await seed(store)
    normal = bulletin("n", title="Họp thôn")
    urgent = bulletin("e", title="Lũ quét", priority="emergency")
    hours = [occurrence(f"n{i}", normal, T0 + timedelta(hours=i)) for i in range(4)]
    flood = occurrence("e0", urgent, None, created_at=T0 + timedelta(minutes=30))
    await add_bulletin(store, normal, *hours)
    await add_bulletin(store, urgent, flood)

    async with store.read() as session:
        emergencies = OccurrenceFilter(priority="emergency")
        assert [s.occurrence.id for s in await list_occurrences(session, chosen=emergencies)] == [
            flood.id
        ]
        # No play_at: the emergency counts by when it was made (T0 + 30 min).
        first_hour = OccurrenceFilter(since=T0, until=T0 + timedelta(hours=1))
        in_hour = await list_occurrences(session, chosen=first_hour)
        assert {s.occurrence.id for s in in_hour} == {hours[0].id, flood.id}
        assert await count_occurrences(session, first_hour) == 2
        assert await count_occurrences(session, OccurrenceFilter()) == 5
        second_page = await list_occurrences(session, limit=2, offset=2)
        assert len(second_page) == 2
        with pytest.raises(ValueError, match="since"):
            await count_occurrences(session, OccurrenceFilter(since=datetime(2026, 12, 1)))  # noqa: DTZ001
