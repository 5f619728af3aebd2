"""What became of an occurrence, receiver by receiver, and cancelling one.

Read from the store, so `loa bulletin status` works beside a running `loa serve` (which
writes deliveries within `delivery.poll_s`) and after it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from controller.store import Store
from controller.store.bulletins import (
    BulletinDetail,
    OccurrenceRow,
    get_bulletin,
    get_occurrence,
    set_occurrence_state,
)
from controller.store.deliveries import load_deliveries, load_proofs
from controller.store.schema import occurrences
from devices.delivery import DELIVERY_STATES, Delivery, is_terminal
from devices.protocol.receipts import Proof
from loa.errors import LoaError

MIN_PREFIX = 6


class UnknownOccurrence(LoaError):
    """No occurrence has the id a person gave (or several start with it)."""


@dataclass(frozen=True, slots=True)
class Report:
    occurrence: OccurrenceRow
    detail: BulletinDetail
    deliveries: tuple[Delivery, ...]
    proofs: dict[str, Proof]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(DELIVERY_STATES, 0)
        for delivery in self.deliveries:
            counts[delivery.state] += 1
        return counts

    def in_state(self, state: str) -> list[str]:
        return [d.receiver for d in self.deliveries if d.state == state]

    @property
    def finished(self) -> bool:
        """Nothing more will happen: every delivery ended, or the occurrence did."""
        if self.occurrence.state in ("done", "expired", "cancelled", "missed") and all(
            is_terminal(d.state) for d in self.deliveries
        ):
            return True
        return bool(self.deliveries) and all(is_terminal(d.state) for d in self.deliveries)


async def find_occurrence(session: AsyncSession, wanted: str) -> OccurrenceRow:
    key = wanted.strip().lower()
    if len(key) < MIN_PREFIX:
        raise UnknownOccurrence(
            f"{wanted!r} is too short to name an occurrence: give at least {MIN_PREFIX} "
            "characters of its id (`loa bulletin list`)"
        )
    rows: Sequence[str] = (
        (
            await session.execute(
                select(occurrences.c.id).where(occurrences.c.id.startswith(key)).limit(2)
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        raise UnknownOccurrence(
            f"no occurrence has an id starting {wanted!r}; see `loa bulletin list`"
        )
    if len(rows) > 1:
        raise UnknownOccurrence(f"several occurrences have ids starting {wanted!r}; give more")
    found = await get_occurrence(session, rows[0])
    if found is None:  # deleted between the two reads
        raise UnknownOccurrence(f"occurrence {wanted!r} is gone")
    return found


async def occurrence_report(store: Store, wanted: str) -> Report:
    async with store.read() as session:
        occurrence = await find_occurrence(session, wanted)
        detail = await get_bulletin(session, occurrence.bulletin_id)
        if detail is None:
            raise UnknownOccurrence(f"the bulletin of occurrence {occurrence.id} is gone")
        deliveries = await load_deliveries(session, occurrence.id)
        proofs = await load_proofs(session, occurrence.id)
    return Report(occurrence, detail, tuple(deliveries), proofs)


async def cancel_occurrence(store: Store, wanted: str, at: datetime) -> tuple[str, str]:
    """Cancel an occurrence that is scheduled or being delivered; (its id, its state before)."""
    async with store.write() as session:
        occurrence = await find_occurrence(session, wanted)
        if not await set_occurrence_state(session, occurrence.id, "cancelled", at):
            raise UnknownOccurrence(
                f"occurrence {occurrence.id[:12]} is {occurrence.state}: there is nothing to cancel"
            )
    return occurrence.id, occurrence.state
