"""Delivery state of one occurrence on one receiver: a forward-only state machine (no I/O).

`queued -> offered -> accepted -> downloading -> armed -> playing -> played`, or one of the
terminal states `failed(reason)`, `rejected(reason)`, `preempted`, `expired`, `cancelled`
(docs/protocol.md, "Delivery state, per receiver and occurrence"). The controller makes
`queued` (`start`) and `offered` (`offer`) and may end a delivery itself (`expire`,
`cancel`); every other move comes from the receiver's receipts (`apply_receipt`).

Receipts travel over QoS 1 through brokers that may redeliver and reorder, so each one is
judged before it is applied, and the verdict (`Outcome`) is returned with a sentence
saying why (`Step.detail`), for the event log. In the order they are judged:

- `invalid`: a receipt no receiver may send: `queued` or `offered` (the controller's own
  states), an unknown state, `failed`/`rejected` without a reason, a negative `seq`, an
  epoch below 1;
- `duplicate`: the same (epoch, seq) as the receipt last applied (a QoS 1 redelivery);
- `after_end`: the delivery already ended (`played` or another terminal state);
- `stale`: older than the receipt last applied (an older epoch, or the same epoch and a
  lower seq), or naming a state that is not after the current one (a second
  `downloading` with more chunks is progress, not a move: `stale` too);
- `applied`: anything later; skips are fine (`accepted` then `armed` for a cached
  content, a lost `playing`).

A receiver's epoch grows when it reconnects and its `seq` restarts at 0, so (epoch, seq)
compares as a pair: a newer epoch with any seq is newer.

Rank orders the states: `ACTIVE_ORDER` gives 0 (`queued`) to 6 (`played`); every other
terminal state has the rank of `played`, the end. The rank of a delivery never goes down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Literal, cast, get_args

from devices.ids import ID_RULE, is_valid_id

__all__ = [
    "ACTIVE_ORDER",
    "DELIVERY_STATES",
    "REASON_REQUIRED",
    "RECEIPT_STATES",
    "TERMINAL",
    "Delivery",
    "DeliveryState",
    "Outcome",
    "Step",
    "apply_receipt",
    "cancel",
    "expire",
    "is_terminal",
    "offer",
    "rank",
    "start",
]

DeliveryState = Literal[
    "queued",
    "offered",
    "accepted",
    "downloading",
    "armed",
    "playing",
    "played",
    "failed",
    "rejected",
    "preempted",
    "expired",
    "cancelled",
]
#: The verdict on one move: see the module docstring.
Outcome = Literal["applied", "duplicate", "stale", "after_end", "invalid"]

#: Every state, in rank order (the terminal states after `played`).
DELIVERY_STATES: Final[tuple[DeliveryState, ...]] = get_args(DeliveryState)
#: The road of a delivery that goes well.
ACTIVE_ORDER: Final[tuple[DeliveryState, ...]] = (
    "queued",
    "offered",
    "accepted",
    "downloading",
    "armed",
    "playing",
    "played",
)
#: The states a delivery never leaves.
TERMINAL: Final[frozenset[DeliveryState]] = frozenset(
    ("played", "failed", "rejected", "preempted", "expired", "cancelled")
)
#: The states a receipt may name (not the controller's own `queued` and `offered`).
RECEIPT_STATES: Final[tuple[DeliveryState, ...]] = DELIVERY_STATES[2:]
#: The states a receipt must give a reason for.
REASON_REQUIRED: Final[frozenset[DeliveryState]] = frozenset(("failed", "rejected"))

_END_RANK: Final = len(ACTIVE_ORDER) - 1
_RANKS: Final[dict[str, int]] = {
    state: ACTIVE_ORDER.index(state) if state in ACTIVE_ORDER else _END_RANK
    for state in DELIVERY_STATES
}
_OCCURRENCE_ID: Final = re.compile(r"^[0-9a-f]{32}$")
_CONTENT_ID: Final = re.compile(r"^[0-9a-f]{64}$")


def rank(state: str) -> int:
    """The place of `state` on the road: 0 for `queued` to 6 for `played` and every end."""
    try:
        return _RANKS[state]
    except KeyError:
        raise ValueError(
            f"unknown delivery state {state!r}; expected one of {', '.join(DELIVERY_STATES)}"
        ) from None


def is_terminal(state: str) -> bool:
    """Whether a delivery in `state` has ended (`ValueError` for an unknown state)."""
    rank(state)
    return state in TERMINAL


@dataclass(frozen=True, slots=True)
class Delivery:
    """One occurrence on one receiver: where it stands and the receipt that put it there.

    Checked when made (`ValueError` names the field).
    """

    #: the occurrence id, 32 lower-case hex digits
    occurrence: str
    #: the receiver id
    receiver: str
    state: DeliveryState
    #: why it failed or was rejected (or another word the last move gave); else None
    reason: str | None
    #: when the controller made the last move or applied the last receipt
    updated_at: datetime
    #: the session epoch and seq of the receipt last applied; None before any
    epoch: int | None
    seq: int | None
    #: the content (sha256 hex) it was offered; None before the offer
    content: str | None

    def __post_init__(self) -> None:
        if not isinstance(self.occurrence, str) or not _OCCURRENCE_ID.match(self.occurrence):
            raise ValueError(
                f"occurrence {self.occurrence!r}: expected an id of 32 lower-case hex digits"
            )
        if not is_valid_id(self.receiver):
            raise ValueError(f"receiver {self.receiver!r}: expected a receiver id, {ID_RULE}")
        rank(self.state)
        _require_aware(self.updated_at, "updated_at")
        if (self.epoch is None) != (self.seq is None):
            raise ValueError(
                f"epoch {self.epoch!r} and seq {self.seq!r}: give both (a receipt) or neither"
            )
        if self.content is not None and not _CONTENT_ID.match(self.content):
            raise ValueError(
                f"content {self.content!r}: expected a sha256 digest, 64 lower-case hex digits"
            )


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one move: the delivery after it, the verdict, and why."""

    delivery: Delivery
    outcome: Outcome
    detail: str

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"


