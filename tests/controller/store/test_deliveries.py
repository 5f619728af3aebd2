"""Deliveries and their event log on SQLite and PostgreSQL: bulk writes, restart, proofs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from controller.store import Store
from controller.store.bulletins import set_occurrence_state
from controller.store.deliveries import (
    DeliveryEvent,
    DeliveryUpdate,
    counts_by_occurrence,
    delivery_counts,
    insert_deliveries,
    list_delivery_events,
    load_command_ids,
    load_deliveries,
    load_proofs,
    pending_deliveries,
    record_delivery_event,
    record_delivery_events,
    save_deliveries,
    save_delivery,
)
from controller.store.schema import deliveries, delivery_events
from devices.delivery import Delivery, apply_receipt, cancel, expire, offer, start
from devices.protocol.receipts import Proof
from loa.errors import StoreError
from tests.controller.store.bulletin_data import (
    RECEIVERS,
    T0,
    add_bulletin,
    bulletin,
    hex32,
    occurrence,
    seed,
    sha,
)

B = bulletin()
OCC = occurrence("morning", B, T0 + timedelta(minutes=30))
CMD1, CMD2 = hex32("command 1"), hex32("command 2")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def stored(store: Store, occurrence_id: str = OCC.id) -> list[Delivery]:
    async with store.read() as session:
        return await load_deliveries(session, occurrence_id)


async def test_deliveries_are_inserted_in_bulk_and_a_second_insert_keeps_progress(
    store: Store,
) -> None:
    await seed(store)
    await add_bulletin(store, B, OCC)
    queued = [start(OCC.id, rid, at(0)) for rid in RECEIVERS]
    async with store.write() as session:
        await insert_deliveries(session, queued)
        await insert_deliveries(session, [])
    assert await stored(store) == queued

    armed = apply_receipt(
        offer(queued[0], sha("vi"), at(1)).delivery, "armed", epoch=4, seq=7, at=at(2)
    ).delivery
    async with store.write() as session:
        await save_delivery(session, armed)
        await insert_deliveries(session, queued)  # a dispatch retried after a crash
    assert await stored(store) == [armed, *queued[1:]]


async def test_a_delivery_of_an_unknown_receiver_or_occurrence_is_refused(store: Store) -> None:
    await seed(store)
    await add_bulletin(store, B, OCC)
    for wrong in (start(OCC.id, "rx-404", at(0)), start(hex32("nothing"), "rx-1", at(0))):
        with pytest.raises(StoreError, match=r"(?i)foreign key"):
            async with store.write() as session:
                await insert_deliveries(session, [wrong])
    assert await stored(store) == []


async def test_commands_and_proofs_are_kept_across_saves(store: Store) -> None:
    await seed(store)
    await add_bulletin(store, B, OCC)
    queued = start(OCC.id, "rx-1", at(0))
    offered = offer(queued, sha("vi"), at(1)).delivery
    downloading = apply_receipt(offered, "downloading", epoch=4, seq=0, at=at(2)).delivery
    played = apply_receipt(downloading, "played", epoch=5, seq=3, at=at(40)).delivery
    proof = Proof(
        started_at=at(30),
        ended_at=at(32),
        clock_offset_ms=-1830,
        content=sha("vi"),
        played_ms=122_880,
        level_db=-17.5,
    )

    async def columns() -> dict[str, Any]:
        async with store.read() as session:
            row = (await session.execute(deliveries.select())).one()
        return row._asdict()

    async with store.write() as session:
        await insert_deliveries(session, [queued])
        await save_delivery(session, offered, command_id=CMD1)
    assert (await columns())["offered_at"] == at(1)
    assert (await columns())["command_id"] == CMD1
    async with store.read() as session:
        assert await load_command_ids(session, OCC.id) == {"rx-1": CMD1}

    async with store.write() as session:
        await save_delivery(session, downloading)
    async with store.write() as session:  # the receiver came back: the command is sent again
        await save_deliveries(session, [DeliveryUpdate(downloading, command_id=CMD2)])
    async with store.write() as session:
        await save_delivery(session, played, proof=proof)
    async with store.write() as session:
        await save_deliveries(session, [played])  # saved again without its proof

    row = await columns()
    assert (row["state"], row["epoch"], row["seq"], row["updated_at"]) == ("played", 5, 3, at(40))
    assert (row["offered_at"], row["command_id"], row["content_id"]) == (at(1), CMD2, sha("vi"))
    assert (row["started_at"], row["played_content"], row["level_db"]) == (at(30), sha("vi"), -17.5)
    assert await stored(store) == [played]
    async with store.read() as session:
        assert await load_proofs(session, OCC.id) == {"rx-1": proof}


async def test_a_delivery_first_saved_past_offered_still_gets_its_offer_time(store: Store) -> None:
    """Group commands: a member may answer before its `offered` was ever written."""
    await seed(store)
    await add_bulletin(store, B, OCC)
    accepted = apply_receipt(
        start(OCC.id, "rx-2", at(0)), "accepted", epoch=1, seq=0, at=at(3)
    ).delivery
    async with store.write() as session:
        await save_deliveries(session, [accepted])  # an upsert: no insert needed first
    async with store.read() as session:
        row = (await session.execute(deliveries.select())).one()
    assert (row.state, row.offered_at, row.command_id) == ("accepted", None, None)
    assert await stored(store) == [accepted]


async def test_after_a_restart_the_pending_deliveries_come_back(store: Store) -> None:
    await seed(store)
    b = bulletin()
    now = at(10)
    morning = OCC
    emergency = occurrence("emergency", b, None, expires_at=at(20))
    expired = occurrence("expired", b, at(-60), expires_at=now)
    cancelled = occurrence("cancelled", b, at(15))
    await add_bulletin(store, b, morning, emergency, expired, cancelled)

    def walk(occ_id: str, rid: str, *states: str) -> Delivery:
        d = offer(start(occ_id, rid, at(0)), sha("vi"), at(1)).delivery
        for seq, state in enumerate(states):
            d = apply_receipt(d, state, epoch=2, seq=seq, at=at(2), reason="no_content").delivery
        return d

    rows = [
        walk(morning.id, "rx-1", "armed"),
        walk(morning.id, "rx-2", "failed"),
        start(morning.id, "rx-3", at(0)),
        walk(emergency.id, "rx-3", "accepted", "playing"),
        walk(emergency.id, "rx-2", "played"),
        expire(walk(emergency.id, "rx-1"), at(5)).delivery,
        walk(expired.id, "rx-1", "armed"),
        cancel(walk(cancelled.id, "rx-1"), at(6)).delivery,
        walk(cancelled.id, "rx-2"),
    ]
    async with store.write() as session:
        await save_deliveries(session, rows)
        assert await set_occurrence_state(session, cancelled.id, "cancelled", at(6))

    async with store.read() as session:
        everyone = await pending_deliveries(session, now=now)
        one = await pending_deliveries(session, now=now, receiver_id="rx-3")
        nobody = await pending_deliveries(session, now=now, receiver_id="rx-404")
        later = await pending_deliveries(session, now=at(20))
        with pytest.raises(ValueError, match="now: naive"):
            await pending_deliveries(session, now=datetime(2026, 12, 3))  # noqa: DTZ001
    assert everyone == [rows[3], rows[0], rows[2]]  # the emergency (no play time) first
    assert one == [rows[3], rows[2]]
    assert nobody == []
    assert later == [rows[0], rows[2]]


async def test_counts_give_every_state(store: Store) -> None:
    await seed(store)
    other = occurrence("evening", B, at(600))
    await add_bulletin(store, B, OCC, other)
    first = offer(start(OCC.id, "rx-1", at(0)), sha("vi"), at(1)).delivery
    async with store.write() as session:
        await insert_deliveries(session, [start(OCC.id, rid, at(0)) for rid in RECEIVERS])
        await save_deliveries(session, [first])

    async with store.read() as session:
        counts = await delivery_counts(session, OCC.id)
        both = await counts_by_occurrence(session, [other.id, OCC.id, other.id])
        unknown = await delivery_counts(session, hex32("nothing"))
        assert await counts_by_occurrence(session, []) == {}
    assert list(counts) == [
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
    assert {state: n for state, n in counts.items() if n} == {"queued": 2, "offered": 1}
    assert list(both) == [other.id, OCC.id]
    assert both[OCC.id] == counts
    assert sum(both[other.id].values()) == sum(unknown.values()) == 0


def event(**changes: Any) -> DeliveryEvent:
    base = DeliveryEvent(
        occurrence_id=OCC.id,
        receiver_id="rx-1",
        source="receiver",
        state="armed",
        reason=None,
        command_id=None,
        epoch=4,
        seq=9,
        at=at(2),
        received_at=at(2.01),
        outcome="applied",
        detail="offered -> armed",
    )
    return dataclasses.replace(base, **changes)


async def test_every_event_is_logged_anomalies_included(store: Store) -> None:
    await seed(store)
    await add_bulletin(store, B, OCC)
    events = [
        event(source="controller", state="offered", epoch=None, seq=None, command_id=CMD1),
        event(),
        event(received_at=at(2.02), outcome="duplicate", detail="the receipt already applied"),
        event(receiver_id="rx-unknown", outcome="not_targeted", detail="x" * 500),
        event(occurrence_id=hex32("nothing"), outcome="unknown_occurrence"),
        event(
            occurrence_id=None,
            state="rejected",
            reason="bad_signature",
            command_id=CMD2,
            outcome="rejected_command",
        ),
    ]
    async with store.write() as session:
        await record_delivery_events(session, events[:3])
        await record_delivery_events(session, [])
        for e in events[3:]:
            await record_delivery_event(session, e)

    async with store.read() as session:
        logged = await list_delivery_events(session, OCC.id)
        first_two = await list_delivery_events(session, OCC.id, limit=2)
        assert await list_delivery_events(session, hex32("nothing")) == [
            dataclasses.replace(events[4], id=5)
        ]
        with pytest.raises(ValueError, match="limit must be at least 1"):
            await list_delivery_events(session, OCC.id, limit=0)
    ids = [e.id for e in logged if e.id is not None]
    assert len(ids) == len(logged) == 4
    assert ids == sorted(ids)
    assert [dataclasses.replace(e, id=None) for e in logged] == [
        *events[:3],
        dataclasses.replace(events[3], detail="x" * 300),
    ]
    assert first_two == logged[:2]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"occurrence_id": "0123"}, "occurrence_id '0123': expected 32"),
        ({"command_id": "z" * 32}, "command_id 'zzz.*': expected 32"),
        ({"command_id": CMD1 + "\n"}, "command_id '[0-9a-f]{32}\\\\n': expected 32"),
        ({"occurrence_id": OCC.id.upper()}, "occurrence_id '[0-9A-F]{32}': expected 32"),
        ({"receiver_id": ""}, "receiver_id '': expected 1 to 40"),
        ({"source": "broker"}, "source 'broker': expected one of receiver, controller"),
        ({"outcome": "ignored"}, "outcome 'ignored': expected one of applied, duplicate"),
        ({"received_at": datetime(2026, 12, 3)}, "received_at: naive"),  # noqa: DTZ001
    ],
)
def test_an_event_that_does_not_hold_together_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        event(**changes)


@pytest.mark.parametrize("command_id", ["c1", CMD1 + "\n", CMD1.upper(), CMD1 + "0"])
def test_a_command_id_must_be_one(command_id: str) -> None:
    with pytest.raises(ValueError, match=r"command_id '.*': expected 32"):
        DeliveryUpdate(start(OCC.id, "rx-1", T0), command_id=command_id)


async def test_a_thousand_receipts_are_saved_in_one_batch(store: Store) -> None:
    receivers = tuple(f"rx-{i:04d}" for i in range(1000))
    await seed(store, receivers)
    await add_bulletin(store, B, OCC)
    offered = [offer(start(OCC.id, rid, at(0)), sha("vi"), at(1)).delivery for rid in receivers]
    async with store.write() as session:
        await insert_deliveries(session, offered)
    steps = [
        apply_receipt(d, "armed", epoch=1, seq=i, at=at(2))
        if i % 4
        else apply_receipt(d, "failed", epoch=1, seq=i, at=at(2), reason="storage_full")
        for i, d in enumerate(offered)
    ]
    async with store.write() as session:
        await save_deliveries(session, [s.delivery for s in steps])
        await record_delivery_events(
            session,
            [
                event(receiver_id=s.delivery.receiver, state=s.delivery.state, seq=i)
                for i, s in enumerate(steps)
            ],
        )

    async with store.read() as session:
        counts = await delivery_counts(session, OCC.id)
        assert len(await list_delivery_events(session, OCC.id)) == 1000
    assert {state: n for state, n in counts.items() if n} == {"armed": 750, "failed": 250}
    assert await stored(store) == [s.delivery for s in steps]


async def test_saved_times_come_back_in_utc(store: Store) -> None:
    await seed(store)
    await add_bulletin(store, B, OCC)
    hanoi = datetime(2026, 12, 3, 14, 45, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    async with store.write() as session:
        await save_delivery(session, start(OCC.id, "rx-1", hanoi))
    [back] = await stored(store)
    assert back.updated_at == datetime(2026, 12, 3, 7, 45, tzinfo=UTC)
    assert back.updated_at.tzinfo == UTC


def delivery(rid: str, state: str, minutes: float, *, seq: int | None = None) -> Delivery:
    """A delivery as the state machine would hold it, made directly for the store's sake."""
    return Delivery(
        occurrence=OCC.id,
        receiver=rid,
        state=state,  # type: ignore[arg-type]
        reason=None,
        updated_at=at(minutes),
        epoch=None if seq is None else 3,
        seq=seq,
        content=sha("vi"),
    )


