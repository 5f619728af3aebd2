"""Deliveries in the store: where each occurrence stands on each receiver, and the log of moves.

A row of `deliveries` is a `devices.delivery.Delivery` plus what the state machine does
not hold: the command sent last (`command_id`), when the first command was recorded
(`offered_at`) and, once played, the receiver's proof of play. The controller keeps live
deliveries in memory and writes them in batches, in the `AsyncSession` of one
`store.write()`:

- `insert_deliveries` when an occurrence is dispatched (rows already there are kept, so
  a dispatch retried after a crash changes nothing);
- `save_deliveries` as commands and receipts move them: one upsert, sent as executemany;
- `record_delivery_events` for the log: every receipt and controller move, applied or not
  (duplicates, stale and invalid receipts, receipts for unknown occurrences or from
  receivers that were not targeted, refused commands).

These three run for every receipt the controller ingests, so they go through
`store.bulk`: statements compiled once per dialect, rows built as plain tuples by one
function per table, sent as the driver's executemany; what is stored is what
SQLAlchemy's binding stored (the tests compare both).

After a restart, `pending_deliveries` gives back every delivery still under way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, get_args

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from controller.store.bulk import BulkInsert, Stamp, stamp_writer
from controller.store.schema import deliveries, delivery_events, occurrences
from devices.delivery import DELIVERY_STATES, TERMINAL, Delivery, Outcome
from devices.protocol.receipts import Proof

__all__ = [
    "EVENT_OUTCOMES",
    "EVENT_SOURCES",
    "DeliveryEvent",
    "DeliveryUpdate",
    "counts_by_occurrence",
    "delivery_counts",
    "insert_deliveries",
    "list_delivery_events",
    "load_command_ids",
    "load_deliveries",
    "load_proofs",
    "pending_deliveries",
    "record_delivery_event",
    "record_delivery_events",
    "save_deliveries",
    "save_delivery",
]

#: The verdicts of the state machine, then what the controller decides before it:
#: the occurrence is unknown, the receiver was not targeted, or the receiver refused a
#: command that named no occurrence.
EVENT_OUTCOMES: Final[tuple[str, ...]] = (
    *get_args(Outcome),
    "unknown_occurrence",
    "not_targeted",
    "rejected_command",
)
#: Who made the move: a receipt from the receiver, or the controller (queue, offer, end).
EVENT_SOURCES: Final = ("receiver", "controller")
#: The occurrence states under which a delivery may still move.
LIVE_OCCURRENCE_STATES: Final = ("scheduled", "dispatched")

_UNDER_WAY: Final = tuple(state for state in DELIVERY_STATES if state not in TERMINAL)
#: Checks run for every row of a batch: a bound `fullmatch` and sets are the cheapest.
_is_hex32: Final = re.compile(r"[0-9a-f]{32}").fullmatch
_SOURCES: Final = frozenset(EVENT_SOURCES)
_OUTCOMES: Final = frozenset(EVENT_OUTCOMES)
#: The lengths of the `reason`, `detail` and `state` columns (schema.py).
_REASON_LENGTH: Final = 200
_DETAIL_LENGTH: Final = 300
_STATE_LENGTH: Final = 16
_PROOF_COLUMNS: Final = (
    "started_at",
    "ended_at",
    "clock_offset_ms",
    "played_ms",
    "played_content",
    "level_db",
)


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """A delivery to save, with the command just sent for it or the proof it was played."""

    delivery: Delivery
    proof: Proof | None = None
    #: the id of the command just published for it; None keeps the one stored
    command_id: str | None = None

    def __post_init__(self) -> None:
        if self.command_id is not None and _is_hex32(self.command_id) is None:
            raise ValueError(f"command_id {self.command_id!r}: expected 32 lower-case hex")


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One receipt or controller move on a delivery, applied or not (`delivery_events`).

    Long `state`, `reason` and `detail` strings are cut to their columns when stored.
    """

    #: None only for a receiver's refusal of a command that named no occurrence
    occurrence_id: str | None
    #: who sent the receipt (registered or not), or whose delivery the controller moved
    receiver_id: str
    #: one of `EVENT_SOURCES`
    source: str
    #: the state the receipt claimed, or the one the controller moved to
    state: str
    reason: str | None
    #: the command a receipt answers, or the one the controller sent
    command_id: str | None
    #: the receipt's epoch and seq; None for the controller's moves
    epoch: int | None
    seq: int | None
    #: when it happened: by the receiver's clock for a receipt, else the controller's
    at: datetime
    #: when the controller handled it
    received_at: datetime
    #: one of `EVENT_OUTCOMES`
    outcome: str
    #: why, for people (`devices.delivery.Step.detail`)
    detail: str
    #: the row's number, given when it is stored; events list in this order
    id: int | None = None

    def __post_init__(self) -> None:
        # Made for every receipt: each check is one cheap test, the message built on failure.
        if self.occurrence_id is not None and _is_hex32(self.occurrence_id) is None:
            raise ValueError(f"occurrence_id {self.occurrence_id!r}: expected 32 lower-case hex")
        if self.command_id is not None and _is_hex32(self.command_id) is None:
            raise ValueError(f"command_id {self.command_id!r}: expected 32 lower-case hex")
        if not 1 <= len(self.receiver_id) <= 40:
            raise ValueError(f"receiver_id {self.receiver_id!r}: expected 1 to 40 characters")
        if self.source not in _SOURCES:
            raise ValueError(f"source {self.source!r}: expected one of {', '.join(EVENT_SOURCES)}")
        if self.outcome not in _OUTCOMES:
            raise ValueError(
                f"outcome {self.outcome!r}: expected one of {', '.join(EVENT_OUTCOMES)}"
            )
        if self.at.tzinfo is not UTC:
            _require_aware(self.at, "at")
        if self.received_at.tzinfo is not UTC:
            _require_aware(self.received_at, "received_at")


