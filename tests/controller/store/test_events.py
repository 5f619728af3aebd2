"""Controller events, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from controller.store import Store, list_events, record_event

HANOI = timezone(timedelta(hours=7))


async def test_an_event_comes_back_as_recorded_with_its_instant_in_utc(store: Store) -> None:
    local = datetime(2025, 3, 1, 13, 30, 15, 123456, tzinfo=HANOI)
    detail = {"version": "0.1.0", "note": "Loa phường Bến Nghé", "retries": [1, 2]}

    event_id = await record_event(store, "ctl-1", "start", detail, local)

    [event] = await list_events(store)
    assert event.id == event_id
    assert event.at == local
    assert event.at.utcoffset() == timedelta(0)
    assert event.at.isoformat() == "2025-03-01T06:30:15.123456+00:00"
    assert (event.controller_id, event.kind, event.detail) == ("ctl-1", "start", detail)


async def test_an_event_without_detail_has_none(store: Store) -> None:
    await record_event(store, "ctl-1", "stop", None, datetime(2025, 3, 1, tzinfo=UTC))
    [event] = await list_events(store)
    assert event.detail is None


async def test_a_naive_instant_is_refused_and_nothing_is_recorded(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await record_event(store, "ctl-1", "start", None, datetime(2025, 3, 1))  # noqa: DTZ001
    assert await list_events(store) == []


async def test_events_are_listed_newest_first_whatever_the_order_recorded(store: Store) -> None:
    base = datetime(2025, 3, 1, tzinfo=UTC)
    for minutes, kind in [(5, "broker_lost"), (1, "start"), (9, "stop"), (3, "broker_connected")]:
        await record_event(store, "ctl-1", kind, None, base + timedelta(minutes=minutes))

    kinds = [event.kind for event in await list_events(store)]
    assert kinds == ["stop", "broker_lost", "broker_connected", "start"]
    newest_two = [event.kind for event in await list_events(store, limit=2)]
    assert newest_two == ["stop", "broker_lost"]


async def test_events_at_the_same_instant_are_listed_latest_recorded_first(store: Store) -> None:
    at = datetime(2025, 3, 1, tzinfo=UTC)
    first = await record_event(store, "ctl-1", "broker_lost", None, at)
    second = await record_event(store, "ctl-1", "embedded_broker_restarted", None, at)
    assert [event.id for event in await list_events(store)] == [second, first]


async def test_events_can_be_listed_for_one_controller(store: Store) -> None:
    at = datetime(2025, 3, 1, tzinfo=UTC)
    await record_event(store, "ctl-1", "start", None, at)
    await record_event(store, "ctl-2", "start", None, at + timedelta(seconds=1))
    await record_event(store, "ctl-1", "stop", None, at + timedelta(seconds=2))

    events = await list_events(store, controller_id="ctl-1")
    assert [(event.controller_id, event.kind) for event in events] == [
        ("ctl-1", "stop"),
        ("ctl-1", "start"),
    ]
    assert await list_events(store, controller_id="nobody") == []


async def test_a_limit_below_one_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        await list_events(store, limit=0)
