"""Finding ffmpeg: system first, then the imageio-ffmpeg binary, else a clear error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from audio.errors import FfmpegFailed, FfmpegNotFound
from audio.ffmpeg import Tools, find_tools, run


def test_system_binaries_come_first(system_tools: Tools) -> None:
    assert system_tools.ffmpeg.name == "ffmpeg"
    assert system_tools.ffprobe is not None
    assert system_tools.ffprobe.name == "ffprobe"
    assert not system_tools.bundled


def test_ffmpeg_without_ffprobe_on_path(tmp_path: Path, system_tools: Tools) -> None:
    (tmp_path / "ffmpeg").symlink_to(system_tools.ffmpeg)
    tools = find_tools(search_path=str(tmp_path))
    assert tools == Tools(tmp_path / "ffmpeg", None)


def test_bundled_ffmpeg_when_none_on_path(tmp_path: Path) -> None:
    tools = find_tools(search_path=str(tmp_path))
    assert tools.bundled
    assert tools.ffprobe is None
    assert tools.ffmpeg.is_file()
    assert "imageio_ffmpeg" in str(tools.ffmpeg)


def test_no_ffmpeg_at_all_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(FfmpegNotFound, match=r"apt-get install ffmpeg"):
        find_tools(search_path=str(tmp_path), allow_bundled=False)


def test_run_is_bounded_by_its_timeout() -> None:
    script = "import time; time.sleep(10)"
    with pytest.raises(FfmpegFailed, match=r"did not finish within 0.2 s"):
        run([sys.executable, "-c", script], timeout=0.2)


def test_run_reports_a_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(FfmpegFailed, match=r"could not be started"):
        run([tmp_path / "no-ffmpeg-here"], timeout=5)
