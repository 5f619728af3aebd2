"""What a receiver's delivery firmware hands back to the receiver: messages, counts, plays heard.

`Outgoing` is a QoS 1 message waiting for the link (a receipt, stamped with the
connection's epoch and `seq` only when it is sent, or a repair request);
`DeliveryCounters` counts what the firmware did, refusals by reason (tests and
benchmarks read them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from devices.protocol.receipts import Receipt


@dataclass(slots=True)
class DeliveryCounters:
    """What a receiver's delivery firmware has done since the receiver was made."""

    #: refused commands by reason (`malformed`, `not_for_me`, `bad_signature`, ...).
    rejected: dict[str, int] = field(default_factory=dict)
    receipts: int = 0
    chunks: int = 0
    bad_chunks: int = 0
    #: chunks of a content no pending occurrence needs (cached already, or unknown).
    stray_chunks: int = 0
    repairs: int = 0
    time_requests: int = 0
    time_samples: int = 0
    #: receipts dropped because too many waited for a link.
    dropped_receipts: int = 0

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A QoS 1 message waiting for the link: a receipt (stamped when sent) or a repair."""

    topic: str
    receipt: Receipt | None = None
    payload: bytes = b""

    def encode(self, epoch: int, seq: int) -> bytes:
        """The bytes to publish; a receipt takes the connection's `epoch` and its next `seq`."""
        if self.receipt is None:
            return self.payload
        return dataclasses.replace(self.receipt, epoch=epoch, seq=seq).encode()
