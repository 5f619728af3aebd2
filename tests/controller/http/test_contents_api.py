"""`/api/v1/contents`: uploads streamed under a limit, text read aloud, playback, and the
uploads that must leave nothing behind (not audio, too large, interrupted)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.dashboard import DashboardWorld, dashboard_world, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"


def tone(path: Path, seconds: float = 2.0) -> Path:
    """A real recording made by ffmpeg: a 440 Hz tone, mono WAV."""
    subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", f"sine=frequency=440:duration={seconds}", "-ac", "1", str(path)],
        check=True,
        timeout=30,
        capture_output=True,
    )  # fmt: skip
    return path


def uploads(world: DashboardWorld) -> list[Path]:
    folder = Path(world.config.data_dir) / "uploads"
    return sorted(folder.rglob("*")) if folder.exists() else []


async def stored(world: DashboardWorld) -> int:
    return int((await world.api("GET", "/api/v1/contents")).json()["total"])


async def test_upload_play_back_find_and_refuse(tmp_path: Path) -> None:
    async with dashboard_world(
        tmp_path, receivers=2, villages=1, start_fleet=False, http={"max_upload_mb": 1}
    ) as world:
        wav = tone(tmp_path / "Thông báo họp.wav")
        with wav.open("rb") as audio:
            answer = await world.api(
                "POST",
                "/api/v1/contents",
                files={"file": (wav.name, audio, "audio/wav")},
                data={"title": "Họp thôn tối nay", "language": "vi"},
            )
        assert answer.status_code == 201, answer.text
        added = answer.json()
        content = added["content"]
        assert added["created"] is True
        assert content["title"] == "Họp thôn tối nay"
        assert content["source_name"] == "Thông báo họp.wav"
        assert content["mime_type"] == "audio/mpeg"
        assert 1.5 < content["duration_s"] < 2.5
        assert uploads(world) == []  # the temp copy is gone once prepared

        # Playback: the encoded file, with its media type, and by ranges for a player.
        audio_answer = await world.api("GET", content["audio_url"])
        assert audio_answer.status_code == 200
        assert audio_answer.headers["content-type"] == "audio/mpeg"
        assert len(audio_answer.content) == content["size_bytes"]
        part = await world.api("GET", content["audio_url"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206
        assert len(part.content) == 100

        # Found by a prefix of its id, by words and by language.
        one = await world.api("GET", f"/api/v1/contents/{content['id'][:8]}")
        assert one.json()["id"] == content["id"]
        found = (await world.api("GET", "/api/v1/contents?q=họp%20thôn&language=vi")).json()
        assert [c["id"] for c in found["items"]] == [content["id"]]
        none = (await world.api("GET", "/api/v1/contents?language=en")).json()
        assert none["total"] == 0

        # The same recording again is the same content, answered 200.
        with wav.open("rb") as audio:
            again = await world.api("POST", "/api/v1/contents", files={"file": (wav.name, audio)})
        assert again.status_code == 200
        assert again.json()["created"] is False
        assert again.json()["content"]["id"] == content["id"]

        # Text renamed .mp3: ffmpeg's reason, named by the file the person sent.
        fake = tmp_path / "ban-tin.mp3"
        fake.write_text("Đây không phải âm thanh, chỉ là chữ.\n" * 20, encoding="utf-8")
        with fake.open("rb") as data:
            refused = await world.api(
                "POST", "/api/v1/contents", files={"file": (fake.name, data, "audio/mpeg")}
            )
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["detail"].startswith("ban-tin.mp3: ")
        assert "audio" in problem["detail"]
        assert problem["errors"][0]["field"] == "file"
        assert str(world.config.data_dir) not in problem["detail"]
        assert await stored(world) == 1
        assert uploads(world) == []

        # Unknown ids and a missing file.
        missing = await world.api("GET", "/api/v1/contents/" + "ab" * 32)
        assert missing.status_code == 404
        assert "no audio content has the id" in missing.json()["detail"]
        assert (
            await world.api("GET", "/api/v1/contents/" + "ab" * 32 + "/audio")
        ).status_code == 404
        empty = await world.api("POST", "/api/v1/contents", data={"title": "x"}, files={})
        assert empty.status_code in (415, 422)


async def test_too_large_and_interrupted_uploads_leave_nothing(tmp_path: Path) -> None:
    async with dashboard_world(
        tmp_path, receivers=2, villages=1, start_fleet=False, http={"max_upload_mb": 1}
    ) as world:
        # Over 1 MB, said by Content-Length: refused before it is read.
        big = tone(tmp_path / "long.wav", seconds=40.0)  # 16-bit 44.1 kHz: ~3.5 MB
        assert big.stat().st_size > 1024 * 1024
        with big.open("rb") as audio:
            answer = await world.api("POST", "/api/v1/contents", files={"file": (big.name, audio)})
        assert answer.status_code == 413
        assert "larger than the limit of 1 MB" in answer.json()["detail"]
        assert answer.json()["errors"][0]["field"] == "file"

        # Over 1 MB, sent chunked (no length known): refused as it grows past the limit.
        boundary = "loa-test-boundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="long.wav"\r\nContent-Type: audio/wav\r\n\r\n'
        ).encode()

        async def chunks() -> AsyncIterator[bytes]:
            yield head
            with big.open("rb") as audio:
                while block := audio.read(64 * 1024):
                    yield block
            yield f"\r\n--{boundary}--\r\n".encode()

        chunked = await world.api(
            "POST",
            "/api/v1/contents",
            content=chunks(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert chunked.status_code == 413
        assert await stored(world) == 0
        assert uploads(world) == []

        # A client that goes away mid-upload: the part written so far is removed.
        host, port = world.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            (
                "POST /api/v1/contents HTTP/1.1\r\n"
                f"Host: {host}\r\nContent-Length: 900000\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
            ).encode()
            + head
            + big.read_bytes()[:300_000]
        )
        await writer.drain()
        await wait_for(lambda: any(p.is_file() for p in uploads(world)), what="the upload on disk")
        writer.close()
        await writer.wait_closed()
        del reader
        await wait_for(lambda: uploads(world) == [], what="the interrupted upload removed")
        assert await stored(world) == 0


async def test_text_read_aloud(tmp_path: Path) -> None:
    async with dashboard_world(tmp_path, receivers=2, villages=1, start_fleet=False) as world:
        body = {"text": "Kính mời bà con đến họp thôn lúc bảy giờ tối nay.", "language": "vi"}
        answer = await world.api("POST", "/api/v1/contents/tts", json=body)
        assert answer.status_code == 201, answer.text
        content = answer.json()["content"]
        assert content["kind"] == "tts"
        assert content["source_text"] == body["text"]
        assert content["title"] == body["text"]
        assert content["duration_s"] > 1.0
        again = await world.api("POST", "/api/v1/contents/tts", json=body)
        assert again.status_code == 200
        assert again.json()["content"]["id"] == content["id"]

        blank = await world.api("POST", "/api/v1/contents/tts", json={"text": "   "})
        assert blank.status_code == 422
        assert blank.json()["errors"][0]["field"] == "text"
        bad = await world.api(
            "POST", "/api/v1/contents/tts", json={"text": "Xin chào", "language": "Tiếng Việt"}
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "language"
