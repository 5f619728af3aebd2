"""`audio_contents` rows on SQLite and PostgreSQL: save, read, list, delete, gc candidates."""

from __future__ import annotations

import dataclasses
import hashlib
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, insert, inspect, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

from controller.store import Store, contents
from controller.store.contents import (
    ContentRow,
    delete_content,
    get_content,
    list_contents,
    save_content,
    unreferenced_contents,
)
from controller.store.engine import create_engine
from controller.store.schema import audio_contents, controller_events, groups, receivers
from controller.store.store import MIGRATIONS
from loa.errors import StoreError

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
HANOI = timezone(timedelta(hours=7))


def content_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def row(name: str = "a", *, added_at: datetime = T0, **changes: Any) -> ContentRow:
    base = ContentRow(
        id=content_id(name),
        title=f"Bản tin {name}",
        language="vi",
        kind="file",
        source_name=f"bản tin sáng {name}.m4a",
        source_text=None,
        codec="mp3",
        mime_type="audio/mpeg",
        extension="mp3",
        bitrate_kbps=48,
        sample_rate=24000,
        duration_s=61.44,
        size_bytes=368_640,
        chunk_size=32_768,
        chunk_count=12,
        loudness_before_lufs=-31.7,
        true_peak_before_dbtp=-9.25,
        loudness_after_lufs=-16.02,
        true_peak_after_dbtp=-1.5,
        loudness_range_lu=4.8,
        added_by="Nguyễn Thị Hoa",
        added_at=added_at,
    )
    return dataclasses.replace(base, **changes)


async def save(store: Store, *rows: ContentRow) -> list[bool]:
    async with store.write() as session:
        return [await save_content(session, r) for r in rows]


async def test_a_saved_row_reads_back_the_same(store: Store) -> None:
    text = "Thông báo: 06:00 ngày 2/12 họp tổ dân phố 🙂\nMời bà con đến đúng giờ."
    tts = row(
        "tts",
        kind="tts",
        source_name="(espeak-ng)",
        source_text=text,
        title="Họp tổ dân phố",
        added_at=datetime(2026, 12, 1, 13, 30, 15, 250_000, tzinfo=HANOI),
    )
    decomposed = row("nfd", title=unicodedata.normalize("NFD", "Tiếng Việt"))

    assert await save(store, row(), tts, decomposed) == [True, True, True]

    async with store.read() as session:
        assert await get_content(session, row().id) == row()
        back = await get_content(session, tts.id)
        assert await get_content(session, decomposed.id) == decomposed
    assert back == tts
    assert back is not None
    assert back.source_text == text
    assert back.added_at.tzinfo == UTC
    assert back.added_at == datetime(2026, 12, 1, 6, 30, 15, 250_000, tzinfo=UTC)


async def test_saving_an_id_again_keeps_the_first_row(store: Store) -> None:
    first = row()
    again = row(title="Another title", added_by="someone else", added_at=T0 + timedelta(hours=1))

    assert await save(store, first) == [True]
    assert await save(store, again) == [False]

    async with store.read() as session:
        assert await get_content(session, first.id) == first
        assert len(await list_contents(session)) == 1


async def test_an_unknown_id_reads_as_none(store: Store) -> None:
    async with store.read() as session:
        assert await get_content(session, content_id("nothing")) is None
        assert await get_content(session, "../../etc/passwd") is None
    async with store.write() as session:
        assert not await delete_content(session, content_id("nothing"))


async def test_list_is_newest_first_and_limited(store: Store) -> None:
    rows = [row(name, added_at=T0 + timedelta(minutes=i)) for i, name in enumerate("abcde")]
    async with store.read() as session:
        assert await list_contents(session) == []
    await save(store, *rows)

    async with store.read() as session:
        assert await list_contents(session) == rows[::-1]
        assert await list_contents(session, limit=2) == [rows[4], rows[3]]
        with pytest.raises(ValueError, match="limit must be at least 1"):
            await list_contents(session, limit=0)


async def test_delete_removes_one_row(store: Store) -> None:
    await save(store, row("a"), row("b"))

    async with store.write() as session:
        assert await delete_content(session, row("a").id)
        assert not await delete_content(session, row("a").id)

    async with store.read() as session:
        assert await list_contents(session) == [row("b")]


async def test_gc_candidates_are_those_added_before_the_cutoff(store: Store) -> None:
    old, older, new = (
        row("old", added_at=T0),
        row("older", added_at=T0 - timedelta(days=3)),
        row("new", added_at=T0 + timedelta(hours=2)),
    )
    await save(store, old, new, older)

    async with store.read() as session:
        cutoff = T0 + timedelta(hours=1)
        assert await unreferenced_contents(session, added_before=cutoff) == [older, old]
        assert await unreferenced_contents(session, added_before=T0) == [older]
        with pytest.raises(ValueError, match="naive"):
            await unreferenced_contents(session, added_before=datetime(2026, 12, 1))  # noqa: DTZ001


