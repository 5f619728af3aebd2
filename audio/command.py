"""Running ffmpeg for the conversion steps: the command prefix, the wait, and what it said.

Command lines are built with ffmpeg-python (`ffmpeg.input(...).filter(...).output(...)`)
and compiled with `cmd=quiet_args(tools)`, so the binary is the one `find_tools` chose
(the system ffmpeg, else the imageio-ffmpeg one). Every run is bounded by
`run_timeout(duration)`. ffmpeg logs with `-loglevel level+info`: each line carries its
level, so `ffmpeg_says` can pick the last real error out of the filter summaries.
"""

from __future__ import annotations

import re
from pathlib import Path

from audio.ffmpeg import Tools

TIMEOUT_BASE_S = 30.0
TIMEOUT_PER_AUDIO_S = 1 / 5
"""A run may take 30 s plus a fifth of the audio's duration (the slowest pass runs ~40x)."""

_CONTEXT = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\] ")
_LEVEL = re.compile(r"^\[(?P<level>fatal|error|warning)\] ")
_GENERIC = (
    "Conversion failed!",
    "Error while filtering",
    "Error reinitializing filters",
    "Failed to inject frame into filter network",
    "Error while processing the decoded data",
    "Error initializing complex filters",
    "Error opening output files",
    "Nothing was written into output file",
)


def quiet_args(tools: Tools) -> list[str]:
    """The ffmpeg binary and the global options every conversion run uses."""
    return [str(tools.ffmpeg), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info"]


def input_url(path: Path) -> str:
    """`path` as an ffmpeg input: `file:` keeps a name such as `tin: sáng.mp3` a file name."""
    return f"file:{path.resolve()}"


def run_timeout(duration_s: float) -> float:
    """How long one ffmpeg run over `duration_s` seconds of audio may take."""
    return TIMEOUT_BASE_S + max(duration_s, 0.0) * TIMEOUT_PER_AUDIO_S


def ffmpeg_says(stderr: str, path: Path | None = None) -> str:
    """ffmpeg's last meaningful error line, for a message (`path`'s URL prefix removed)."""
    prefix = f"{input_url(path)}: " if path is not None else None
    errors: list[str] = []
    warnings: list[str] = []
    for raw in stderr.splitlines():
        line = _CONTEXT.sub("", raw.strip())
        level = _LEVEL.match(line)
        if level is None:
            continue
        text = line[level.end() :].strip()
        if prefix is not None:
            text = text.removeprefix(prefix)
        if not text or text.startswith(_GENERIC):
            continue
        (warnings if level["level"] == "warning" else errors).append(text)
    said = errors or warnings
    return f"ffmpeg says: {said[-1]}" if said else "ffmpeg gave no reason"
