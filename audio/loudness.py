"""Loudness as EBU R128 defines it (ITU-R BS.1770): integrated level, true peak, range.

Every figure comes from ffmpeg's `ebur128` filter with `peak=true`: gated integrated
loudness in LUFS, loudness range in LU, and the true peak in dBTP (the signal upsampled
to 192 kHz, so the peaks between samples count). A mono file is measured as one
channel, the way the loudspeakers play it.

`measure_loudness(path)` is an independent measurement of any audio file: it decodes the
file on its own, whatever made it. `parse_summary` reads the summary that `ebur128`
prints when its graph ends, so the preparation passes can tap the same filter.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from audio.command import ffmpeg_says, input_url, quiet_args, run_timeout
from audio.errors import PrepareFailed
from audio.ffmpeg import Tools, find_tools, run

__all__ = ["SILENT_LUFS", "Loudness", "measure_loudness", "parse_summary"]

SILENT_LUFS = -70.0
"""`ebur128` reports this integrated level when nothing passes its absolute gate: silence,
or audio shorter than one 400 ms measuring block."""


@dataclass(frozen=True, slots=True)
class Loudness:
    """EBU R128 figures: `true_peak_dbtp` is `-inf` for digital silence."""

    integrated_lufs: float
    true_peak_dbtp: float
    range_lu: float

    @property
    def silent(self) -> bool:
        """Nothing passed the -70 LUFS gate: silence, or under 0.4 s of sound."""
        return self.integrated_lufs <= SILENT_LUFS


_NUMBER = r"(-?inf|-?\d+(?:\.\d+)?)"
_I = re.compile(rf"^\s*I:\s*{_NUMBER} LUFS$", re.MULTILINE)
_LRA = re.compile(rf"^\s*LRA:\s*{_NUMBER} LU$", re.MULTILINE)
_TP = re.compile(rf"True peak:\s*Peak:\s*{_NUMBER} dBFS")


def parse_summary(stderr: str) -> list[Loudness]:
    """Every `ebur128` summary in `stderr`, in the order printed.

    A summary is the `Summary:` line and the unprefixed lines after it, up to the next
    log line (`[...`). One without a true-peak section (`peak` not set) gets
    `true_peak_dbtp = nan`.
    """
    found = []
    for chunk in stderr.split("Summary:")[1:]:
        lines = chunk.splitlines()
        end = next((n for n, line in enumerate(lines) if line.startswith("[")), len(lines))
        text = "\n".join(lines[:end])
        i, lra, tp = _I.search(text), _LRA.search(text), _TP.search(text)
        if i is None or lra is None:
            continue
        found.append(Loudness(float(i[1]), math.nan if tp is None else float(tp[1]), float(lra[1])))
    return found


def measure_loudness(path: Path, *, tools: Tools | None = None) -> Loudness:
    """Measure the first audio stream of `path`: integrated LUFS, true peak dBTP, range LU.

    Raises `PrepareFailed` when ffmpeg cannot decode the file. No duration limit is
    applied: the wait grows with the file's size (at least 10 MB a second of budget).
    """
    loudness, _ = measure(path, tools=tools)
    return loudness


def measure(
    path: Path, *, tools: Tools | None = None, expected_s: float | None = None
) -> tuple[Loudness, float]:
    """`measure_loudness` and the decoded duration in seconds, from one decode.

    `expected_s`, the audio's duration if known, sets the timeout (else the file's size).
    """
    tools = tools or find_tools()
    stream = ffmpeg.input(input_url(path))["a:0"].filter("ebur128", peak="true", framelog="verbose")
    args = ffmpeg.output(stream, "-", format="null").compile(cmd=quiet_args(tools))
    done = run(
        [*args, "-progress", "pipe:1"],
        timeout=run_timeout(expected_s if expected_s is not None else _size_seconds(path)),
    )
    summaries = parse_summary(done.stderr)
    if done.returncode != 0 or not summaries:
        raise PrepareFailed(path, "measuring the loudness", ffmpeg_says(done.stderr, path))
    return summaries[-1], decoded_seconds(done.stdout)


def decoded_seconds(progress: str) -> float:
    """The last `out_time_us` that `ffmpeg -progress` wrote, in seconds (0 if none)."""
    times = re.findall(r"^out_time_us=(\d+)$", progress, re.MULTILINE)
    return int(times[-1]) / 1e6 if times else 0.0


def _size_seconds(path: Path) -> float:
    """A duration stand-in for the timeout: 1 s per 64 KB is slower than any compressed audio."""
    try:
        return path.stat().st_size / 64_000
    except OSError:
        return 0.0
