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

The controller applies every receipt of the fleet here, so a receipt that moves a delivery
makes the next `Delivery` from the current one without checking again what the current one
was checked for when it was made (`_moved`); every `Delivery` made by other code, and every
move whose values are not all checked here, is checked in `__post_init__`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Final, Literal, cast, get_args

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
_RECEIPT_STATES: Final = frozenset(RECEIPT_STATES)
#: The states a receipt must give a reason for.
REASON_REQUIRED: Final[frozenset[DeliveryState]] = frozenset(("failed", "rejected"))

_END_RANK: Final = len(ACTIVE_ORDER) - 1
_RANKS: Final[dict[str, int]] = {
    state: ACTIVE_ORDER.index(state) if state in ACTIVE_ORDER else _END_RANK
    for state in DELIVERY_STATES
}
# fullmatch: `match` with `$` would let a trailing newline through.
_OCCURRENCE_ID: Final = re.compile(r"[0-9a-f]{32}")
_CONTENT_ID: Final = re.compile(r"[0-9a-f]{64}")


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
        if not isinstance(self.occurrence, str) or not _OCCURRENCE_ID.fullmatch(self.occurrence):
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
        if self.content is not None and not _CONTENT_ID.fullmatch(self.content):
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
    # A delivery has both or neither (checked when made); an epoch is at least 1 (above).
    last_epoch, last_seq = d.epoch, d.seq
    if last_epoch == epoch and last_seq == seq:
        same = "" if state == d.state else f", which said {d.state}"
        return Step(
            d, "duplicate", f"{_said(state, epoch, seq)}: the receipt already applied{same}"
        )
    if d.state in TERMINAL:
        return Step(
            d, "after_end", f"{_said(state, epoch, seq)} came after the end ({_describe(d)})"
        )
    if last_epoch is not None and (epoch, seq) < (last_epoch, last_seq):
        applied = f"epoch {last_epoch} seq {last_seq}"
        said = _said(state, epoch, seq)
        return Step(d, "stale", f"{said} is older than the receipt applied ({applied})")
    # Both are states: `state` a receipt state (checked above), `d.state` when d was made.
    if _RANKS[state] <= _RANKS[d.state]:
        return Step(d, "stale", f"{_said(state, epoch, seq)} is not after {d.state}")
    new_state = cast("DeliveryState", state)  # a member of RECEIPT_STATES, checked above
    moved = _moved(d, new_state, reason, epoch, seq, at)
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
    if state not in _RECEIPT_STATES:
        if state in _RANKS:
            return f"a receipt cannot say {state}: only the controller queues and offers"
        return f"unknown state {state!r} in a receipt"
    # `type(...) is int` first: the usual case without a call.
    if not (type(epoch) is int or _is_int(epoch)) or epoch < 1:
        return f"epoch {epoch!r}: expected an integer of at least 1"
    if not (type(seq) is int or _is_int(seq)) or seq < 0:
        return f"seq {seq!r}: expected an integer of at least 0"
    if state in REASON_REQUIRED and not reason:
        return f"{state} without a reason"
    return None


def _said(state: str, epoch: int, seq: int) -> str:
    return f"{state} (epoch {epoch} seq {seq})"


def _slot_setters(cls: Any, *names: str) -> tuple[Callable[[object, object], None], ...]:
    """The setters of the slots `names` of the dataclass `cls`, which must name its fields.

    A setter stores a value past the frozen guard and without `__post_init__`: only for
    `_moved`. Naming the fields here (checked at import) keeps a new, renamed or reordered
    field from being left unset or set wrongly.
    """
    if names != tuple(field.name for field in fields(cls)):
        raise TypeError(f"{cls.__name__} fields are not {names}: update {__name__}")
    return tuple(getattr(cls, name).__set__ for name in names)


(
    _set_occurrence,
    _set_receiver,
    _set_state,
    _set_reason,
    _set_updated_at,
    _set_epoch,
    _set_seq,
    _set_content,
) = _slot_setters(
    Delivery, "occurrence", "receiver", "state", "reason", "updated_at", "epoch", "seq", "content"
)


def _moved(  # noqa: PLR0917 - the fields a receipt changes, checked by apply_receipt
    d: Delivery, state: DeliveryState, reason: str | None, epoch: int, seq: int, at: datetime
) -> Delivery:
    """`d` moved by a receipt: `replace(d, ...)` without checking again.

    `d` was checked when made; `apply_receipt` has checked `state` (a receipt state), `epoch`
    and `seq` (integers, so both given) and `at` (aware); `reason` is free text.
    """
    moved: Delivery = object.__new__(Delivery)
    _set_occurrence(moved, d.occurrence)
    _set_receiver(moved, d.receiver)
    _set_state(moved, state)
    _set_reason(moved, reason)
    _set_updated_at(moved, at)
    _set_epoch(moved, epoch)
    _set_seq(moved, seq)
    _set_content(moved, d.content)
    return moved


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(d: Delivery) -> str:
    return d.state if d.reason is None else f"{d.state}: {d.reason}"


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name}: naive datetime {at!r}; pass a timezone-aware instant (UTC)")