async def insert_deliveries(session: AsyncSession, rows: Sequence[Delivery]) -> None:
    """Insert new deliveries in one executemany; those already stored are kept as they are."""
    if not rows:
        return
    connection = await session.connection()
    await _INSERT_NEW.execute(connection, _delivery_rows(rows, stamp_writer(connection.dialect)))


async def save_deliveries(
    session: AsyncSession, updates: Sequence[Delivery | DeliveryUpdate]
) -> None:
    """Write the state of each delivery (inserting any not stored yet) in one executemany.

    A command id replaces the stored one; none keeps it. `offered_at` is set once: when a
    delivery is first saved `offered` or with a command. Proof columns are set when a proof
    is given and kept otherwise.
    """
    if not updates:
        return
    connection = await session.connection()
    await _SAVE.execute(connection, _delivery_rows(updates, stamp_writer(connection.dialect)))


async def save_delivery(
    session: AsyncSession,
    delivery: Delivery,
    *,
    proof: Proof | None = None,
    command_id: str | None = None,
) -> None:
    """`save_deliveries` for one delivery."""
    await save_deliveries(session, [DeliveryUpdate(delivery, proof, command_id)])


async def load_deliveries(session: AsyncSession, occurrence_id: str) -> list[Delivery]:
    """Every delivery of an occurrence, by receiver id."""
    query = (
        select(deliveries)
        .where(deliveries.c.occurrence_id == occurrence_id)
        .order_by(deliveries.c.receiver_id)
    )
    return [_delivery(row) for row in (await session.execute(query)).all()]


async def load_proofs(session: AsyncSession, occurrence_id: str) -> dict[str, Proof]:
    """The proofs of play stored for an occurrence, by receiver id."""
    query = (
        select(deliveries)
        .where(
            deliveries.c.occurrence_id == occurrence_id,
            deliveries.c.started_at.is_not(None),
        )
        .order_by(deliveries.c.receiver_id)
    )
    return {
        row.receiver_id: Proof(
            started_at=row.started_at,
            ended_at=row.ended_at,
            clock_offset_ms=row.clock_offset_ms,
            content=row.played_content,
            played_ms=row.played_ms,
            level_db=row.level_db,
        )
        for row in (await session.execute(query)).all()
    }


async def load_command_ids(session: AsyncSession, occurrence_id: str) -> dict[str, str]:
    """The id of the last command sent to each receiver for an occurrence, by receiver id."""
    query = select(deliveries.c.receiver_id, deliveries.c.command_id).where(
        deliveries.c.occurrence_id == occurrence_id, deliveries.c.command_id.is_not(None)
    )
    return {row.receiver_id: row.command_id for row in (await session.execute(query)).all()}


