"""The attention chime played before and/or after a bulletin.

The default is three notes falling through a C major chord, G5 E5 C5 (784, 659 and
523 Hz): the falling "ding-ding-dong" that public-address systems have long used for
"attention, an announcement", understood without words. The notes sit where the horn
loudspeakers of a commune system play efficiently (roughly 300 Hz to 5 kHz) and where
the ear is sensitive, below the speech sibilants; a chord's notes never clash. Each
note is its fundamental with a quieter octave (a quarter of the amplitude) for a
brighter, bell-like tone that carries outdoors.

Each note rises in 10 ms (a raised cosine, so there is no click), decays exponentially
(to -26 dB over its length, like a struck bar) and ends with a 30 ms raised-cosine fade
to exact zero. Notes follow each other without a pause; `gap_s` of silence separates the
chime from the speech.

The chime is made by ffmpeg's `aevalsrc` from one expression (`source`), measured once
per settings and sample rate (`unit_loudness`, cached) and given the gain that brings it
to the bulletin's target loudness, so chime and speech sound equally loud.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from audio.command import ffmpeg_says, quiet_args, run_timeout
from audio.errors import PrepareFailed
from audio.ffmpeg import Tools, find_tools, run
from audio.loudness import Loudness, parse_summary

__all__ = ["ChimeSettings", "chime_gain_db", "render_chime", "source", "unit_loudness"]

ATTACK_S = 0.010
RELEASE_S = 0.030
DECAY_TIME_CONSTANTS = 3.0
"""Over one note the envelope falls by e^-3 (26 dB) before the release fade."""
OCTAVE_LEVEL = 0.25
PEAK = 0.5
"""The chime's level before its gain: well clear of clipping inside the expression."""
MEASURE_S = 3.0


@dataclass(frozen=True, slots=True)
class ChimeSettings:
    """Whether to play the chime `before` and/or `after` the bulletin, and how it sounds."""

    before: bool = False
    after: bool = False
    tones_hz: tuple[float, ...] = (784.0, 659.25, 523.25)
    tone_s: float = 0.5
    gap_s: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= len(self.tones_hz) <= 8:
            raise ValueError(f"a chime has 1 to 8 notes, not {len(self.tones_hz)}")
        for tone in self.tones_hz:
            if not 100 <= tone <= 4000:
                raise ValueError(f"a chime note of {tone:g} Hz is out of range; use 100 to 4000")
        if not 0.1 <= self.tone_s <= 2:
            raise ValueError(f"a chime note of {self.tone_s:g} s is out of range; use 0.1 to 2")
        if not 0 <= self.gap_s <= 5:
            raise ValueError(
                f"a gap of {self.gap_s:g} s after the chime is out of range; use 0 to 5"
            )

    @property
    def enabled(self) -> bool:
        return self.before or self.after

    @property
    def chime_s(self) -> float:
        """How long the notes last, without the gap."""
        return len(self.tones_hz) * self.tone_s


def _note(freq: float, start: float, length: float) -> str:
    """One note, as an `aevalsrc` expression in `t`: zero outside [start, start + length]."""
    x = f"(t-{start:.6f})"
    attack = f"if(lt({x},{ATTACK_S}),0.5-0.5*cos(PI*{x}/{ATTACK_S}),1)"
    fade = f"{length - RELEASE_S:.6f}"
    release = f"if(gt({x},{fade}),0.5+0.5*cos(PI*({x}-{fade})/{RELEASE_S}),1)"
    decay = f"exp(-{DECAY_TIME_CONSTANTS / length:.6f}*{x})"
    tone = f"(sin(2*PI*{freq:.4f}*{x})+{OCTAVE_LEVEL}*sin(4*PI*{freq:.4f}*{x}))"
    gate = f"between({x},0,{length:.6f})"
    return f"{gate}*{attack}*{release}*{decay}*{tone}"


def source(settings: ChimeSettings, sample_rate: int, *, lead_s: float = 0.0,
           tail_s: float = 0.0) -> str:  # fmt: skip
    """An ffmpeg `lavfi` input: `lead_s` of silence, the chime, then `tail_s` of silence."""
    notes = "+".join(
        _note(freq, lead_s + i * settings.tone_s, settings.tone_s)
        for i, freq in enumerate(settings.tones_hz)
    )
    scale = PEAK / (1 + OCTAVE_LEVEL)
    duration = lead_s + settings.chime_s + tail_s
    # Single quotes keep the expression's commas and colons from the filtergraph parser.
    return f"aevalsrc=exprs='{scale:.6f}*({notes})':s={sample_rate}:d={duration:.6f}"


@functools.lru_cache(maxsize=32)
def unit_loudness(settings: ChimeSettings, sample_rate: int, ffmpeg_path: Path) -> Loudness:
    """The chime's loudness as `source` makes it (before any gain); cached."""
    tools = Tools(ffmpeg_path, None)
    # Played in a loop for MEASURE_S: R128 gating measures 400 ms blocks, longer than a
    # chime of short notes, and a chime is as loud as the loop of it.
    repeats = math.ceil(MEASURE_S / settings.chime_s)
    chime = (
        ffmpeg.input(source(settings, sample_rate), f="lavfi")
        .filter("aloop", loop=repeats - 1, size=round(settings.chime_s * sample_rate))
        .filter("ebur128", peak="true", framelog="verbose")
    )
    args = ffmpeg.output(chime, "-", format="null").compile(cmd=quiet_args(tools))
    done = run(args, timeout=run_timeout(MEASURE_S))
    found = parse_summary(done.stderr)
    if done.returncode != 0 or not found:
        raise PrepareFailed(Path("chime"), "measuring the chime", ffmpeg_says(done.stderr))
    return found[-1]


def chime_gain_db(settings: ChimeSettings, target_lufs: float, sample_rate: int,
                  tools: Tools) -> float:  # fmt: skip
    """The gain (dB) that brings the chime to `target_lufs`."""
    return target_lufs - unit_loudness(settings, sample_rate, tools.ffmpeg).integrated_lufs


def render_chime(settings: ChimeSettings, out: Path, *, target_lufs: float = -16.0,
                 sample_rate: int = 24000, tools: Tools | None = None) -> None:  # fmt: skip
    """Write the chime alone, at `target_lufs`, as a 16-bit WAV (to hear or check it).

    Its true peak is kept under -1 dBTP: at a high target the chime comes out quieter
    (`prepare` passes it through its limiter instead).
    """
    tools = tools or find_tools()
    unit = unit_loudness(settings, sample_rate, tools.ffmpeg)
    gain = min(target_lufs - unit.integrated_lufs, -1.0 - unit.true_peak_dbtp)
    chime = ffmpeg.input(source(settings, sample_rate), f="lavfi").filter("volume", f"{gain:.4f}dB")
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        args = ffmpeg.output(
            chime, str(tmp), format="wav", acodec="pcm_s16le", fflags="+bitexact"
        ).compile(cmd=quiet_args(tools), overwrite_output=True)
        done = run(args, timeout=run_timeout(settings.chime_s))
        if done.returncode != 0:
            raise PrepareFailed(out, "writing the chime", ffmpeg_says(done.stderr))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