def start(occurrence: str, receiver: str, at: datetime) -> Delivery:
    """A new delivery: the occurrence targets the receiver; nothing sent yet (`queued`)."""
    return Delivery(occurrence, receiver, "queued", None, at, None, None, None)


def offer(d: Delivery, content: str | None, at: datetime) -> Step:
    """The command was published: `queued -> offered`, with the content it names.

    Offering an `offered` delivery again (a resend, e.g. when the receiver comes back) is a
    `duplicate` that changes nothing; one further on is `stale`, an ended one `after_end`.
    The caller may resend the command in every case but the last.
    """
    _require_aware(at, "at")
    if d.state == "queued":
        offered = replace(d, state="offered", reason=None, updated_at=at, content=content)
        return Step(offered, "applied", "queued -> offered")
    if d.state == "offered":
        return Step(d, "duplicate", "offered again: the command was sent before")
    if d.state in TERMINAL:
        return Step(d, "after_end", f"not offered: the delivery ended ({_describe(d)})")
    return Step(d, "stale", f"not offered: the receiver is further on ({d.state})")


def apply_receipt(
    d: Delivery,
    state: str,
    *,
    epoch: int,
    seq: int,
    at: datetime,
    reason: str | None = None,
) -> Step:
    """Judge a receipt saying the receiver reached `state`, and apply it if it is later.

    `at` is when the controller applies it (its own clock: the receiver's `at` belongs in
    the event log); it becomes `updated_at`. See the module docstring for the verdicts.
    """
    _require_aware(at, "at")
    problem = _receipt_problem(state, epoch, seq, reason)
    if problem is not None:
        return Step(d, "invalid", problem)
    said = f"{state} (epoch {epoch} seq {seq})"
    last = _last_receipt(d)
    if last == (epoch, seq):
        same = "" if state == d.state else f", which said {d.state}"
        return Step(d, "duplicate", f"{said}: the receipt already applied{same}")
    if d.state in TERMINAL:
        return Step(d, "after_end", f"{said} came after the end ({_describe(d)})")
    if last is not None and (epoch, seq) < last:
        applied = f"epoch {last[0]} seq {last[1]}"
        return Step(d, "stale", f"{said} is older than the receipt applied ({applied})")
    if rank(state) <= rank(d.state):
        return Step(d, "stale", f"{said} is not after {d.state}")
    new_state = cast("DeliveryState", state)  # a member of RECEIPT_STATES, checked above
    moved = replace(d, state=new_state, reason=reason, epoch=epoch, seq=seq, updated_at=at)
    return Step(moved, "applied", f"{d.state} -> {state}")


def expire(d: Delivery, at: datetime) -> Step:
    """The controller ends the delivery as `expired` (its occurrence's expiry has passed).

    From any state that has not ended, `playing` included: the caller chooses the instant,
    and should leave a `playing` one time to report `played`.
    """
    return _end(d, "expired", at)


def cancel(d: Delivery, at: datetime) -> Step:
    """The controller ends the delivery as `cancelled`; one that ended stays (`after_end`)."""
    return _end(d, "cancelled", at)


def _end(d: Delivery, state: DeliveryState, at: datetime) -> Step:
    _require_aware(at, "at")
    if d.state in TERMINAL:
        return Step(d, "after_end", f"not {state}: the delivery ended ({_describe(d)})")
    ended = replace(d, state=state, reason=None, updated_at=at)
    return Step(ended, "applied", f"{d.state} -> {state}")


def _receipt_problem(state: str, epoch: int, seq: int, reason: str | None) -> str | None:
    if state not in RECEIPT_STATES:
        if state in _RANKS:
            return f"a receipt cannot say {state}: only the controller queues and offers"
        return f"unknown state {state!r} in a receipt"
    if not _is_int(epoch) or epoch < 1:
        return f"epoch {epoch!r}: expected an integer of at least 1"
    if not _is_int(seq) or seq < 0:
        return f"seq {seq!r}: expected an integer of at least 0"
    if state in REASON_REQUIRED and not reason:
        return f"{state} without a reason"
    return None


def _last_receipt(d: Delivery) -> tuple[int, int] | None:
    return None if d.epoch is None or d.seq is None else (d.epoch, d.seq)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(d: Delivery) -> str:
    return d.state if d.reason is None else f"{d.state}: {d.reason}"


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name}: naive datetime {at!r}; pass a timezone-aware instant (UTC)")
