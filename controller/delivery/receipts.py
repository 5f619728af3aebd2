"""Receipts judged against the deliveries in memory; every one becomes an event.

A receipt moves a delivery only through `devices.delivery.apply_receipt` (forward
only; duplicates and reordering change nothing). Whatever the verdict, the receipt is
kept in `delivery_events`, so the province can see everything a receiver said,
including what was not applied:

- `rejected_command`: a receiver refused a command that named no occurrence (forged,
  garbled), a copy of one it already had (`replayed`), or one that is not the last play
  command we sent it: a security anomaly, logged as a warning, that ends nothing;
- `unknown_occurrence`: a receipt for an occurrence that is not being delivered (ended
  long ago, or never existed);
- `not_targeted`: a receipt for an occurrence that does not target that receiver;
- `duplicate`, `stale`, `after_end`, `invalid`: the state machine's verdicts.

A `rejected` receipt that is applied (a receiver refused one of our commands: wrong
key provisioned, clock far off, a replay) is also logged as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime

from controller.delivery.active import ActiveOccurrence
from controller.store.deliveries import DeliveryEvent, DeliveryUpdate
from devices.delivery import TERMINAL, Step, apply_receipt
from devices.protocol.receipts import Receipt

log = logging.getLogger(__name__)

#: Receipts held for the next step, at most (a flood beyond this is dropped and counted).
MAX_WAITING = 200_000

Judged = tuple[DeliveryEvent, DeliveryUpdate | None, str | None]


class ReceiptJudge:
    def __init__(self) -> None:
        self._waiting: list[tuple[Receipt, datetime]] = []
        self.dropped = 0
        self.applied = 0
        self.anomalies = 0

    def received(self, receipt: Receipt, at: datetime) -> None:
        if len(self._waiting) >= MAX_WAITING:
            self.dropped += 1
            return
        self._waiting.append((receipt, at))

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def judge(self, active: Mapping[str, ActiveOccurrence], now: datetime) -> Iterator[Judged]:
        """Apply the waiting receipts in arrival order.

        Yields `(event, update or None, occurrence id if its delivery just ended)`.
        """
        waiting, self._waiting = self._waiting, []
        for receipt, received_at in waiting:
            yield self._one(receipt, received_at, active)

    def _one(
        self, receipt: Receipt, received_at: datetime, active: Mapping[str, ActiveOccurrence]
    ) -> Judged:
        occurrence_id = receipt.occurrence
        if occurrence_id is None:
            self._anomaly(receipt, "refused a command that named no occurrence")
            return (
                self._event(receipt, received_at, "rejected_command", receipt.reason or ""),
                None,
                None,
            )
        occurrence = active.get(occurrence_id)
        if occurrence is None:
            self.anomalies += 1
            detail = "no occurrence being delivered has this id"
            return self._event(receipt, received_at, "unknown_occurrence", detail), None, None
        delivery = occurrence.deliveries.get(receipt.id)
        if delivery is not None and receipt.state == "rejected":
            refusal = self._refusal(receipt, occurrence)
            if refusal is not None:
                self._anomaly(receipt, refusal)
                event = self._event(receipt, received_at, "rejected_command", refusal)
                return event, None, None
        if delivery is None:
            self._anomaly(receipt, "is not targeted by this occurrence")
            detail = "the occurrence does not target this receiver"
            return self._event(receipt, received_at, "not_targeted", detail), None, None
        step = apply_receipt(
            delivery,
            receipt.state,
            epoch=receipt.epoch,
            seq=receipt.seq,
            at=received_at,
            reason=_reason(receipt),
        )
        outcome = step.outcome
        event = self._event(receipt, received_at, outcome, step.detail)
        if outcome != "applied":
            return event, None, None
        self.applied += 1
        if receipt.state == "rejected":
            self._anomaly(receipt, f"refused our command ({receipt.reason})")
        moved = step.delivery
        occurrence.deliveries[receipt.id] = moved
        update = DeliveryUpdate(moved, proof=receipt.proof)
        # The state of a Delivery is one of DELIVERY_STATES (checked when made).
        ended = occurrence_id if moved.state in TERMINAL else None
        return event, update, ended

    @staticmethod
    def _refusal(receipt: Receipt, occurrence: ActiveOccurrence) -> str | None:
        """Why a `rejected` receipt must not end the delivery, or None if it may.

        Only the refusal of the last play command we sent that receiver ends it: a refused
        QoS 1 duplicate (`replayed`), an older command, or a forged one naming the
        occurrence says nothing about whether the receiver will play.
        """
        if receipt.reason == "replayed":
            return "refused a copy of a command it already had (replayed)"
        sent = occurrence.commands.get(receipt.id)
        if sent is None or receipt.command != sent:
            return f"refused a command ({receipt.reason}) that is not the last one we sent it"
        return None

    def controller_event(self, step: Step, command_id: str | None, now: datetime) -> DeliveryEvent:
        """The event of one of the controller's own moves (queue, offer, end)."""
        delivery = step.delivery
        return DeliveryEvent(
            occurrence_id=delivery.occurrence,
            receiver_id=delivery.receiver,
            source="controller",
            state=delivery.state,
            reason=delivery.reason,
            command_id=command_id,
            epoch=None,
            seq=None,
            at=now,
            received_at=now,
            outcome=step.outcome,
            detail=step.detail,
        )

    def _anomaly(self, receipt: Receipt, what: str) -> None:
        self.anomalies += 1
        log.warning(
            "receiver %s %s: %s %s (command %s)",
            receipt.id,
            what,
            receipt.state,
            receipt.reason or "",
            receipt.command or "-",
        )

    @staticmethod
    def _event(receipt: Receipt, received_at: datetime, outcome: str, detail: str) -> DeliveryEvent:
        return DeliveryEvent(
            occurrence_id=receipt.occurrence,
            receiver_id=receipt.id,
            source="receiver",
            state=receipt.state,
            reason=_reason(receipt),
            command_id=receipt.command,
            epoch=receipt.epoch,
            seq=receipt.seq,
            at=receipt.at,
            received_at=received_at,
            outcome=outcome,
            detail=detail,
        )


def _reason(receipt: Receipt) -> str | None:
    """The receipt's reason; for `preempted`, the occurrence that cut in (its `by`)."""
    if receipt.state == "preempted" and receipt.by is not None:
        return f"by occurrence {receipt.by}"
    return receipt.reason
