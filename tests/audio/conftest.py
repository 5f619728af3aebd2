"""Audio test inputs, all made here by the real ffmpeg: no binary fixtures."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from audio.ffmpeg import Tools, find_tools

Make = Callable[..., Path]


@pytest.fixture(scope="session")
def system_tools() -> Tools:
    tools = find_tools()
    if tools.bundled or tools.ffprobe is None:
        pytest.skip("these tests need the system ffmpeg and ffprobe (apt-get install ffmpeg)")
    return tools


@pytest.fixture(scope="session")
def _made() -> dict[tuple[str, ...], Path]:
    """Inputs made so far, by ffmpeg arguments: each is made once per session."""
    return {}


@pytest.fixture
def make(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    system_tools: Tools,
    _made: dict[tuple[str, ...], Path],
) -> Make:
    """`make(name, *ffmpeg_args)` writes `tmp_path/name` with ffmpeg and returns its path.

    The first test to ask for an input makes it; later ones get a copy of their own
    (tests may cut or damage theirs).
    """

    def _make(name: str, *args: str) -> Path:
        key = (Path(name).suffix, *args)
        made = _made.get(key)
        if made is None:
            made = tmp_path_factory.mktemp("made") / f"input{Path(name).suffix}"
            subprocess.run(
                [str(system_tools.ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-y",
                 *args, str(made)],
                check=True,
                timeout=30,
                capture_output=True,
            )  # fmt: skip
            _made[key] = made
        out = tmp_path / name
        shutil.copyfile(made, out)
        return out

    return _make


def has_decoder(ffmpeg: Path, name: str) -> bool:
    return _listed(ffmpeg, "-decoders", name)


def has_encoder(ffmpeg: Path, name: str) -> bool:
    return _listed(ffmpeg, "-encoders", name)


def _listed(ffmpeg: Path, listing_option: str, name: str) -> bool:
    listing = subprocess.run(
        [str(ffmpeg), "-hide_banner", listing_option],
        check=True,
        timeout=30,
        capture_output=True,
        text=True,
    ).stdout
    return any(line.split()[1:2] == [name] for line in listing.splitlines() if line.strip())


def amr_nb(path: Path, frames: int = 100) -> Path:
    """An AMR-NB file (RFC 4867 storage format) of 12.2 kbit/s frames, 20 ms each.

    Debian's ffmpeg has the AMR decoder but no AMR encoder (libopencore_amrnb), so the
    frames are written by hand: a mode-7 header byte and 31 bytes of speech parameters.
    Any bits are valid parameters, so the decoder plays them (as noise).
    """
    body = b"".join(
        bytes([0x3C]) + bytes((i * 31 + j * 7) % 256 for j in range(31)) for i in range(frames)
    )
    path.write_bytes(b"#!AMR\n" + body)
    return path


def bundled_ffmpeg() -> Path | None:
    """The imageio-ffmpeg binary, when that wheel is installed."""
    tools = find_tools(search_path="", allow_bundled=True)
    return tools.ffmpeg if tools.bundled else None


# Fixtures for the preparation tests (audio/prepare.py and its helpers).

VIETNAMESE_BULLETIN = (
    "Xin chào bà con. Đây là bản tin sáng của xã Hòa Bình, ngày hai mươi lăm tháng mười một. "
    "Hôm nay trời nắng, nhiệt độ từ hai mươi đến hai mươi tám độ. Bà con chú ý phòng chống "
    "dịch bệnh cho gia súc, gia cầm."
)


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 12 s of Vietnamese read by espeak-ng (22.05 kHz mono; it peaks at 0 dBFS)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("these tests need espeak-ng (apt-get install espeak-ng)")
    out = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(
        [espeak, "-v", "vi", "-w", str(out), VIETNAMESE_BULLETIN],
        check=True,
        timeout=60,
        capture_output=True,
    )
    return out


def stream_info(ffprobe: Path, path: Path) -> dict[str, str]:
    """The first audio stream's fields and the container's, as ffprobe prints them."""
    import json  # noqa: PLC0415 (only these tests need it)

    done = subprocess.run(
        [str(ffprobe), "-v", "error", "-of", "json", "-show_format", "-show_streams", str(path)],
        check=True,
        timeout=30,
        capture_output=True,
        text=True,
    )
    data = json.loads(done.stdout)
    audio = next(s for s in data["streams"] if s["codec_type"] == "audio")
    fields = {f"format.{k}": str(v) for k, v in data["format"].items() if not isinstance(v, dict)}
    return {**fields, **{k: str(v) for k, v in audio.items() if not isinstance(v, dict)}}
