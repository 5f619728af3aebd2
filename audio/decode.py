"""Reading a source: its first audio stream, mixed down to mono, or decoded to a WAV.

The mono mix is ffmpeg's standard downmix (libswresample's matrix: centre at full level,
left/right and surrounds at -3 dB, LFE left out) wherever the channel layout is known,
computed in 32-bit float so nothing clips before the gain. A file with more than two
channels and *no* layout (an 8-track recorder's WAV, say) gets the plain average of its
channels instead: ffmpeg would guess a layout for it (8 channels -> 7.1) and the guess
drops the channel it takes for LFE; measured here, a signal on channel 4 of an unlabelled
8-channel WAV came out of `-ac 1` / `aformat=channel_layouts=mono` as silence.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import ffmpeg

from audio.command import ffmpeg_says, input_url, quiet_args, run_timeout
from audio.errors import PrepareFailed
from audio.ffmpeg import Tools, find_tools, run
from audio.probe import METADATA_TIMEOUT_S, probe

__all__ = ["decode_to_wav", "layout_known", "mono"]

_AUDIO_LAYOUT = re.compile(r"Stream #0:\d+\S*: Audio: [^\n]*?, \d+ Hz, (?P<layout>[^,\n]+)")


def layout_known(path: Path, tools: Tools, channels: int) -> bool:
    """Whether the first audio stream of `path` has a channel layout (1-2 channels always do).

    Read from `ffmpeg -i` with layout guessing off, which works with or without ffprobe.
    """
    if channels in (1, 2):
        return True
    done = run(
        [tools.ffmpeg, "-hide_banner", "-nostdin", "-guess_layout_max", "0", "-i", input_url(path)],
        timeout=METADATA_TIMEOUT_S,
    )
    found = _AUDIO_LAYOUT.search(done.stderr)
    return found is not None and re.fullmatch(r"\d+ channels", found["layout"].strip()) is None


def mono(stream: Any, channels: int, *, known_layout: bool) -> Any:
    """`stream` (an ffmpeg-python audio stream) mixed down to mono float samples."""
    if known_layout or channels <= 1:
        return stream.filter("aformat", sample_fmts="flt", channel_layouts="mono")
    weight = 1 / channels
    mix = "+".join(f"{weight:.6f}*c{i}" for i in range(channels))
    return stream.filter("pan", args=f"mono|c0={mix}").filter("aformat", sample_fmts="flt")


#: The largest `gain` decode_to_wav takes (4x, +12 dB).
MAX_GAIN = 4.0


def decode_to_wav(path: Path, out: Path, *, tools: Tools | None = None, gain: float = 1.0) -> None:
    """Decode the first audio stream of `path` to 16-bit PCM WAV at `out`, atomically.

    Channels and sample rate are kept; `gain` scales the amplitude (a loudspeaker's
    volume: 0.8 at 80 %; 1.0 leaves the samples as decoded). The WAV is written to a
    temporary file beside `out` and renamed into place only when ffmpeg succeeded; it
    becomes RF64 past 4 GB.
    Raises a `NotAudioError` for a file that is not usable audio, `PrepareFailed` when
    ffmpeg fails.
    """
    if not 0.0 <= gain <= MAX_GAIN:
        raise ValueError(f"gain must be from 0 to {MAX_GAIN:g}, not {gain}")
    tools = tools or find_tools()
    info = probe(path, tools=tools, decode=False)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        audio = ffmpeg.input(input_url(path))["a:0"]
        if gain != 1.0:
            audio = audio.filter("volume", f"{gain:.6f}", precision="double")
        args = ffmpeg.output(
            audio,
            str(tmp),
            format="wav",
            acodec="pcm_s16le",
            rf64="auto",
            map_metadata=-1,
            fflags="+bitexact",
        ).compile(cmd=quiet_args(tools), overwrite_output=True)
        done = run(args, timeout=run_timeout(info.duration_s))
        if done.returncode != 0:
            raise PrepareFailed(path, "decoding to WAV", ffmpeg_says(done.stderr, path))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