async def pending_deliveries(
    session: AsyncSession, *, now: datetime, receiver_id: str | None = None
) -> list[Delivery]:
    """Deliveries still under way (all, or one receiver's), of live occurrences.

    Under way: not ended (`queued` to `playing`). Live: the occurrence is scheduled or
    dispatched and expires after `now`. Ordered by play time (emergencies, which have
    none, first), then occurrence and receiver.
    """
    _require_aware(now, "now")
    query = (
        select(deliveries)
        .join(occurrences, occurrences.c.id == deliveries.c.occurrence_id)
        .where(
            deliveries.c.state.in_(_UNDER_WAY),
            occurrences.c.state.in_(LIVE_OCCURRENCE_STATES),
            occurrences.c.expires_at > now,
        )
        .order_by(
            occurrences.c.play_at.asc().nulls_first(),
            deliveries.c.occurrence_id,
            deliveries.c.receiver_id,
        )
    )
    if receiver_id is not None:
        query = query.where(deliveries.c.receiver_id == receiver_id)
    return [_delivery(row) for row in (await session.execute(query)).all()]


async def delivery_counts(session: AsyncSession, occurrence_id: str) -> dict[str, int]:
    """How many of an occurrence's deliveries stand in each state (every state, 0 included)."""
    return (await counts_by_occurrence(session, [occurrence_id]))[occurrence_id]


async def counts_by_occurrence(
    session: AsyncSession, occurrence_ids: Iterable[str]
) -> dict[str, dict[str, int]]:
    """`delivery_counts` of several occurrences in one query, by occurrence id."""
    wanted = list(dict.fromkeys(occurrence_ids))
    counts: dict[str, dict[str, int]] = {oid: dict.fromkeys(DELIVERY_STATES, 0) for oid in wanted}
    if not wanted:
        return counts
    query = (
        select(deliveries.c.occurrence_id, deliveries.c.state, func.count().label("n"))
        .where(deliveries.c.occurrence_id.in_(wanted))
        .group_by(deliveries.c.occurrence_id, deliveries.c.state)
    )
    for row in (await session.execute(query)).all():
        counts[row.occurrence_id][row.state] = row.n
    return counts


async def record_delivery_events(session: AsyncSession, events: Sequence[DeliveryEvent]) -> None:
    """Append events to the log in one executemany."""
    if not events:
        return
    connection = await session.connection()
    await _LOG.execute(connection, _event_rows(events, stamp_writer(connection.dialect)))


async def record_delivery_event(session: AsyncSession, event: DeliveryEvent) -> None:
    """Append one event to the log."""
    await record_delivery_events(session, [event])


