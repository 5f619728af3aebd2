"""What a scenario run saw: when each receiver was online, and what each one played.

`OnlineLog` samples every receiver's link state on a short period (by true time) and keeps,
per receiver, the intervals it was online; sampling instead of hooking the fleet's state
callback keeps the fleet untouched, and a quarter of a second is far below any window the
expectations ask about (minutes). At each sample it also collects what each receiver's
loudspeaker really played (`simulators.delivery.heard`: true start and end times, and how
each play ended): a receiver forgets those when it loses power (they are in its memory,
not its flash), so they are gathered as they happen, and once more just before a power
cut or a reboot (`harvest`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from simulators.delivery.heard import Heard
from simulators.fleet import Fleet

__all__ = ["Interval", "OnlineLog", "by_occurrence"]

SAMPLE_S = 0.25


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    def clipped(self, low: datetime, high: datetime) -> timedelta:
        """How much of this interval lies within [low, high]."""
        return max(timedelta(0), min(self.end, high) - max(self.start, low))


@dataclass
class OnlineLog:
    """Online intervals per receiver, sampled every `SAMPLE_S` seconds."""

    fleet: Fleet
    intervals: dict[str, list[Interval]] = field(default_factory=dict)
    #: receiver -> (occurrence, true start) -> the play
    heard: dict[str, dict[tuple[str, datetime], Heard]] = field(default_factory=dict)
    _since: dict[str, datetime] = field(default_factory=dict)

    def harvest(self, receiver_id: str) -> None:
        """Keep the plays `receiver_id` remembers now."""
        agent = self.fleet[receiver_id].delivery
        if agent is None:
            return
        kept = self.heard.setdefault(receiver_id, {})
        for item in agent.heard:
            kept[(item.occurrence, item.true_start)] = item

    def plays(self) -> dict[str, list[Heard]]:
        """Each receiver's plays seen during the run, by receiver id."""
        for receiver in self.fleet:
            self.harvest(receiver.id)
        return {rid: sorted(items.values(), key=lambda h: h.true_start)
                for rid, items in self.heard.items()}  # fmt: skip

    def sample(self, now: datetime | None = None) -> None:
        at = now or datetime.now(UTC)
        for receiver in self.fleet:
            began = self._since.get(receiver.id)
            if receiver.is_online and began is None:
                self._since[receiver.id] = at
            elif not receiver.is_online and began is not None:
                del self._since[receiver.id]
                self.intervals.setdefault(receiver.id, []).append(Interval(began, at))

    def close(self, now: datetime | None = None) -> None:
        """End the open intervals at `now` (the end of the run)."""
        at = now or datetime.now(UTC)
        for receiver_id, began in self._since.items():
            self.intervals.setdefault(receiver_id, []).append(Interval(began, at))
        self._since.clear()

    async def run(self) -> None:
        while True:
            self.sample()
            for receiver in self.fleet:
                self.harvest(receiver.id)
            await asyncio.sleep(SAMPLE_S)

    def longest_within(self, receiver_id: str, low: datetime, high: datetime) -> timedelta:
        """The longest stretch `receiver_id` was online within [low, high]."""
        spans = (i.clipped(low, high) for i in self.intervals.get(receiver_id, ()))
        return max(spans, default=timedelta(0))

    def explain(self, receiver_id: str, occurrence: str, since: datetime) -> str:
        """For a receiver that did not play: when it was online (seconds after `since`,
        the send) and the state its firmware held the occurrence in at the end."""
        spans = [
            f"{(i.start - since).total_seconds():+.0f}..{(i.end - since).total_seconds():+.0f} s"
            for i in self.intervals.get(receiver_id, ())
        ]
        try:
            agent = self.fleet[receiver_id].delivery
        except KeyError:  # not in this fleet
            agent = None
        state = None if agent is None else agent.state_of(occurrence)
        return f"online {', '.join(spans) or 'never'} after the send; its state {state or 'none'}"

    def online_at(self, receiver_id: str, at: datetime) -> bool:
        return any(i.start <= at < i.end for i in self.intervals.get(receiver_id, ()))


def by_occurrence(heard: Mapping[str, Iterable[Heard]]) -> dict[str, dict[str, list[Heard]]]:
    """occurrence -> receiver -> its plays of that occurrence."""
    table: dict[str, dict[str, list[Heard]]] = {}
    for receiver_id, items in heard.items():
        for item in items:
            table.setdefault(item.occurrence, {}).setdefault(receiver_id, []).append(item)
    return table