def proof(minutes: float, level_db: float | None = None) -> Proof:
    return Proof(
        started_at=at(minutes),
        ended_at=at(minutes + 2),
        clock_offset_ms=-40,
        content=sha("vi"),
        played_ms=120_000,
        level_db=level_db,
    )


async def rows_by_receiver(store: Store, table: Any = deliveries) -> dict[str, tuple[Any, ...]]:
    """The stored rows as the driver gives them (on SQLite, datetimes are the stored text)."""
    async with store.read() as session:
        connection = await session.connection()
        result = await connection.exec_driver_sql(f"SELECT * FROM {table.name}")  # noqa: S608
        return {row.receiver_id: tuple(row) for row in result}


async def test_the_bulk_path_stores_what_sqlalchemy_bound(store: Store) -> None:
    """Rows written through SQLAlchemy's binding (the old path) and the bulk path are equal,
    datetimes included byte for byte on SQLite, and read back alike through the loaders."""
    await seed(store, ("rx-old", "rx-new"))
    await add_bulletin(store, B, OCC)
    hanoi = datetime(2026, 12, 3, 14, 45, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    played = dataclasses.replace(
        delivery("rx-new", "played", 0, seq=8), updated_at=hanoi, reason="r" * 250
    )
    heard = Proof(
        started_at=datetime(2026, 12, 3, 7, 40, 1, 234_000, tzinfo=UTC),
        ended_at=datetime(2026, 12, 3, 7, 42, tzinfo=UTC),
        clock_offset_ms=12,
        content=sha("vi"),
        played_ms=119_000,
        level_db=-17,
    )
    logged = event(
        receiver_id="rx-new",
        reason="x" * 250,
        command_id=CMD1,
        at=datetime(2026, 12, 3, 9, 0, 0, 5, tzinfo=ZoneInfo("Europe/Paris")),
        received_at=at(0.5),
        detail="d" * 400,
    )
    by_sqlalchemy = {
        "occurrence_id": OCC.id,
        "receiver_id": "rx-old",
        "state": "played",
        "reason": "r" * 200,
        "content_id": sha("vi"),
        "epoch": 3,
        "seq": 8,
        "updated_at": hanoi,
        "offered_at": hanoi,
        "command_id": CMD1,
        "started_at": heard.started_at,
        "ended_at": heard.ended_at,
        "clock_offset_ms": 12,
        "played_ms": 119_000,
        "played_content": sha("vi"),
        "level_db": -17,
    }
    event_by_sqlalchemy = {
        "occurrence_id": OCC.id,
        "receiver_id": "rx-old",
        "source": "receiver",
        "state": "armed",
        "reason": "x" * 200,
        "command_id": CMD1,
        "epoch": 4,
        "seq": 9,
        "at": logged.at,
        "received_at": logged.received_at,
        "outcome": "applied",
        "detail": "d" * 300,
    }
    async with store.write() as session:
        await session.execute(insert(deliveries), [by_sqlalchemy])
        await session.execute(insert(delivery_events), [event_by_sqlalchemy])
        await save_deliveries(session, [DeliveryUpdate(played, heard, CMD1)])
        await record_delivery_events(session, [logged])

    rows = await rows_by_receiver(store)
    assert rows["rx-new"][2:] == rows["rx-old"][2:]
    events = await rows_by_receiver(store, delivery_events)
    assert events["rx-new"][3:] == events["rx-old"][3:]  # after id, occurrence, receiver
    if store.is_sqlite:  # the text every reader of the SQLite file relies on
        assert rows["rx-new"][7:12] == (
            "2026-12-03 07:45:00.000000",
            "2026-12-03 07:45:00.000000",
            CMD1,
            "2026-12-03 07:40:01.234000",
            "2026-12-03 07:42:00.000000",
        )
        assert events["rx-new"][9:11] == (
            "2026-12-03 08:00:00.000005",
            "2026-12-03 00:30:30.000000",
        )
        assert rows["rx-new"][15] == -17.0
        assert isinstance(rows["rx-new"][15], float)

    async with store.read() as session:
        [new, old] = await load_deliveries(session, OCC.id)
        proofs = await load_proofs(session, OCC.id)
        assert await load_command_ids(session, OCC.id) == {"rx-new": CMD1, "rx-old": CMD1}
        [old_event, new_event] = await list_delivery_events(session, OCC.id)
    assert new == dataclasses.replace(played, reason="r" * 200)
    assert old == dataclasses.replace(new, receiver="rx-old")
    assert proofs == {"rx-old": heard, "rx-new": heard}
    assert new_event == dataclasses.replace(
        logged, reason="x" * 200, detail="d" * 300, id=new_event.id
    )
    assert dataclasses.replace(old_event, receiver_id="rx-new", id=new_event.id) == new_event


async def test_one_batch_mixes_commands_proofs_and_deliveries_not_stored_yet(
    store: Store,
) -> None:
    """The coalesce rules hold row by row within one executemany."""
    receivers = ("rx-1", "rx-2", "rx-3", "rx-4", "rx-5", "rx-6")
    await seed(store, receivers)
    await add_bulletin(store, B, OCC)
    cmd3, cmd5 = hex32("command 3"), hex32("command 5")
    first, second = proof(20, level_db=-12.5), proof(30)
    async with store.write() as session:
        await save_deliveries(
            session,
            [
                DeliveryUpdate(delivery("rx-1", "offered", 1), command_id=CMD1),
                DeliveryUpdate(delivery("rx-1", "played", 25, seq=4), first),
                delivery("rx-2", "queued", 0),
                delivery("rx-3", "offered", 1),  # offered without a command id
                DeliveryUpdate(delivery("rx-6", "played", 25, seq=4), first),
            ],
        )

    batch: list[Delivery | DeliveryUpdate] = [
        delivery("rx-1", "played", 40, seq=5),  # neither proof nor command: both kept
        DeliveryUpdate(delivery("rx-2", "offered", 2), command_id=CMD2),  # the first command
        DeliveryUpdate(delivery("rx-3", "armed", 3, seq=1), command_id=cmd3),  # sent again
        DeliveryUpdate(delivery("rx-4", "played", 35, seq=2), second),  # new, with a proof
        DeliveryUpdate(delivery("rx-5", "offered", 4), command_id=cmd5),  # new, with a command
        DeliveryUpdate(delivery("rx-6", "played", 36, seq=6), second),  # a newer proof
    ]
    async with store.write() as session:
        await save_deliveries(session, batch)

    async with store.read() as session:
        rows = {r.receiver_id: r for r in (await session.execute(deliveries.select())).all()}
        assert await load_deliveries(session, OCC.id) == [
            b if isinstance(b, Delivery) else b.delivery for b in batch
        ]
        assert await load_command_ids(session, OCC.id) == {
            "rx-1": CMD1,
            "rx-2": CMD2,
            "rx-3": cmd3,
            "rx-5": cmd5,
        }
        assert await load_proofs(session, OCC.id) == {
            "rx-1": first,
            "rx-4": second,
            # each proof column is coalesced on its own (as before the bulk path): a newer
            # proof that measured no level keeps the level stored with the older one
            "rx-6": dataclasses.replace(second, level_db=-12.5),
        }
    offered_at = {rid: row.offered_at for rid, row in rows.items()}
    assert offered_at == {
        "rx-1": at(1),  # set by the first command, kept
        "rx-2": at(2),  # set now: its first command
        "rx-3": at(1),  # set when saved `offered`; a later command does not move it
        "rx-4": None,  # first saved past `offered`, with no command
        "rx-5": at(4),
        "rx-6": None,
    }
    assert rows["rx-1"].updated_at == at(40)


async def test_a_naive_datetime_that_slipped_past_validation_is_refused(store: Store) -> None:
    await seed(store)
    await add_bulletin(store, B, OCC)
    naive = start(OCC.id, "rx-1", at(0))
    object.__setattr__(naive, "updated_at", datetime(2026, 12, 3, 7, 45))  # noqa: DTZ001
    logged = event()
    object.__setattr__(logged, "received_at", datetime(2026, 12, 3, 7, 45))  # noqa: DTZ001
    with pytest.raises(ValueError, match=r"naive datetime .*timezone-aware"):
        async with store.write() as session:
            await save_deliveries(session, [start(OCC.id, "rx-2", at(0)), naive])
    with pytest.raises(ValueError, match=r"naive datetime .*timezone-aware"):
        async with store.write() as session:
            await record_delivery_events(session, [event(), logged])
    assert await stored(store) == []
    async with store.read() as session:
        assert await list_delivery_events(session, OCC.id) == []
