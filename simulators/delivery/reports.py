"""How a receiver tells the controller about its occurrences: records saved, receipts queued.

Every state change of an occurrence is written to its record (`RecordBook`,
so it survives a reboot) and answered with a receipt (`rx/<id>/receipt`,
QoS 1). Receipts wait in `outbox` until the receiver has a link; the epoch and
`seq` of the connection are stamped on them when they are sent (`Outgoing`), so
receipts made while offline go out in order with the next connection's numbers.
A refused command gets a `rejected` receipt and no record.
"""

from __future__ import annotations

from devices.protocol.commands import Rejected
from devices.protocol.receipts import DeliveryState, Proof, Receipt
from devices.protocol.topics import Topics
from loa.clock import Clock
from simulators.delivery.outbox import DeliveryCounters, Outgoing
from simulators.delivery.records import Record, RecordBook

#: Messages waiting for a link beyond this many are dropped, oldest first.
MAX_OUTBOX = 1000


class Reports:
    """Records and receipts of receiver `receiver_id`, timed by `clock` (its corrected clock)."""

    __slots__ = ("_clock", "_topics", "book", "counters", "outbox", "receiver_id")

    def __init__(
        self,
        receiver_id: str,
        topics: Topics,
        book: RecordBook,
        clock: Clock,
        counters: DeliveryCounters,
    ) -> None:
        self.receiver_id = receiver_id
        self.book = book
        self.counters = counters
        self.outbox: list[Outgoing] = []
        self._topics = topics
        self._clock = clock

    def set(
        self,
        record: Record,
        state: DeliveryState,
        *,
        have: int | None = None,
        reason: str | None = None,
        by: str | None = None,
        proof: Proof | None = None,
        command: str | None = None,
    ) -> None:
        """Move `record` to `state` (with the fields of that state), save it, send a receipt.

        The receipt names `command` (the command that caused the change), else the play's.
        """
        record.state, record.reason, record.by, record.proof = state, reason, by, proof
        self.book.save(record)
        self.receipt(self.receipt_for(record, command or record.command, have=have))

    def again(self, record: Record, command: str, have: int | None = None) -> None:
        """Answer a repeated command with the receipt of the state `record` is in."""
        self.receipt(self.receipt_for(record, command, have=have))

    def rejected(self, refusal: Rejected) -> None:
        self.counters.reject(refusal.reason)
        self.receipt(refusal.receipt(self.receiver_id, 1, 0, self._clock.now()))

    def receipt_for(self, record: Record, command: str | None, have: int | None = None) -> Receipt:
        """The receipt of the state `record` is in (epoch and seq are stamped when sent)."""
        return Receipt(
            id=self.receiver_id,
            epoch=1,
            seq=0,
            occurrence=record.occurrence,
            state=record.state,
            at=self._clock.now(),
            command=command,
            reason=record.reason if record.state in ("failed", "rejected") else None,
            have=have if record.state == "downloading" else None,
            by=record.by if record.state == "preempted" else None,
            proof=record.proof if record.state == "played" else None,
        )

    def receipt(self, receipt: Receipt) -> None:
        self.queue(Outgoing(self._topics.receiver(self.receiver_id, "receipt"), receipt=receipt))

    def queue(self, message: Outgoing) -> None:
        self.outbox.append(message)
        if len(self.outbox) > MAX_OUTBOX:
            del self.outbox[0]
            self.counters.dropped_receipts += 1
