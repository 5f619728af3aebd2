"""A simulated receiver's clocks: its own (off and drifting), and the one corrected by time sync.

A cheap receiver's real-time clock is wrong by up to seconds after a power cut
and drifts by tens of parts per million. `SimClock` is the clock such a receiver
reads: true time plus a fixed `offset_s` plus `drift_ppm` millionths of the time
elapsed since it was made. Its `monotonic()` runs at the same wrong rate.
A scenario may `jump()` it (a glitch of the real-time clock: the wall time steps,
the monotonic one does not) or `set()` a new offset and drift from now on.

`CorrectedClock` is what the firmware plays by: its own clock plus the
correction its time sync measured against the controller (`TimeSync`). Both are
`loa.clock.Clock`s, so the state machines that take them can be tested with a
fake.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from loa.clock import Clock


class Correction(Protocol):
    """Where the correction comes from (a `TimeSync`)."""

    @property
    def correction_s(self) -> float:
        """Seconds to add to the receiver's clock to read the controller's."""
        ...


class SimClock:
    """True time (`true`) plus `offset_s` plus a drift of `drift_ppm` since it was made."""

    __slots__ = ("_mono", "_origin", "_true", "drift_ppm", "offset_s")

    def __init__(self, true: Clock, offset_s: float = 0.0, drift_ppm: float = 0.0) -> None:
        self._true = true
        self.offset_s = offset_s
        self.drift_ppm = drift_ppm
        self._origin = true.monotonic()  # true monotonic time when the drift began
        self._mono = self._origin  # our monotonic time then

    def jump(self, by_s: float) -> None:
        """The wall clock steps by `by_s` seconds (negative: back); `monotonic()` does not."""
        self.offset_s += by_s

    def set(self, offset_s: float, drift_ppm: float = 0.0) -> None:
        """From now on: `offset_s` ahead of true time, drifting `drift_ppm` (monotonic goes on)."""
        self._mono = self.monotonic()
        self._origin = self._true.monotonic()
        self.offset_s = offset_s
        self.drift_ppm = drift_ppm

    @property
    def true(self) -> Clock:
        """The true clock under it (for measurements: when did it really start playing)."""
        return self._true

    def error_s(self) -> float:
        """How far ahead of true time this clock is now, in seconds (negative: behind)."""
        return self.offset_s + self.drift_ppm * 1e-6 * (self._true.monotonic() - self._origin)

    def now(self) -> datetime:
        return self._true.now() + timedelta(seconds=self.error_s())

    def monotonic(self) -> float:
        elapsed = self._true.monotonic() - self._origin
        return self._mono + elapsed * (1 + self.drift_ppm * 1e-6)


class CorrectedClock:
    """`raw` corrected by `correction`: the receiver's best idea of the controller's time."""

    __slots__ = ("_correction", "raw")

    def __init__(self, raw: Clock, correction: Correction) -> None:
        self.raw = raw
        self._correction = correction

    @property
    def correction_s(self) -> float:
        return self._correction.correction_s

    def now(self) -> datetime:
        return self.raw.now() + timedelta(seconds=self._correction.correction_s)

    def monotonic(self) -> float:
        return self.raw.monotonic()
