"""The loudspeaker of a simulated receiver: one occurrence at a time, by the priority ladder.

What `docs/protocol.md` ("Priorities and pre-emption", `cancel`) asks of a receiver:

- an armed occurrence starts at its `play_at` by the receiver's corrected
  clock, or at once when it has none (an emergency, as soon as enough audio is
  there); it plays `repeat` times back to back, then it is `played`;
- when one is due while another plays, a strictly higher priority pre-empts it
  (the one playing stops: `preempted`, `by` the newcomer); an equal or lower one
  waits until the one playing ends, and is `expired` if its `expires_at` comes
  first (after that instant it must not start);
- `cancel` drops a waiting occurrence or stops a playing one at once (`cancelled`).

"Playing" is time passing: the player records when an occurrence started and
ends it when its duration (times `repeat`) has gone by on the monotonic clock.
It is plain synchronous code on an injected clock (`loa.clock.Clock`, the
receiver's corrected clock): the caller calls `tick()` when `next_delay()` says
and after each change, and turns the returned events into receipts.

Start instants are the device's, not the simulator's: a receiver's own timer
starts an armed occurrence exactly at `play_at` by its corrected clock, while a
thousand simulated receivers share one event loop and their ticks come a few
milliseconds apart. So an occurrence starts at the instant it became due (its
`play_at`, or when it was armed, or when the one before it ended, whichever is
last), even if `tick()` runs a little later; its end is timed from that instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from devices.protocol.priority import Priority, preempts, rank
from loa.clock import Clock

PlayState = Literal["playing", "played", "preempted", "expired", "cancelled"]


@dataclass(frozen=True, slots=True)
class Item:
    """An occurrence ready to play (its content is held, or enough of it for an emergency)."""

    occurrence: str
    priority: Priority
    content: str
    duration_ms: int
    repeat: int
    expires_at: datetime
    #: when to start by the corrected clock; None: as soon as possible.
    play_at: datetime | None = None

    def __post_init__(self) -> None:
        rank(self.priority)  # ValueError for an unknown level
        if self.duration_ms < 0 or not 1 <= self.repeat <= 10:
            raise ValueError("expected duration_ms >= 0 and repeat from 1 to 10")

    @property
    def total_ms(self) -> int:
        return self.duration_ms * self.repeat


@dataclass(frozen=True, slots=True)
class PlayEvent:
    """A change of one occurrence in the player, at `at` by the corrected clock.

    `started_at`, `ended_at` and `played_ms` say what was heard (for every state but
    `expired` and a `cancelled` that never started); `by` names the pre-empting one.
    """

    occurrence: str
    state: PlayState
    at: datetime
    content: str
    by: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    played_ms: int = 0


@dataclass(frozen=True, slots=True)
class _Playing:
    item: Item
    started_at: datetime
    started_mono: float

    def end_mono(self) -> float:
        return self.started_mono + self.item.total_ms / 1000

    def ended_at(self) -> datetime:
        return self.started_at + timedelta(milliseconds=self.item.total_ms)


class Player:
    """One occurrence at a time on `clock` (the receiver's corrected clock)."""

    __slots__ = ("_armed_at", "_clock", "_current", "_free_since", "_waiting")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._current: _Playing | None = None
        #: armed and not started, in arrival order, and when each was armed.
        self._waiting: dict[str, Item] = {}
        self._armed_at: dict[str, datetime] = {}
        #: when the last one ended, nominally (its start plus its length).
        self._free_since: datetime | None = None

    @property
    def playing(self) -> Item | None:
        return None if self._current is None else self._current.item

    @property
    def waiting(self) -> list[Item]:
        return list(self._waiting.values())

    def holds(self, occurrence: str) -> bool:
        return occurrence in self._waiting or (
            self._current is not None and self._current.item.occurrence == occurrence
        )

    def arm(self, item: Item) -> list[PlayEvent]:
        """Add a ready occurrence; what starts (or is pre-empted) because of it."""
        if self.holds(item.occurrence):
            return []
        self._waiting[item.occurrence] = item
        self._armed_at[item.occurrence] = self._clock.now()
        return self.tick()

    def cancel(self, occurrence: str) -> PlayEvent | None:
        """Drop or stop `occurrence`: its `cancelled` event, or None if the player lacks it."""
        now = self._clock.now()
        item = self._waiting.pop(occurrence, None)
        if item is not None:
            del self._armed_at[occurrence]
            return PlayEvent(occurrence, "cancelled", now, item.content)
        current = self._current
        if current is None or current.item.occurrence != occurrence:
            return None
        self._current = None
        self._free_since = now
        return self._stopped(current, "cancelled", now)

    def tick(self) -> list[PlayEvent]:
        """Move to now: end what finished, expire what may no longer start, start what is due."""
        now = self._clock.now()
        mono = self._clock.monotonic()
        events: list[PlayEvent] = []
        current = self._current
        if current is not None and mono >= current.end_mono():
            self._current = None
            self._free_since = current.ended_at()
            events.append(
                PlayEvent(
                    current.item.occurrence,
                    "played",
                    now,
                    current.item.content,
                    started_at=current.started_at,
                    ended_at=current.ended_at(),
                    played_ms=current.item.total_ms,
                )
            )
        for item in list(self._waiting.values()):
            if now >= item.expires_at:
                del self._waiting[item.occurrence], self._armed_at[item.occurrence]
                events.append(PlayEvent(item.occurrence, "expired", now, item.content))
        best = self._best_due(now)
        if best is None:
            return events
        current = self._current
        start = min(now, self._due_at(best))
        if current is not None:
            if not preempts(best.priority, current.item.priority):
                return events
            start = max(start, current.started_at)
            self._current = None
            events.append(self._stopped(current, "preempted", start, by=best.occurrence))
        elif self._free_since is not None:
            start = min(now, max(start, self._free_since))
        del self._waiting[best.occurrence], self._armed_at[best.occurrence]
        started_mono = mono - (now - start).total_seconds()
        self._current = _Playing(best, start, started_mono)
        events.append(PlayEvent(best.occurrence, "playing", now, best.content, started_at=start))
        return events

    def next_delay(self) -> float | None:
        """Seconds until `tick()` has something to do, or None when the player is idle."""
        now = self._clock.now()
        delays: list[float] = []
        if self._current is not None:
            delays.append(self._current.end_mono() - self._clock.monotonic())
        for item in self._waiting.values():
            delays.append((item.expires_at - now).total_seconds())
            if item.play_at is not None and item.play_at > now:
                delays.append((item.play_at - now).total_seconds())
        return max(0.0, min(delays)) if delays else None

    def _due_at(self, item: Item) -> datetime:
        """When `item` could start: its `play_at` once armed, else when it was armed."""
        armed = self._armed_at[item.occurrence]
        return armed if item.play_at is None else max(item.play_at, armed)

    def _best_due(self, now: datetime) -> Item | None:
        due = [i for i in self._waiting.values() if i.play_at is None or i.play_at <= now]
        if not due:
            return None
        order = {occurrence: place for place, occurrence in enumerate(self._waiting)}
        return min(
            due,
            key=lambda i: (
                -rank(i.priority),
                i.play_at is not None,
                i.play_at or now,
                order[i.occurrence],
            ),
        )

    def _stopped(
        self, current: _Playing, state: PlayState, at: datetime, by: str | None = None
    ) -> PlayEvent:
        """`current` stopped at `at` (now, or the instant a pre-empting one became due)."""
        played = round((at - current.started_at).total_seconds() * 1000)
        played = max(0, min(played, current.item.total_ms))
        return PlayEvent(
            current.item.occurrence,
            state,
            self._clock.now(),
            current.item.content,
            by=by,
            started_at=current.started_at,
            ended_at=current.started_at + timedelta(milliseconds=played),
            played_ms=played,
        )
