"""Locate ffmpeg and ffprobe, and run them with a bounded wait.

The system binaries on PATH come first (Debian: `apt-get install ffmpeg`). Without
them, the static ffmpeg shipped in the `imageio-ffmpeg` wheel is used; that wheel has
no ffprobe, so `Tools.ffprobe` is then `None` and `audio.probe` reads `ffmpeg -i`
output instead (see there for what that loses).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from audio.errors import FfmpegFailed, FfmpegNotFound

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install ffmpeg (`apt-get install ffmpeg` on Debian/Ubuntu) "
    "or the Python package imageio-ffmpeg (`pip install imageio-ffmpeg`)"
)


@dataclass(frozen=True, slots=True)
class Tools:
    """The binaries found: `ffprobe` is `None` when only a bundled ffmpeg exists."""

    ffmpeg: Path
    ffprobe: Path | None
    bundled: bool = False


def find_tools(search_path: str | None = None, *, allow_bundled: bool = True) -> Tools:
    """Find ffmpeg (and ffprobe) on `search_path` (default: PATH), else the bundled one.

    Raises `FfmpegNotFound`, saying how to install ffmpeg, when there is none.
    """
    ffmpeg = shutil.which("ffmpeg", path=search_path)
    if ffmpeg is not None:
        ffprobe = shutil.which("ffprobe", path=search_path)
        if ffprobe is None:
            log.warning("ffprobe not found next to %s; probing reads `ffmpeg -i` output", ffmpeg)
        return Tools(Path(ffmpeg), None if ffprobe is None else Path(ffprobe))
    if allow_bundled:
        bundled = _bundled_ffmpeg()
        if bundled is not None:
            return Tools(bundled, None, bundled=True)
    raise FfmpegNotFound(f"ffmpeg was not found on PATH; {INSTALL_HINT}")


def _bundled_ffmpeg() -> Path | None:
    try:
        import imageio_ffmpeg  # noqa: PLC0415 (optional, and slow to import)

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None
    path = Path(exe)
    return path if path.is_file() else None


def run(args: list[str | Path], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `args` (no shell), capture text output, and give up after `timeout` seconds.

    A non-zero exit status is returned, not raised: callers read stderr for the reason.
    """
    argv = [str(a) for a in args]
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise FfmpegFailed(f"{argv[0]} did not finish within {timeout:g} s: {argv}") from exc
    except OSError as exc:
        raise FfmpegFailed(f"{argv[0]} could not be started ({exc}); {INSTALL_HINT}") from exc
