"""Rows for the bulletin and delivery store tests: a village, receivers, contents, bulletins."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from controller.store import Store
from controller.store.bulletins import (
    BulletinRow,
    OccurrenceRow,
    Target,
    create_bulletin,
    create_occurrence,
)
from controller.store.contents import ContentRow, save_content
from controller.store.schema import groups, receivers

T0 = datetime(2026, 12, 3, 0, 30, tzinfo=UTC)  # 07:30 in Hà Nội
RECEIVERS = ("rx-1", "rx-2", "rx-3")


def hex32(name: str) -> str:
    """A 32-hex id that says in the test which row it is."""
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def content(name: str, language: str = "vi") -> ContentRow:
    return ContentRow(
        id=sha(name),
        title=f"Bản tin {name}",
        language=language,
        kind="file",
        source_name=f"{name}.m4a",
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
        loudness_after_lufs=-16.0,
        true_peak_after_dbtp=-1.5,
        loudness_range_lu=4.8,
        added_by="Nguyễn Thị Hoa",
        added_at=T0 - timedelta(days=1),
    )


def bulletin(name: str = "b", **changes: Any) -> BulletinRow:
    row = BulletinRow(
        id=hex32(f"bulletin {name}"),
        title=f"Thông báo tiêm phòng {name}",
        priority="normal",
        volume=80,
        repeat=2,
        chime="before",
        created_by="Trần Văn Nam",
        created_at=T0,
    )
    return dataclasses.replace(row, **changes)


def occurrence(
    name: str, bulletin_row: BulletinRow, play_at: datetime | None, **changes: Any
) -> OccurrenceRow:
    start = play_at or T0
    row = OccurrenceRow(
        id=hex32(f"occurrence {name}"),
        bulletin_id=bulletin_row.id,
        play_at=play_at,
        expires_at=start + timedelta(hours=1),
        created_at=T0,
    )
    return dataclasses.replace(row, **changes)


async def seed(store: Store, receiver_ids: tuple[str, ...] = RECEIVERS) -> None:
    """A village with `receiver_ids` in it, and the contents "vi" and "tay"."""
    async with store.write() as session:
        await session.execute(
            insert(groups).values(id="thon-1", name="Thôn Nà Pồng", kind="village")
        )
        await session.execute(
            insert(receivers),
            [
                {
                    "id": rid,
                    "name": f"Loa {rid}",
                    "village_id": "thon-1",
                    "languages": ["vi", "tay"],
                    "speakers": 2,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for rid in receiver_ids
            ],
        )
        for name, language in (("vi", "vi"), ("tay", "tay")):
            await save_content(session, content(name, language))


async def add_bulletin(store: Store, row: BulletinRow, *occurrences: OccurrenceRow) -> None:
    """Store `row` (Vietnamese content, for everyone) and its occurrences."""
    async with store.write() as session:
        await create_bulletin(session, row, {"vi": sha("vi")}, [Target("all")])
        for occ in occurrences:
            await create_occurrence(session, occ)
