"""The live hub: coalescing by key, filters, overflow, closing."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from controller.live import LiveEvent, LiveHub


def receiver(rid: str, state: str) -> LiveEvent:
    return LiveEvent("receiver", f"receiver:{rid}", {"id": rid, "state": state})


async def test_a_batch_holds_the_latest_state_of_each_receiver_in_change_order() -> None:
    hub = LiveHub()
    watching = hub.subscribe()
    hub.publish(receiver("a", "online"))
    hub.publish(receiver("b", "online"))
    hub.publish(receiver("a", "offline"))
    batch = await watching.next_batch(1.0)
    assert batch is not None
    assert [(e.data["id"], e.data["state"]) for e in batch] == [("b", "online"), ("a", "offline")]


async def test_filters_pick_kinds_and_one_occurrence() -> None:
    hub = LiveHub()
    only = hub.subscribe(lambda e: e.kind == "delivery" and e.occurrence == "o1")
    hub.publish(receiver("a", "online"))
    hub.publish(LiveEvent("delivery", "delivery:o2:a", {"state": "played"}, occurrence="o2"))
    hub.publish(LiveEvent("delivery", "delivery:o1:a", {"state": "armed"}, occurrence="o1"))
    batch = await only.next_batch(1.0)
    assert batch is not None
    assert [e.key for e in batch] == ["delivery:o1:a"]


async def test_a_quiet_stream_times_out_empty_and_a_closed_one_ends() -> None:
    hub = LiveHub()
    watching = hub.subscribe()
    assert await watching.next_batch(0.01) == []
    waiting = asyncio.create_task(watching.next_batch(10))
    await asyncio.sleep(0.01)
    hub.close()
    assert await asyncio.wait_for(waiting, 1) is None
    assert hub.watchers == 0


async def test_a_watcher_too_far_behind_is_told_to_reload_not_sent_the_backlog() -> None:
    hub = LiveHub()
    slow = hub.subscribe(max_pending=10)
    for number in range(25):
        hub.publish(receiver(f"r{number}", "online"))
    batch = await slow.next_batch(1.0)
    assert batch == []
    assert slow.take_overflow() is True
    assert slow.take_overflow() is False
    hub.publish(receiver("r1", "offline"))  # after the reload, changes flow again
    again = await slow.next_batch(1.0)
    assert again is not None
    assert [e.data["state"] for e in again] == ["offline"]


async def test_a_failing_filter_drops_that_watcher_only() -> None:
    hub = LiveHub()

    def broken(_event: LiveEvent) -> bool:
        raise RuntimeError("bug in a filter")

    hub.subscribe(broken)
    fine = hub.subscribe()
    hub.publish(receiver("a", "online"))
    assert hub.watchers == 1
    batch = await fine.next_batch(1.0)
    assert batch is not None
    assert len(batch) == 1


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from(["online", "offline"]))))
def test_coalescing_keeps_exactly_the_last_state_of_each(changes: list[tuple[str, str]]) -> None:
    async def run() -> dict[str, str]:
        hub = LiveHub()
        watching = hub.subscribe()
        for rid, state in changes:
            hub.publish(receiver(rid, state))
        batch = await watching.next_batch(0.001)
        return {e.data["id"]: e.data["state"] for e in batch or []}

    expected = dict(changes)
    assert asyncio.run(run()) == expected