async def list_delivery_events(
    session: AsyncSession, occurrence_id: str, *, limit: int | None = None
) -> list[DeliveryEvent]:
    """An occurrence's events, oldest first (the first `limit` when given)."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    query = (
        select(delivery_events)
        .where(delivery_events.c.occurrence_id == occurrence_id)
        .order_by(delivery_events.c.id)
        .limit(limit)
    )
    return [
        DeliveryEvent(
            occurrence_id=row.occurrence_id,
            receiver_id=row.receiver_id,
            source=row.source,
            state=row.state,
            reason=row.reason,
            command_id=row.command_id,
            epoch=row.epoch,
            seq=row.seq,
            at=row.at,
            received_at=row.received_at,
            outcome=row.outcome,
            detail=row.detail,
            id=row.id,
        )
        for row in (await session.execute(query)).all()
    ]


def _insert(dialect: str) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both share the API we use)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(deliveries)


def _insert_new(dialect: str) -> Insert:
    """`insert_deliveries`: a row already stored stays as it is."""
    statement: Insert = _insert(dialect).on_conflict_do_nothing(
        index_elements=[deliveries.c.occurrence_id, deliveries.c.receiver_id]
    )
    return statement


def _upsert(dialect: str) -> Insert:
    """`save_deliveries`: the coalesce rules of its docstring, in the ON CONFLICT clause."""
    table = deliveries.c
    statement = _insert(dialect)
    new = statement.excluded
    kept = {name: func.coalesce(new[name], table[name]) for name in _PROOF_COLUMNS}
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[table.occurrence_id, table.receiver_id],
        set_={
            "state": new.state,
            "reason": new.reason,
            "content_id": new.content_id,
            "epoch": new.epoch,
            "seq": new.seq,
            "updated_at": new.updated_at,
            "offered_at": func.coalesce(table.offered_at, new.offered_at),
            "command_id": func.coalesce(new.command_id, table.command_id),
            **kept,
        },
    )
    return upsert


#: What `_delivery_rows` gives, in the table's order; the bulk statements check it.
_DELIVERY_COLUMNS: Final = (
    "occurrence_id",
    "receiver_id",
    "state",
    "reason",
    "content_id",
    "epoch",
    "seq",
    "updated_at",
    "offered_at",
    "command_id",
    *_PROOF_COLUMNS,
)
#: The columns the row builders convert as SQLAlchemy's bind processors would.
_DELIVERY_CONVERTED: Final = ("updated_at", "offered_at", "started_at", "ended_at", "level_db")
_EVENT_COLUMNS: Final = (
    "occurrence_id",
    "receiver_id",
    "source",
    "state",
    "reason",
    "command_id",
    "epoch",
    "seq",
    "at",
    "received_at",
    "outcome",
    "detail",
)

_INSERT_NEW: Final = BulkInsert(
    deliveries, _DELIVERY_COLUMNS, _insert_new, converted=_DELIVERY_CONVERTED
)
_SAVE: Final = BulkInsert(deliveries, _DELIVERY_COLUMNS, _upsert, converted=_DELIVERY_CONVERTED)
_LOG: Final = BulkInsert(
    delivery_events,
    _EVENT_COLUMNS,
    lambda _dialect: insert(delivery_events),
    converted=("at", "received_at"),
)


def _delivery_rows(
    updates: Iterable[Delivery | DeliveryUpdate], stamp: Stamp
) -> list[tuple[Any, ...]]:
    """Rows of `_DELIVERY_COLUMNS`: one pass, no dict, each instant converted once."""
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for update in updates:
        if isinstance(update, DeliveryUpdate):
            d, proof, command_id = update.delivery, update.proof, update.command_id
        else:
            d, proof, command_id = update, None, None
        updated_at = stamp(d.updated_at)
        reason = d.reason
        if proof is None:
            started_at = ended_at = offset_ms = played_ms = played = level_db = None
        else:
            started_at = stamp(proof.started_at)
            ended_at = stamp(proof.ended_at)
            offset_ms, played_ms, played = proof.clock_offset_ms, proof.played_ms, proof.content
            level_db = None if proof.level_db is None else float(proof.level_db)
        append(
            (
                d.occurrence,
                d.receiver,
                d.state,
                None if reason is None else reason[:_REASON_LENGTH],
                d.content,
                d.epoch,
                d.seq,
                updated_at,
                # the first command: saved `offered`, or with a command id
                updated_at if command_id is not None or d.state == "offered" else None,
                command_id,
                started_at,
                ended_at,
                offset_ms,
                played_ms,
                played,
                level_db,
            )
        )
    return rows


def _event_rows(events: Iterable[DeliveryEvent], stamp: Stamp) -> list[tuple[Any, ...]]:
    """Rows of `_EVENT_COLUMNS`, long strings cut to their columns."""
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for e in events:
        at = stamp(e.at)
        reason = e.reason
        append(
            (
                e.occurrence_id,
                e.receiver_id,
                e.source,
                e.state[:_STATE_LENGTH],
                None if reason is None else reason[:_REASON_LENGTH],
                e.command_id,
                e.epoch,
                e.seq,
                at,
                # the controller's moves happen when handled: one conversion for both
                at if e.received_at is e.at else stamp(e.received_at),
                e.outcome,
                e.detail[:_DETAIL_LENGTH],
            )
        )
    return rows


def _delivery(row: Any) -> Delivery:
    return Delivery(
        occurrence=row.occurrence_id,
        receiver=row.receiver_id,
        state=row.state,
        reason=row.reason,
        updated_at=row.updated_at,
        epoch=row.epoch,
        seq=row.seq,
        content=row.content_id,
    )


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name}: naive datetime {at!r}; pass a timezone-aware instant (UTC)")
