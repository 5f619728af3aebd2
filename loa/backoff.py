"""Jittered exponential back-off between connection attempts.

Attempt n (from 0) waits a random time in [d/2, d] where
d = min(max_delay, initial_delay * 2**n): the wait grows quickly towards the
cap, and the jitter spreads a fleet of reconnecting clients over time instead
of letting them hit a restarted broker in one wave. The controller's MQTT link and
every simulated receiver use it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    initial_delay: float
    max_delay: float
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.initial_delay <= self.max_delay:
            raise ValueError("expected 0 < initial_delay <= max_delay")

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts one failed attempt."""
        ceiling = min(self.max_delay, self.initial_delay * 2.0 ** min(self.attempt, 60))
        self.attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Call after a success: the next failure starts from the initial delay again."""
        self.attempt = 0
