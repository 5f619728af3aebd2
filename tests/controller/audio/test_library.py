"""The audio library end to end: real ffmpeg and espeak-ng, a real SQLite store.

Inputs are made here with ffmpeg; loudness of what is stored is measured again,
independently, with `measure_loudness`.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audio.content_store import ContentStore
from audio.errors import NotAudioError
from audio.ffmpeg import find_tools
from audio.loudness import measure_loudness
from audio.manifest import build_manifest
from audio.prepare import PrepareSettings
from audio.tts.espeak import EspeakEngine
from audio.tts.vietnamese import TextError
from controller.audio import AudioLibrary, UnknownContent
from controller.store import Store
from controller.store.contents import list_contents

START = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    at: datetime = START
    steps: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.at.timestamp()


@dataclass
class World:
    library: AudioLibrary
    store: Store
    files: ContentStore
    clock: FakeClock
    folder: Path


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'loa.db'}")
    await store.upgrade()
    files = ContentStore(tmp_path / "audio")
    clock = FakeClock()
    library = AudioLibrary(store, files, PrepareSettings(), tts=EspeakEngine, clock=clock)
    try:
        yield World(library, store, files, clock, tmp_path)
    finally:
        await store.close()


def tone(path: Path, seconds: float = 4.0, *extra: str) -> Path:
    ffmpeg = find_tools().ffmpeg
    subprocess.run(
        [str(ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", f"sine=frequency=440:duration={seconds}:sample_rate=44100",
         "-af", "volume=-20dB", *extra, str(path)],
        check=True, timeout=30,
    )  # fmt: skip
    return path


def staged(files: ContentStore) -> list[Path]:
    return list(files.staging_dir().iterdir())


async def test_a_recording_is_prepared_stored_and_described(world: World) -> None:
    source = tone(world.folder / "bản tin sáng 06h.wav")
    added = await world.library.add_file(source, title=None, language="vi", added_by="chị Lan")
    row = added.content
    assert added.created
    assert row.title == "bản tin sáng 06h"
    assert row.source_name == "bản tin sáng 06h.wav"
    assert (row.kind, row.language, row.added_by, row.added_at) == ("file", "vi", "chị Lan", START)
    assert (row.codec, row.mime_type, row.bitrate_kbps, row.sample_rate) == (
        "mp3", "audio/mpeg", 48, 24000,
    )  # fmt: skip
    path = world.files.path_of(row.id)
    manifest = build_manifest(path)
    assert (manifest.content_id, manifest.size, manifest.chunk_count) == (
        row.id, row.size_bytes, row.chunk_count,
    )  # fmt: skip
    assert row.loudness_before_lufs < -25
    assert abs(measure_loudness(path).integrated_lufs - (-16.0)) <= 1.0
    assert abs(row.loudness_after_lufs - (-16.0)) <= 1.0
    assert source.exists(), "the operator's file is read, never moved or changed"
    assert staged(world.files) == []


async def test_the_same_audio_twice_is_one_content(world: World) -> None:
    source = tone(world.folder / "a.wav")
    first = await world.library.add_file(source, title="Lần 1", language="vi", added_by="a")
    world.clock.at += timedelta(hours=1)
    again = await world.library.add_file(source, title="Lần 2", language="vi", added_by="b")
    assert not again.created
    assert again.content == first.content, "the first record stands"
    assert world.files.ids() == [first.content.id]
    async with world.store.read() as session:
        assert len(await list_contents(session)) == 1
    assert staged(world.files) == []


async def test_text_is_read_aloud_in_vietnamese_and_stored_with_its_text(world: World) -> None:
    text = "Thông báo: ngày 02/12 tiêm vắc-xin lúc 07:30 tại trạm y tế xã."
    added = await world.library.add_text(text, title=None, language="vi", added_by="xã")
    row = added.content
    assert added.created
    assert (row.kind, row.source_text, row.source_name) == ("tts", text, "(espeak-ng)")
    assert row.title.startswith("Thông báo: ngày 02/12")
    assert added.speech is not None
    assert any("bảy giờ ba mươi" in s for s in added.speech.sentences)
    assert 2.0 < row.duration_s < 30.0
    assert abs(measure_loudness(world.files.path_of(row.id)).integrated_lufs + 16.0) <= 1.0
    assert staged(world.files) == []


@pytest.mark.parametrize("text", ["🙂🎉", "!!! ... ???"])
async def test_text_with_nothing_to_read_stores_nothing(world: World, text: str) -> None:
    with pytest.raises(TextError):
        await world.library.add_text(text, title=None, language="vi", added_by="x")
    assert world.files.ids() == []
    assert staged(world.files) == []


async def test_a_bad_file_leaves_nothing_behind(world: World) -> None:
    fake = world.folder / "bản tin.mp3"
    fake.write_text("đây không phải âm thanh", encoding="utf-8")
    with pytest.raises(NotAudioError) as caught:
        await world.library.add_file(fake, title=None, language="vi", added_by="x")
    assert "bản tin.mp3" in str(caught.value)
    assert world.files.ids() == []
    assert staged(world.files) == []
    async with world.store.read() as session:
        assert await list_contents(session) == []


async def test_ids_may_be_shortened_but_not_too_far(world: World) -> None:
    added = await world.library.add_file(
        tone(world.folder / "a.wav"), title=None, language="vi", added_by="x"
    )
    content_id = added.content.id
    assert (await world.library.get(content_id[:8].upper())).id == content_id
    with pytest.raises(UnknownContent, match="at least"):
        await world.library.get(content_id[:3])
    with pytest.raises(UnknownContent, match="no audio content"):
        await world.library.get("0" * 64 if not content_id.startswith("0") else "f" * 64)
    with pytest.raises(UnknownContent, match="no audio content"):
        await world.library.get("../../etc/passwd")


async def test_export_decodes_back_to_a_wav(world: World) -> None:
    added = await world.library.add_file(
        tone(world.folder / "a.wav", 3.0), title=None, language="vi", added_by="x"
    )
    out = world.folder / "nghe thử.wav"
    await world.library.export_wav(added.content.id[:10], out)
    assert out.read_bytes()[:4] == b"RIFF"
    assert abs(measure_loudness(out).integrated_lufs + 16.0) <= 1.0


async def test_gc_is_a_dry_run_until_asked_and_spares_recent_contents(world: World) -> None:
    old = await world.library.add_file(
        tone(world.folder / "old.wav", 3.0), title="cũ", language="vi", added_by="x"
    )
    world.clock.at += timedelta(days=2)
    new = await world.library.add_file(
        tone(world.folder / "new.wav", 5.0), title="mới", language="vi", added_by="x"
    )
    # A file with no row (a crash between storing and recording) and a staging leftover.
    orphan_source = tone(world.folder / "orphan.wav", 2.0, "-c:a", "libmp3lame")
    orphan = world.files.put(orphan_source, "mp3")
    leftover = world.files.staging_dir() / "tmp-prepare-crashed.mp3"
    leftover.write_bytes(b"half")
    long_ago = time.time() - 3 * 86400
    for path in (world.files.path_of(orphan.content_id), leftover):
        os.utime(path, (long_ago, long_ago))

    report = await world.library.gc(delete=False, grace=timedelta(days=1))
    assert report.dry_run
    assert [row.id for row in report.contents] == [old.content.id]
    assert report.orphans == (orphan.content_id,)
    assert report.staging == (leftover,)
    assert report.bytes_freed == old.content.size_bytes + orphan.size + 4
    assert set(world.files.ids()) == {old.content.id, new.content.id, orphan.content_id}

    done = await world.library.gc(delete=True, grace=timedelta(days=1))
    assert not done.dry_run
    assert [row.id for row in done.contents] == [old.content.id]
    assert world.files.ids() == [new.content.id]
    assert not leftover.exists()
    async with world.store.read() as session:
        assert [row.id for row in await list_contents(session)] == [new.content.id]
    again = await world.library.gc(delete=True, grace=timedelta(days=1))
    assert (again.contents, again.orphans, again.staging) == ((), (), ())


async def test_a_chime_asked_for_one_content_makes_it_another_content(world: World) -> None:
    source = tone(world.folder / "a.wav", 3.0)
    plain = await world.library.add_file(source, title=None, language="vi", added_by="x")
    chimed = await world.library.add_file(
        source, title="có chuông", language="vi", added_by="x", chime="both"
    )
    assert chimed.created
    assert chimed.content.id != plain.content.id
    # Two chimes (three notes and a gap each) lengthen the bulletin by a few seconds.
    assert chimed.content.duration_s > plain.content.duration_s + 2.0
    loudness = measure_loudness(world.files.path_of(chimed.content.id))
    assert abs(loudness.integrated_lufs + 16.0) <= 1.0
    assert loudness.true_peak_dbtp <= -1.0


async def test_a_twelve_hour_recording_is_refused_at_once(world: World) -> None:
    long = world.folder / "ghi cả ngày.flac"
    subprocess.run(
        [str(find_tools().ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "43200",
         "-c:a", "flac", "-compression_level", "0", "-frame_size", "32768", str(long)],
        check=True, timeout=60,
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(NotAudioError, match=r"lasts 12:00:00, longer than the limit of 4:00:00"):
        await world.library.add_file(long, title=None, language="vi", added_by="x")
    assert time.monotonic() - started < 10, "refused from the header, not after decoding 12 h"
    assert world.files.ids() == []
    assert staged(world.files) == []
