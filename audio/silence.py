"""Where the sound starts and ends: leading and trailing silence, from `silencedetect`.

The preparation's first pass runs ffmpeg's `silencedetect` (on the mono mix, before any
gain) beside the loudness meter; `parse_silences` reads its log and `trim_points` turns it
into the part to keep, with `keep_s` of the silence left at each end so the speech does
not start or stop abruptly. Silence in the middle is never cut: a pause is part of speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Silence", "TrimPoints", "parse_silences", "trim_points"]

_EVENT = re.compile(r"silence_(?P<kind>start|end): (?P<t>-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)")

EDGE_S = 0.01
"""A silence within this of the start or end of the audio touches it."""


@dataclass(frozen=True, slots=True)
class Silence:
    """A silent stretch; `end_s` is `None` when it ran to the end of the audio."""

    start_s: float
    end_s: float | None


@dataclass(frozen=True, slots=True)
class TrimPoints:
    """Keep the audio from `start_s` to `end_s` (seconds from the start of the source)."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def parse_silences(log: str) -> list[Silence]:
    """The silences `silencedetect` reported in `log` (ffmpeg's stderr), in order."""
    found: list[Silence] = []
    start: float | None = None
    for m in _EVENT.finditer(log):
        t = max(0.0, float(m["t"]))
        if m["kind"] == "start":
            if start is not None:  # two starts in a row: the first never ended
                found.append(Silence(start, None))
            start = t
        elif start is not None:
            found.append(Silence(start, t))
            start = None
    if start is not None:
        found.append(Silence(start, None))
    return found


def trim_points(silences: list[Silence], duration_s: float, keep_s: float) -> TrimPoints | None:
    """The part of `duration_s` seconds to keep, or `None` when it is all silence.

    Only a silence that touches the start (or the end) is trimmed, down to `keep_s`.
    """
    start = 0.0
    end = duration_s
    for s in silences:
        s_end = duration_s if s.end_s is None else s.end_s
        if s.start_s <= EDGE_S and s_end >= duration_s - EDGE_S:
            return None
        if s.start_s <= EDGE_S:
            start = max(start, s_end - keep_s, 0.0)
        elif s_end >= duration_s - EDGE_S:
            end = min(end, s.start_s + keep_s, duration_s)
    if end - start <= 0:
        return None
    return TrimPoints(start, end)
