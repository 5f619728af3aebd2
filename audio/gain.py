"""How much gain a bulletin needs to reach its loudness, with or without a peak limiter.

Without a limiter, loudness follows gain one for one. With one, the loudness depends on
how far the gain drives the audio past the limiter's ceiling, and on nothing else: a
limiter is scale-invariant (twice the input against twice the ceiling gives twice the
output), so `loudness - ceiling` is a function of `gain - ceiling` alone. `LimiterCurve`
is that function, measured at a few points on the audio itself (the preparation's
search pass) and interpolated; it predicts the loudness for any gain *and any ceiling*,
so lowering the ceiling after an encoder overshoot needs no new measurement.

What the encoder changes (MP3 at 48 kbit/s takes about 0.4 LU off speech) is learnt
from the first encode (`GainPlan.learn`) and allowed for in the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIN_SLOPE", "GainPlan", "LimiterCurve"]

MIN_SLOPE = 0.25
"""The flattest the curve is assumed to get past its last measured point (LU per dB)."""


@dataclass(frozen=True, slots=True)
class LimiterCurve:
    """Loudness above the ceiling (LU) against gain above it (dB), at measured points."""

    depths: tuple[float, ...]
    levels: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.depths) != len(self.levels) or len(self.depths) < 2:
            raise ValueError("a limiter curve needs two or more (depth, level) points")
        if any(b <= a for a, b in zip(self.depths, self.depths[1:], strict=False)):
            raise ValueError(f"a limiter curve's depths must increase: {self.depths}")

    @classmethod
    def measured(cls, ceiling_db: float, gains_db: list[float], lufs: list[float]) -> LimiterCurve:
        """From loudness measured at each gain under `ceiling_db`, in any order.

        Loudness never falls as the gain rises, so the levels are sorted to pair with the
        sorted gains (ffmpeg prints parallel meters' summaries in no fixed order).
        """
        depths = tuple(g - ceiling_db for g in sorted(gains_db))
        levels = tuple(x - ceiling_db for x in sorted(lufs))
        return cls(depths, levels)

    def _knots(self) -> tuple[list[float], float]:
        """The levels at each depth with every slope kept within [MIN_SLOPE, 1] (so the
        curve can be inverted), and the last slope (used past the last point)."""
        levels = [self.levels[0]]
        slope = 1.0
        for i in range(1, len(self.depths)):
            run = self.depths[i] - self.depths[i - 1]
            slope = min(1.0, max(MIN_SLOPE, (self.levels[i] - self.levels[i - 1]) / run))
            levels.append(levels[-1] + run * slope)
        return levels, slope

    def level(self, depth: float) -> float:
        """The loudness above the ceiling that a gain `depth` dB above it gives."""
        levels, last_slope = self._knots()
        if depth <= self.depths[0]:  # less limiting: towards one for one
            return levels[0] - (self.depths[0] - depth)
        for i in range(1, len(self.depths)):
            if depth <= self.depths[i]:
                d0, d1 = self.depths[i - 1], self.depths[i]
                return levels[i - 1] + (depth - d0) * (levels[i] - levels[i - 1]) / (d1 - d0)
        return levels[-1] + (depth - self.depths[-1]) * last_slope

    def depth(self, level: float) -> float:
        """The gain above the ceiling whose loudness is `level` above it (inverse of `level`)."""
        levels, last_slope = self._knots()
        if level <= levels[0]:
            return self.depths[0] - (levels[0] - level)
        for i in range(1, len(self.depths)):
            if level <= levels[i]:
                d0, d1 = self.depths[i - 1], self.depths[i]
                return d0 + (level - levels[i - 1]) * (d1 - d0) / (levels[i] - levels[i - 1])
        return self.depths[-1] + (level - levels[-1]) / last_slope


@dataclass(slots=True)
class GainPlan:
    """The gain to apply, the limiter's ceiling (dBFS, `None`: no limiter) and what the
    encoder is known to add (`offset_lu`, measured minus predicted)."""

    unlimited_lufs: float
    """The audio's loudness at 0 dB gain, without a limiter."""
    gain_db: float
    ceiling_db: float | None = None
    curve: LimiterCurve | None = None
    offset_lu: float = 0.0

    def predict(self, gain_db: float | None = None) -> float:
        """The loudness before encoding at `gain_db` (default: the planned gain)."""
        gain = self.gain_db if gain_db is None else gain_db
        if self.curve is None or self.ceiling_db is None:
            return self.unlimited_lufs + gain
        return self.ceiling_db + self.curve.level(gain - self.ceiling_db)

    def aim(self, target_lufs: float, *, max_gain_db: float) -> None:
        """Set the gain whose encoded loudness should be `target_lufs` (at most `max_gain_db`)."""
        want = target_lufs - self.offset_lu
        if self.curve is None or self.ceiling_db is None:
            gain = want - self.unlimited_lufs
        else:
            gain = self.ceiling_db + self.curve.depth(want - self.ceiling_db)
        self.gain_db = min(gain, max_gain_db)

    def learn(self, encoded_lufs: float) -> None:
        """Record what the encoder did to the loudness at the planned gain."""
        self.offset_lu = encoded_lufs - self.predict()
