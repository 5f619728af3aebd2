"""Rows of `audio_contents`: the metadata of each prepared bulletin in the content store.

The bytes live in the file store (`audio.content_store`), named by their sha256;
this table says what each content is: title, language, where it came from, its
format, its loudness before and after preparing, and who added it when.

The functions take the `AsyncSession` of a `store.read()` or `store.write()`
block, so a caller can put several in one transaction: gc should find the
candidates and delete their rows in one `write()`, then delete the files.

Tables that refer to contents (bulletins, issues 5 and 6) register the column
that holds the content id in `CONTENT_REFERENCES`; `unreferenced_contents()`
leaves out every content such a column names. They should also declare a foreign
key to `audio_contents.id`: then the database refuses to delete a row that a
reference written meanwhile (in another transaction) still needs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import column, delete, exists, select, table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from audio.manifest import is_sha256_hex
from controller.store.schema import audio_contents

__all__ = [
    "CONTENT_KINDS",
    "CONTENT_REFERENCES",
    "ContentRow",
    "delete_content",
    "get_content",
    "list_contents",
    "save_content",
    "unreferenced_contents",
]

#: "file": an uploaded recording; "tts": text read aloud by a text-to-speech engine.
CONTENT_KINDS: Final = ("file", "tts")

#: (table name, column name) of every column that holds a content id: a content named
#: in any of them is in use and never a gc candidate. Later tables append theirs here.
CONTENT_REFERENCES: list[tuple[str, str]] = [
    # a bulletin's audio, one per language (controller.store.bulletins)
    ("bulletin_contents", "content_id"),
]
#: (table name, column name) of text columns that mention content ids among other words:
#: a schedule's definition (JSON) and its job's contents ready to play.
CONTENT_MENTIONS: list[tuple[str, str]] = [
    ("schedules", "definition"),
    ("schedule_jobs", "contents"),
]

_LOUDNESS: Final = (
    "loudness_before_lufs",
    "true_peak_before_dbtp",
    "loudness_after_lufs",
    "true_peak_after_dbtp",
    "loudness_range_lu",
)
_LIMITS: Final = {
    "language": 16,
    "kind": 16,
    "codec": 16,
    "mime_type": 64,
    "extension": 16,
    "added_by": 200,
}


@dataclass(frozen=True, slots=True)
class ContentRow:
    """One row of `audio_contents`; checked when made (`ValueError` says which field)."""

    #: sha256 hex of the content's bytes: its id in the file store too.
    id: str
    title: str
    #: the language spoken, as the operator names it ("vi", "en", ...)
    language: str
    #: one of `CONTENT_KINDS`
    kind: str
    #: the uploaded file's name, or what read the text aloud for "tts"
    source_name: str
    #: the text read aloud ("tts" only)
    source_text: str | None
    codec: str
    mime_type: str
    extension: str
    bitrate_kbps: int
    sample_rate: int
    duration_s: float
    size_bytes: int
    chunk_size: int
    chunk_count: int
    loudness_before_lufs: float
    true_peak_before_dbtp: float
    loudness_after_lufs: float
    true_peak_after_dbtp: float
    #: loudness range of the prepared audio (after)
    loudness_range_lu: float
    #: who added it: an operator's name, or the process for automatic contents
    added_by: str
    added_at: datetime

    def __post_init__(self) -> None:
        if not is_sha256_hex(self.id):
            raise ValueError(f"id {self.id!r}: expected a sha256 digest, 64 lowercase hex digits")
        if self.kind not in CONTENT_KINDS:
            raise ValueError(f"kind {self.kind!r}: expected one of {', '.join(CONTENT_KINDS)}")
        for name in ("title", "source_name"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name}: empty")
        for name, limit in _LIMITS.items():
            value: str = getattr(self, name)
            if not value or len(value) > limit:
                raise ValueError(f"{name} {value!r}: expected 1 to {limit} characters")
        for name in ("bitrate_kbps", "sample_rate", "size_bytes", "chunk_size", "chunk_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: {getattr(self, name)!r} is not a positive number")
        if not math.isfinite(self.duration_s) or self.duration_s <= 0:
            raise ValueError(f"duration_s: {self.duration_s!r} is not a positive duration")
        for name in _LOUDNESS:
            if math.isnan(getattr(self, name)):
                raise ValueError(f"{name}: not a number (NaN); the measurement failed")
        if self.added_at.tzinfo is None or self.added_at.utcoffset() is None:
            raise ValueError(f"added_at: naive datetime {self.added_at!r}; pass a UTC instant")


_FIELDS: Final = tuple(field.name for field in dataclasses.fields(ContentRow))
_NEWEST_FIRST: Final = (audio_contents.c.added_at.desc(), audio_contents.c.id)


async def save_content(session: AsyncSession, row: ContentRow) -> bool:
    """Insert `row`; False (and the existing row kept as it is) if its id is there already."""
    dialect = (await session.connection()).dialect.name
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(audio_contents)
        .values(**dataclasses.asdict(row))
        .on_conflict_do_nothing(index_elements=[audio_contents.c.id])
        .returning(audio_contents.c.id)
    )
    return (await session.execute(statement)).first() is not None


async def get_content(session: AsyncSession, content_id: str) -> ContentRow | None:
    """The row of `content_id`, or None."""
    query = select(audio_contents).where(audio_contents.c.id == content_id)
    found = (await session.execute(query)).first()
    return None if found is None else _row(found)


async def list_contents(session: AsyncSession, *, limit: int | None = None) -> list[ContentRow]:
    """Every content (or the newest `limit`), newest first."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    query = select(audio_contents).order_by(*_NEWEST_FIRST).limit(limit)
    return [_row(found) for found in (await session.execute(query)).all()]


async def delete_content(session: AsyncSession, content_id: str) -> bool:
    """Delete the row of `content_id`; False if there was none. The file is the caller's."""
    statement = (
        delete(audio_contents)
        .where(audio_contents.c.id == content_id)
        .returning(audio_contents.c.id)
    )
    return (await session.execute(statement)).first() is not None


async def unreferenced_contents(
    session: AsyncSession,
    *,
    added_before: datetime,
    references: Sequence[tuple[str, str]] | None = None,
) -> list[ContentRow]:
    """The gc candidates, oldest first: added before `added_before`, referenced by nothing.

    `references` are (table, column) pairs naming content ids; `CONTENT_REFERENCES`
    unless given, and then a content a schedule mentions (`CONTENT_MENTIONS`) is kept too.
    """
    if added_before.tzinfo is None or added_before.utcoffset() is None:
        raise ValueError(f"naive datetime {added_before!r}: pass a UTC instant")
    query = select(audio_contents).where(audio_contents.c.added_at < added_before)
    for table_name, column_name in CONTENT_REFERENCES if references is None else references:
        referring = table(table_name, column(column_name))
        query = query.where(~exists().where(referring.c[column_name] == audio_contents.c.id))
    if references is None:
        for table_name, column_name in CONTENT_MENTIONS:
            mentioning = table(table_name, column(column_name))
            query = query.where(
                ~exists().where(mentioning.c[column_name].contains(audio_contents.c.id))
            )
    query = query.order_by(audio_contents.c.added_at, audio_contents.c.id)
    return [_row(found) for found in (await session.execute(query)).all()]


def _row(found: Any) -> ContentRow:
    return ContentRow(**{name: getattr(found, name) for name in _FIELDS})