#: Stand-ins for the bulletin tables of issues 5 and 6, which will refer to contents.
test_tables = MetaData()
test_bulletins = Table(
    "test_bulletins",
    test_tables,
    Column("id", Integer, primary_key=True),
    Column("content_id", String(64), ForeignKey(audio_contents.c.id), nullable=True),
)
test_chimes = Table(
    "test_chimes",
    test_tables,
    Column("id", Integer, primary_key=True),
    Column("chime_content", String(64), nullable=False),
)
REFERENCES = [("test_bulletins", "content_id"), ("test_chimes", "chime_content")]


async def test_gc_leaves_out_every_content_a_registered_table_refers_to(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    free, in_bulletin, in_chime = row("free"), row("bulletin"), row("chime")
    await save(store, free, in_bulletin, in_chime)
    async with store.write() as session:
        await session.run_sync(lambda sync: test_tables.create_all(sync.connection()))
        await session.execute(
            insert(test_bulletins),
            [{"id": 1, "content_id": in_bulletin.id}, {"id": 2, "content_id": None}],
        )
        await session.execute(insert(test_chimes), [{"id": 1, "chime_content": in_chime.id}])
    cutoff = T0 + timedelta(days=1)

    async with store.read() as session:
        assert await unreferenced_contents(session, added_before=cutoff) == [
            in_bulletin,
            in_chime,
            free,
        ]  # nothing registered yet: CONTENT_REFERENCES is empty
        only_free = await unreferenced_contents(session, added_before=cutoff, references=REFERENCES)
        monkeypatch.setattr(contents, "CONTENT_REFERENCES", REFERENCES)
        registered = await unreferenced_contents(session, added_before=cutoff)
    assert only_free == [free]
    assert registered == [free]

    # The foreign key stops a referenced content's row from going, whatever gc thinks.
    with pytest.raises(StoreError, match=r"(?i)foreign key"):
        async with store.write() as session:
            await delete_content(session, in_bulletin.id)

    # gc in one write: candidates found and deleted together; the referenced rows stay.
    async with store.write() as session:
        for candidate in await unreferenced_contents(session, added_before=cutoff):
            assert await delete_content(session, candidate.id)
    async with store.read() as session:
        assert {r.id for r in await list_contents(session)} == {in_bulletin.id, in_chime.id}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "../../etc/passwd"}, "id '../../etc/passwd': expected a sha256"),
        ({"id": content_id("a").upper()}, "expected a sha256"),
        ({"kind": "music"}, "kind 'music': expected one of file, tts"),
        ({"title": "  "}, "title: empty"),
        ({"source_name": ""}, "source_name: empty"),
        ({"language": "vi-VN-x-south-extra"}, "language .*: expected 1 to 16 characters"),
        ({"added_by": ""}, "added_by '': expected 1 to 200"),
        ({"size_bytes": 0}, "size_bytes: 0 is not a positive number"),
        ({"duration_s": float("nan")}, "duration_s: nan is not a positive duration"),
        ({"loudness_after_lufs": float("nan")}, "loudness_after_lufs: not a number"),
        ({"added_at": datetime(2026, 12, 1, 6)}, "added_at: naive datetime"),  # noqa: DTZ001
    ],
)
def test_a_row_that_does_not_hold_together_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        row(**changes)


async def test_a_quiet_source_with_an_infinite_peak_reading_is_kept(store: Store) -> None:
    quiet = row(true_peak_before_dbtp=float("-inf"))
    await save(store, quiet)
    async with store.read() as session:
        assert await get_content(session, quiet.id) == quiet


def _migrate(conn: Connection, how: str, revision: str) -> list[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    getattr(command, how)(cfg, revision)
    return sorted(inspect(conn).get_table_names())


def _registry_rows(conn: Connection) -> None:
    conn.execute(insert(controller_events).values(at=T0, controller_id="c1", kind="start"))
    conn.execute(insert(groups).values(id="thon-1", name="Thôn Đông", kind="village"))
    conn.execute(
        insert(receivers).values(
            id="rx-1",
            name="Loa đầu làng",
            village_id="thon-1",
            languages=["vi"],
            speakers=2,
            installed=date(2026, 1, 5),
            created_at=T0,
            updated_at=T0,
        )
    )


def _receiver_names(sync: Session) -> list[str]:
    return list(sync.execute(select(receivers.c.name)).scalars())


async def test_a_0002_store_with_receivers_upgrades_and_downgrades_keeping_them(
    store_url: str,
) -> None:
    engine = create_engine(make_url(store_url))
    try:
        async with engine.begin() as conn:
            before = await conn.run_sync(_migrate, "upgrade", "0002")
            await conn.run_sync(_registry_rows)
        assert "audio_contents" not in before

        async with await Store.open(store_url) as store:
            assert await store.upgrade() == ("0002", Store.head_revision())
            assert await save(store, row()) == [True]
            async with store.read() as session:
                assert await session.run_sync(_receiver_names) == ["Loa đầu làng"]
                assert await get_content(session, row().id) == row()

            async with engine.begin() as conn:
                after = await conn.run_sync(_migrate, "downgrade", "0002")
            assert after == before
            assert await store.current_revision() == "0002"
            async with store.read() as session:
                assert await session.run_sync(_receiver_names) == ["Loa đầu làng"]
            assert await store.upgrade() == ("0002", Store.head_revision())
            async with store.read() as session:
                assert await list_contents(session) == []
    finally:
        await engine.dispose()
