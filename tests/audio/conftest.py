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
