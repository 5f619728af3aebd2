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
from typing import Protocol


class Uniform(Protocol):
    """Where the jitter comes from: `random.Random`, or anything with its `uniform`."""

    def uniform(self, a: float, b: float) -> float: ...


class SeededJitter:
    """A generator of `uniform` draws in 8 bytes of state (splitmix64), for when thousands
    of simulated receivers each need their own, repeatable one: a `random.Random` holds
    2.5 KB of Mersenne Twister state."""

    __slots__ = ("_state",)

    def __init__(self, seed: int) -> None:
        self._state = seed & _MASK

    def uniform(self, a: float, b: float) -> float:
        self._state = (self._state + 0x9E3779B97F4A7C15) & _MASK
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        return a + (b - a) * (z >> 11) / 2**53


_MASK = 2**64 - 1


@dataclass(slots=True)
class Backoff:
    initial_delay: float
    max_delay: float
    rng: Uniform = field(default_factory=random.Random)
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
