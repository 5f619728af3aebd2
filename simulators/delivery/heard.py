"""What a listener in the village heard: the true times of each play, for measurements.

A receiver reports its plays by its own corrected clock (the proof of play).
Whether the receivers of a village really started together can only be told by
true time, which a simulator knows: `Heard` keeps both for the last plays of a
receiver, so tests and the delivery benchmark can measure the spread of true
start times (the goal: within 50 ms of each other).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from devices.protocol.receipts import DeliveryState
from loa.clock import Clock

#: How many past plays are kept.
MAX_HEARD = 32


@dataclass(frozen=True, slots=True)
class Heard:
    """One play: true start and end (what a listener heard) and the receiver's own times."""

    occurrence: str
    content: str
    #: how it ended: `played`, `preempted`, `cancelled`, or `failed` (the stream ran dry).
    state: DeliveryState
    true_start: datetime
    true_end: datetime
    started_at: datetime
    ended_at: datetime


class Ears:
    """The plays of one receiver by `true` time; `clock` is the receiver's corrected clock."""

    __slots__ = ("_clock", "_starts", "_true", "heard")

    def __init__(self, true: Clock, clock: Clock) -> None:
        self._true = true
        self._clock = clock
        self._starts: dict[str, datetime] = {}
        self.heard: list[Heard] = []

    def started(self, occurrence: str, started_at: datetime) -> None:
        """`occurrence` started at `started_at` by the receiver's clock (now, or just before)."""
        self._starts[occurrence] = self._true.now() - (self._clock.now() - started_at)

    def ended(
        self,
        occurrence: str,
        content: str,
        state: DeliveryState,
        started_at: datetime,
        ended_at: datetime,
    ) -> None:
        """`occurrence`, which started at `started_at` by the receiver's clock, ended."""
        true_start = self._starts.pop(occurrence, None)
        if true_start is None:  # not seen starting: estimate it from the clocks now
            true_start = started_at - (self._clock.now() - self._true.now())
        true_end = true_start + (ended_at - started_at)
        heard = Heard(occurrence, content, state, true_start, true_end, started_at, ended_at)
        self.heard.append(heard)
        del self.heard[:-MAX_HEARD]
