"""`loa audio` as an operator runs it: prepare, tts, list, show, play-to-wav, gc.

Each `loa` run costs most of a second, so one test walks through a whole story
rather than one command per test.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from audio.ffmpeg import find_tools
from audio.loudness import measure_loudness
from controller.store import Store
from tests.support.controller import LOA, one_error_line, run_loa, write_config


async def migrated(folder: Path) -> Path:
    config = write_config(folder)
    async with await Store.open(f"sqlite+aiosqlite:///{folder / 'data' / 'loa.db'}") as store:
        await store.upgrade()
    return config


def audio(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if stdin is None:
        return run_loa("audio", *args, "--config", str(config), timeout=60)
    return subprocess.run(
        [LOA, "audio", *args, "--config", str(config)],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def audio_json(config: Path, *args: str) -> Any:
    result = audio(config, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def recording(path: Path) -> Path:
    subprocess.run(
        [str(find_tools().ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", "sine=frequency=330:duration=2:sample_rate=44100",
         "-f", "lavfi", "-i", "anoisesrc=duration=6:amplitude=0.02:seed=7",
         "-filter_complex", "[0:a][1:a]amix=inputs=2:duration=longest,volume=-12dB",
         "-ac", "2", str(path)],
        check=True, timeout=30,
    )  # fmt: skip
    return path


async def test_an_operator_prepares_lists_checks_and_listens(tmp_path: Path) -> None:
    config = await migrated(tmp_path)
    source = recording(tmp_path / "họp thôn Nà Vường.wav")

    added = audio_json(config, "prepare", str(source), "--title", "Họp thôn", "--by", "anh Tú")
    assert added["created"] is True
    content = added["content"]
    content_id = content["id"]
    assert len(content_id) == 64
    assert (content["title"], content["added_by"], content["language"]) == (
        "Họp thôn", "anh Tú", "vi",
    )  # fmt: skip
    assert (content["codec"], content["bitrate_kbps"], content["sample_rate"]) == ("mp3", 48, 24000)
    assert abs(added["prepared"]["after"]["integrated_lufs"] + 16) <= 1
    assert added["content"]["added_at"].endswith("Z")

    again = audio(config, "prepare", str(source), "--title", "Lần nữa")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"already stored as {content_id[:12]} 'Họp thôn'")

    listed = audio_json(config, "list")
    assert [c["id"] for c in listed] == [content_id]
    table = audio(config, "list")
    assert "Họp thôn" in table.stdout
    assert "1 contents" in table.stdout

    shown = audio_json(config, "show", content_id[:8])
    assert shown["problems"] == []
    assert shown["manifest"]["content"] == content_id
    assert shown["manifest"]["chunk_count"] == content["chunk_count"]
    assert Path(shown["path"]).is_file()

    out = tmp_path / "nghe thử.wav"
    wav = audio(config, "play-to-wav", content_id[:8], str(out))
    assert wav.returncode == 0, wav.stderr
    assert abs(measure_loudness(out).integrated_lufs + 16) <= 1

    # A content whose bytes were damaged on disk is reported, and `show` exits 1.
    stored = Path(shown["path"])
    damaged = bytearray(stored.read_bytes())
    damaged[100] ^= 0xFF
    stored.write_bytes(bytes(damaged))
    broken = audio(config, "show", content_id)
    assert broken.returncode == 1
    assert "PROBLEM" in broken.stdout


async def test_text_from_stdin_is_read_aloud(tmp_path: Path) -> None:
    config = await migrated(tmp_path)
    result = audio(config, "tts", "-", "--json", stdin="Lúc 06:00 sáng mai, xã họp dân.\n")
    assert result.returncode == 0, result.stderr
    added = json.loads(result.stdout)
    assert added["content"]["kind"] == "tts"
    assert added["sentences"] == ["Lúc sáu giờ sáng mai, xã họp dân."]


async def test_bad_inputs_get_one_clear_line_and_store_nothing(tmp_path: Path) -> None:
    config = await migrated(tmp_path)
    fake = tmp_path / "bài hát.mp3"
    fake.write_text("not audio at all", encoding="utf-8")
    for args, expected in [
        (("prepare", str(fake)), "bài hát.mp3"),
        (("prepare", str(tmp_path / "không có.wav")), "không có.wav"),
        (("tts", "🙂🙂🙂"), "nothing to read"),
        (("tts", "xin chào", "--lang", "Tiếng Việt"), "--lang"),
        (("show", "abc"), "at least"),
        (("show", "f" * 64), "no audio content"),
        (("gc", "--grace-hours", "-1"), "--grace-hours"),
    ]:
        result = audio(config, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in one_error_line(result.stderr), args
    assert audio_json(config, "list") == []
    staging = tmp_path / "data" / "audio" / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []


async def test_gc_reports_then_deletes(tmp_path: Path) -> None:
    config = await migrated(tmp_path)
    source = recording(tmp_path / "a.wav")
    content_id = audio_json(config, "prepare", str(source))["content"]["id"]

    kept = audio(config, "gc")
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.startswith("nothing to remove")

    dry = audio_json(config, "gc", "--grace-hours", "0")
    assert dry["dry_run"] is True
    assert [c["id"] for c in dry["contents"]] == [content_id]
    assert audio_json(config, "list") != []

    done = audio(config, "gc", "--grace-hours", "0", "--delete")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("removed 1 unused contents")
    assert audio_json(config, "list") == []


def test_an_old_schema_asks_for_an_upgrade(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = audio(config, "list")
    assert result.returncode == 2
    assert "loa db upgrade" in one_error_line(result.stderr)
