"""A receiver's presence and health as a plain state machine (no I/O, the clock passed in).

Link states, from what the receiver and the broker say:

- `online`: a live birth or heartbeat of the current session epoch was heard;
- `offline`: a Last Will or a clean goodbye of the current (or a newer) epoch, or never heard;
- `silent`: nothing for `silent_after_intervals` heartbeat intervals, yet no will came:
  the half-open 4G link, where the broker has not noticed the loss yet;
- `unverified`: after a controller or broker restart, until the receiver speaks again.

The public state is `flapping` instead of the link state while the link changed more
than `flapping_transitions` times within `flapping_window_s`, so technicians are not
flooded; it ends once the link has been stable for a whole window. Changes to and from
`unverified` come from a restart on our side, not from the receiver, and do not count.

Epoch rules (the protocol's defence against reordering and late wills): a message of an
older epoch than the current one changes nothing; an `offline` of epoch E ends E for
good (a late heartbeat of E does not revive it), only a newer epoch does; a heartbeat
whose `seq` is not above the last one of its epoch is a duplicate. A retained birth
(delivered because we subscribed, not because the receiver spoke now) proves nothing
about the present and leaves the state alone, but its epoch is learnt.

Every change yields `Transition`s: a change of the link state (`from_state` and
`to_state` both link states), entering flapping (`to_state="flapping"`) or leaving it
(`from_state="flapping"`). Uptime is computed from them (`uptime()`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from devices.protocol import Heartbeat, ReceiverBirth, ReceiverOffline

LinkState = Literal["online", "offline", "silent", "unverified"]
HealthState = Literal["online", "offline", "silent", "unverified", "flapping"]
LINK_STATES: tuple[LinkState, ...] = ("online", "offline", "silent", "unverified")
HEALTH_STATES: tuple[HealthState, ...] = (*LINK_STATES, "flapping")
NEVER_HEARD = "never heard from"
_OFFLINE_CAUSES = {
    "lost": "Last Will: the broker lost the connection",
    "shutdown": "clean shutdown",
    "reboot": "rebooting",
}


@dataclass(frozen=True)
class HealthPolicy:
    default_heartbeat_s: int = 60
    silent_after_intervals: float = 3.0
    flapping_transitions: int = 5
    flapping_window_s: float = 600.0


@dataclass(frozen=True)
class Transition:
    receiver_id: str
    at: datetime
    from_state: HealthState
    to_state: HealthState
    cause: str
    epoch: int | None


@dataclass
class ReceiverHealth:
    """What the controller believes about one receiver; feed it messages and ticks."""

    receiver_id: str
    policy: HealthPolicy
    link_state: LinkState = "offline"
    since: datetime | None = None
    cause: str = NEVER_HEARD
    epoch: int | None = None
    dead_epoch: int | None = None
    last_seq: int | None = None
    last_heard: datetime | None = None
    heartbeat_s: int | None = None
    firmware: str | None = None
    capabilities: tuple[str, ...] = ()
    telemetry: dict[str, Any] | None = None
    telemetry_at: datetime | None = None
    flapping: bool = False
    _changes: deque[datetime] = field(default_factory=deque, repr=False)

    @property
    def state(self) -> HealthState:
        return "flapping" if self.flapping else self.link_state

    @property
    def interval_s(self) -> float:
        return float(self.heartbeat_s or self.policy.default_heartbeat_s)

    def birth(self, message: ReceiverBirth, now: datetime, *, retained: bool) -> list[Transition]:
        if self._stale(message.epoch):
            return []
        new_epoch = message.epoch != self.epoch
        self.epoch = message.epoch
        self.firmware = message.firmware
        self.capabilities = message.capabilities
        self.heartbeat_s = message.heartbeat_s
        if new_epoch:
            self.last_seq = None
        if retained:
            return []
        self.last_heard = now
        cause = f"birth, session epoch {message.epoch}" if new_epoch else "announced itself"
        return self._link("online", now, cause)

    def offline(
        self, message: ReceiverOffline, now: datetime, *, retained: bool
    ) -> list[Transition]:
        if self._stale(message.epoch):
            return []
        self.epoch = message.epoch
        self.dead_epoch = message.epoch
        cause = _OFFLINE_CAUSES[message.reason]
        if retained:
            cause += " (as the broker kept it)"
        return self._link("offline", now, cause)

    def heartbeat(self, message: Heartbeat, now: datetime) -> list[Transition]:
        if self._stale(message.epoch):
            return []
        seen = self.last_seq if message.epoch == self.epoch else None
        if seen is not None and message.seq <= seen:
            return []  # a duplicate or a reordered older heartbeat
        cause = "heartbeat"
        if message.epoch != self.epoch:
            cause = f"heartbeat of a new session epoch {message.epoch}"
            self.epoch = message.epoch
        self.last_seq = message.seq
        self.last_heard = now
        self.telemetry = message.telemetry()
        self.telemetry_at = message.at
        if self.link_state == "silent":
            cause = "heartbeats again"
        return self._link("online", now, cause)

    def unverify(self, now: datetime, cause: str) -> list[Transition]:
        """After a controller or broker restart: what we knew is no longer proven."""
        if self.link_state not in ("online", "silent"):
            return []
        return self._link("unverified", now, cause)

    def tick(self, now: datetime) -> list[Transition]:
        """Time passing: silence detection and the end of flapping."""
        transitions: list[Transition] = []
        if self.link_state in ("online", "unverified"):
            reference = self.last_heard if self.link_state == "online" else self.since
            limit = self.policy.silent_after_intervals * self.interval_s
            if reference is not None and now - reference > timedelta(seconds=limit):
                silence = (now - reference).total_seconds()
                transitions += self._link(
                    "silent",
                    now,
                    f"no heartbeat for {silence:.0f} s ({self.policy.silent_after_intervals:g} "
                    "intervals) and no Last Will: the link may be half-open",
                )
        if self.flapping and self._changes:
            window = timedelta(seconds=self.policy.flapping_window_s)
            if now - self._changes[-1] >= window:
                self.flapping = False
                transitions.append(
                    self._transition(now, "flapping", self.link_state, "stable again")
                )
        return transitions

    def _stale(self, epoch: int) -> bool:
        if self.epoch is not None and epoch < self.epoch:
            return True
        return self.dead_epoch is not None and epoch <= self.dead_epoch

    def _link(self, new: LinkState, now: datetime, cause: str) -> list[Transition]:
        if new == self.link_state:
            return []
        old = self.link_state
        self.link_state = new
        self.since = now
        self.cause = cause
        transitions = [self._transition(now, old, new, cause)]
        if "unverified" in (old, new):
            return transitions  # our own restart, not the receiver's link: not flapping
        window = timedelta(seconds=self.policy.flapping_window_s)
        self._changes.append(now)
        while self._changes and now - self._changes[0] > window:
            self._changes.popleft()
        if not self.flapping and len(self._changes) > self.policy.flapping_transitions:
            self.flapping = True
            minutes = self.policy.flapping_window_s / 60
            transitions.append(
                self._transition(
                    now,
                    new,
                    "flapping",
                    f"{len(self._changes)} changes within {minutes:g} min",
                )
            )
        return transitions

    def _transition(
        self, now: datetime, old: HealthState, new: HealthState, cause: str
    ) -> Transition:
        return Transition(self.receiver_id, now, old, new, cause, self.epoch)


def uptime(
    transitions: Iterable[Transition],
    start: datetime,
    end: datetime,
    *,
    state_at_start: LinkState = "offline",
) -> float:
    """The fraction of [start, end) the link was `online`, from transitions in time order.

    `state_at_start` is the link state when the period began (from the last transition
    before `start`); flapping rows do not change the link state.
    """
    if end <= start:
        raise ValueError("the period must end after it starts")
    online = 0.0
    state: HealthState = state_at_start
    cursor = start
    for transition in transitions:
        if transition.at >= end:
            break
        if transition.at > cursor:
            if state == "online":
                online += (transition.at - cursor).total_seconds()
            cursor = transition.at
        if transition.to_state != "flapping":
            state = transition.to_state
    if state == "online":
        online += (end - cursor).total_seconds()
    return online / (end - start).total_seconds()
