"""The audio library: what operators upload or type, stored once, ready for delivery.

`add_file()` and `add_text()` run the `audio` package's prepare step (and
text-to-speech first, for text) in a worker thread, move the result into the
content-addressed file store and record its metadata in `audio_contents`. The
same audio prepared twice is one content: the second add reports the first.

Crash safety, in order of the steps:

1. prepare writes into the file store's `staging/` folder; a crash leaves a temp
   file there, never a content (`gc` sweeps staging files older than an hour);
2. the file store renames the bytes into place (atomic), so a content is either
   whole or absent;
3. the row is written last: a crash before it leaves a file with no row, which
   `gc` counts as an orphan and removes after the grace period.

`gc()` removes contents no bulletin refers to and that are older than the grace
period (so one just prepared for a bulletin not yet written survives); it is a
dry run unless asked to delete.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from audio.content_store import ContentStore, StoredContent
from audio.errors import AudioError, SilentAudio
from audio.ffmpeg import Tools
from audio.prepare import Prepared, PrepareSettings, decode_to_wav, prepare
from audio.store_errors import ContentNotFound
from audio.tts.engine import TtsEngine
from audio.tts.synthesise import Speech, synthesise_text
from audio.tts.vietnamese import TextError
from controller.store import Store
from controller.store.contents import (
    ContentRow,
    delete_content,
    get_content,
    list_contents,
    save_content,
    unreferenced_contents,
)
from loa.clock import Clock, SystemClock
from loa.errors import LoaError

log = logging.getLogger(__name__)

STAGING_GRACE_S = 3600.0
"""A staging file older than this belongs to a prepare that died, not one in progress."""
TITLE_FROM_TEXT_CHARS = 60
ChimePlacement = Literal["none", "before", "after", "both"]
CHIME_PLACEMENTS: tuple[ChimePlacement, ...] = ("none", "before", "after", "both")
MIN_PREFIX = 6
"""The shortest id prefix accepted in place of a whole content id."""


class UnknownContent(LoaError):
    """No content has the id (or id prefix) a person gave, or several do."""


@dataclass(frozen=True, slots=True)
class Added:
    """The outcome of an add: the content, and whether this add created it."""

    content: ContentRow
    created: bool
    prepared: Prepared
    speech: Speech | None = None


@dataclass(frozen=True, slots=True)
class GcReport:
    """What `gc()` found (and removed unless it was a dry run)."""

    dry_run: bool
    contents: tuple[ContentRow, ...]
    orphans: tuple[str, ...]
    staging: tuple[Path, ...]
    bytes_freed: int


class AudioLibrary:
    """Contents in the file store, described in the store's `audio_contents` table."""

    def __init__(
        self,
        store: Store,
        files: ContentStore,
        settings: PrepareSettings,
        *,
        tts: Callable[[], TtsEngine] | None = None,
        tts_pause_s: float = 0.35,
        tools: Tools | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._files = files
        self._settings = settings
        self._tts = tts
        self._tts_pause_s = tts_pause_s
        self._tools = tools
        self._clock = clock or SystemClock()

    @property
    def files(self) -> ContentStore:
        return self._files

    async def add_file(
        self,
        source: Path,
        *,
        title: str | None,
        language: str,
        added_by: str,
        chime: ChimePlacement | None = None,
    ) -> Added:
        """Prepare the recording at `source` and store it.

        `chime` overrides the configured attention chime for this content.
        """
        prepared = await asyncio.to_thread(
            prepare, source, self._files.staging_dir(), self._with(chime), tools=self._tools
        )
        return await self._keep(
            prepared,
            title=title or source.stem,
            language=language,
            added_by=added_by,
            kind="file",
            source_name=source.name,
            source_text=None,
        )

    async def add_text(
        self,
        text: str,
        *,
        title: str | None,
        language: str,
        added_by: str,
        voice: str | None = None,
        chime: ChimePlacement | None = None,
    ) -> Added:
        """Read `text` aloud with the configured engine, prepare the speech and store it."""
        if self._tts is None:
            raise AudioError("text-to-speech is not configured for this audio library")
        engine = self._tts()
        staging = self._files.staging_dir()
        speech = await asyncio.to_thread(
            synthesise_text,
            text,
            language,
            engine,
            staging,
            voice=voice,
            pause_s=self._tts_pause_s,
        )
        try:
            prepared = await asyncio.to_thread(
                prepare, speech.path, staging, self._with(chime), tools=self._tools
            )
        except SilentAudio as exc:
            raise TextError(
                text, "it reads as less than half a second of speech; write the bulletin in words"
            ) from exc
        finally:
            speech.path.unlink(missing_ok=True)
        added = await self._keep(
            prepared,
            title=title or _title_from_text(text),
            language=language,
            added_by=added_by,
            kind="tts",
            source_name=f"({engine.name})",
            source_text=text,
        )
        return Added(added.content, added.created, prepared, speech)

    def _with(self, chime: ChimePlacement | None) -> PrepareSettings:
        if chime is None:
            return self._settings
        placed = dataclasses.replace(
            self._settings.chime,
            before=chime in ("before", "both"),
            after=chime in ("after", "both"),
        )
        return dataclasses.replace(self._settings, chime=placed)

    async def _keep(
        self,
        prepared: Prepared,
        *,
        title: str,
        language: str,
        added_by: str,
        kind: str,
        source_name: str,
        source_text: str | None,
    ) -> Added:
        try:
            stored = await asyncio.to_thread(
                self._files.put, prepared.path, prepared.format.extension
            )
        finally:
            prepared.path.unlink(missing_ok=True)
        row = _row(
            stored,
            prepared,
            title=title,
            language=language,
            added_by=added_by,
            kind=kind,
            source_name=source_name,
            source_text=source_text,
            at=self._clock.now(),
        )
        async with self._store.write() as session:
            created = await save_content(session, row)
            if not created:
                existing = await get_content(session, row.id)
                row = existing if existing is not None else row
        log.info(
            "audio %s %s (%r, %.1f s, %d bytes)",
            "added" if created else "already stored:",
            row.id[:12],
            row.title,
            row.duration_s,
            row.size_bytes,
        )
        return Added(row, created, prepared)

    async def contents(self) -> list[ContentRow]:
        """Every content, newest first."""
        async with self._store.read() as session:
            return await list_contents(session)

    async def get(self, wanted: str) -> ContentRow:
        """The content whose id is `wanted`, or starts with it (at least 6 characters)."""
        key = wanted.strip().lower()
        async with self._store.read() as session:
            if len(key) == 64:
                row = await get_content(session, key)
                if row is not None:
                    return row
                raise UnknownContent(
                    f"no audio content has the id {wanted!r}; see `loa audio list`"
                )
            rows = await list_contents(session)
        if len(key) < MIN_PREFIX:
            raise UnknownContent(
                f"{wanted!r} is too short to name an audio content: give its id or at least "
                f"its first {MIN_PREFIX} characters (see `loa audio list`)"
            )
        matches = [row for row in rows if row.id.startswith(key)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownContent(
                f"no audio content has an id starting {wanted!r}; see `loa audio list`"
            )
        raise UnknownContent(
            f"{len(matches)} audio contents have ids starting {wanted!r}; give more characters"
        )

    async def export_wav(self, wanted: str, out: Path) -> ContentRow:
        """Decode content `wanted` back to a WAV file at `out`, for a person to listen to."""
        row = await self.get(wanted)
        try:
            path = self._files.path_of(row.id)
        except ContentNotFound as exc:
            raise AudioError(
                f"audio content {row.id} ({row.title!r}) is listed but its file is missing "
                f"from {self._files.root}; prepare the audio again"
            ) from exc
        await asyncio.to_thread(decode_to_wav, path, out, tools=self._tools)
        return row

    async def gc(self, *, delete: bool, grace: timedelta) -> GcReport:
        """Find (and with `delete`, remove) contents nothing refers to, older than `grace`."""
        cutoff = self._clock.now() - grace
        async with self._store.read() as session:
            candidates = await unreferenced_contents(session, added_before=cutoff)
            known = {row.id for row in await list_contents(session)}
        orphans = [
            content_id
            for content_id in await asyncio.to_thread(self._files.ids)
            if content_id not in known and self._older_than(content_id, cutoff)
        ]
        staging = self._stale_staging()
        freed = sum(row.size_bytes for row in candidates)
        freed += sum(_size(self._files.path_of(content_id)) for content_id in orphans)
        freed += sum(_size(path) for path in staging)
        if delete:
            removed: list[ContentRow] = []
            for row in candidates:
                if await self._delete_if_unreferenced(row, cutoff):
                    removed.append(row)
            candidates = removed
            for content_id in orphans:
                await asyncio.to_thread(self._files.delete, content_id)
            staging = await asyncio.to_thread(self._files.sweep_staging, STAGING_GRACE_S)
            log.info(
                "audio gc removed %d contents, %d orphan files, %d staging files",
                len(candidates),
                len(orphans),
                len(staging),
            )
        return GcReport(
            dry_run=not delete,
            contents=tuple(candidates),
            orphans=tuple(orphans),
            staging=tuple(staging),
            bytes_freed=freed,
        )

    async def _delete_if_unreferenced(self, row: ContentRow, cutoff: datetime) -> bool:
        # The row goes first, in a transaction that checks again that nothing refers to
        # it; the file follows. A crash between leaves an orphan file for the next gc.
        async with self._store.write() as session:
            still = {r.id for r in await unreferenced_contents(session, added_before=cutoff)}
            if row.id not in still:
                return False
            await delete_content(session, row.id)
        await asyncio.to_thread(self._files.delete, row.id)
        return True

    def _older_than(self, content_id: str, cutoff: datetime) -> bool:
        try:
            mtime = self._files.path_of(content_id).stat().st_mtime
        except OSError:
            return True
        return mtime < cutoff.timestamp()

    def _stale_staging(self) -> list[Path]:
        return self._files.sweep_staging(STAGING_GRACE_S, dry_run=True)


def _row(
    stored: StoredContent,
    prepared: Prepared,
    *,
    title: str,
    language: str,
    added_by: str,
    kind: str,
    source_name: str,
    source_text: str | None,
    at: datetime,
) -> ContentRow:
    encode = prepared.format
    return ContentRow(
        id=stored.content_id,
        title=title,
        language=language,
        kind=kind,
        source_name=source_name,
        source_text=source_text,
        codec=encode.codec,
        mime_type=encode.mime_type,
        extension=encode.extension,
        bitrate_kbps=encode.bitrate_kbps,
        sample_rate=encode.sample_rate,
        duration_s=prepared.duration_s,
        size_bytes=stored.size,
        chunk_size=stored.manifest.chunk_size,
        chunk_count=stored.manifest.chunk_count,
        loudness_before_lufs=prepared.before.integrated_lufs,
        true_peak_before_dbtp=prepared.before.true_peak_dbtp,
        loudness_after_lufs=prepared.after.integrated_lufs,
        true_peak_after_dbtp=prepared.after.true_peak_dbtp,
        loudness_range_lu=prepared.after.range_lu,
        added_by=added_by,
        added_at=at,
    )


def _title_from_text(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= TITLE_FROM_TEXT_CHARS:
        return words
    cut = words[:TITLE_FROM_TEXT_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
