"""The delivery journal: moves gathered, the last move of a delivery kept, written at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from controller.delivery.journal import FLUSH_BATCH, FLUSH_SECONDS, Journal
from controller.store import Store
from controller.store.bulletins import get_occurrence, set_occurrence_state
from controller.store.deliveries import (
    DeliveryEvent,
    DeliveryUpdate,
    insert_deliveries,
    list_delivery_events,
    load_deliveries,
)
from devices.delivery import Delivery, offer, start
from tests.controller.store.bulletin_data import (
    RECEIVERS,
    T0,
    add_bulletin,
    bulletin,
    occurrence,
    seed,
    sha,
)
from tests.simulators.delivery.support import FakeClock


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with await Store.open(store_url) as opened:
        await opened.upgrade()
        yield opened


def event(delivery: Delivery, outcome: str = "applied") -> DeliveryEvent:
    return DeliveryEvent(
        occurrence_id=delivery.occurrence, receiver_id=delivery.receiver, source="controller",
        state=delivery.state, reason=None, command_id=None, epoch=None, seq=None,
        at=delivery.updated_at, received_at=delivery.updated_at, outcome=outcome, detail="",
    )  # fmt: skip


async def test_the_last_move_of_each_delivery_and_every_event_are_written_together(
    store: Store,
) -> None:
    await seed(store)
    row = bulletin()
    occ = occurrence("o", row, T0 + timedelta(minutes=5))
    await add_bulletin(store, row, occ)
    queued = {rx: start(occ.id, rx, T0) for rx in RECEIVERS}
    async with store.write() as session:
        await insert_deliveries(session, list(queued.values()))
        await set_occurrence_state(session, occ.id, "dispatched", T0)
    woken: list[bool] = []
    journal = Journal(store, FakeClock(at=T0), lambda: woken.append(True))
    offered = offer(queued["rx-1"], sha("vi"), T0).delivery
    journal.moved(DeliveryUpdate(offered), event(offered))
    duplicate = event(offered, "duplicate")
    journal.event(duplicate)
    ended = offer(queued["rx-2"], sha("vi"), T0).delivery
    journal.moved(DeliveryUpdate(ended), event(ended))
    journal.finished(occ.id, "dispatched")
    assert journal.waiting == 2 + 3 + 1
    await journal.flush()
    assert journal.waiting == 0
    async with store.read() as session:
        states = {d.receiver: d.state for d in await load_deliveries(session, occ.id)}
        outcomes = [e.outcome for e in await list_delivery_events(session, occ.id)]
        stored = await get_occurrence(session, occ.id)
    assert states == {"rx-1": "offered", "rx-2": "offered", "rx-3": "queued"}
    assert outcomes == ["applied", "duplicate", "applied"]
    assert stored is not None
    assert stored.state == "done"
    await journal.flush()  # nothing gathered: no transaction, no error


async def test_due_at_a_full_batch_or_after_the_interval_with_a_wake_scheduled(
    store: Store,
) -> None:
    clock = FakeClock(at=T0)
    woken = asyncio.Event()
    journal = Journal(store, clock, woken.set)
    assert not journal.due()  # nothing waiting
    delivery = start("a" * 32, "rx-1", T0)
    journal.event(event(delivery))
    assert journal.due()  # the first write is not held back
    await journal.flush()
    journal.event(event(delivery))
    assert not journal.due()  # too soon after the last write: a wake is scheduled
    clock.advance(FLUSH_SECONDS)
    assert journal.due()
    await journal.flush()
    for _ in range(FLUSH_BATCH):
        journal.event(event(delivery))
    assert journal.due()  # a full batch goes at once
    await journal.flush()
    journal.event(event(delivery))
    assert not journal.due()
    await asyncio.wait_for(woken.wait(), FLUSH_SECONDS * 10)  # the scheduled wake came
    await journal.close()
