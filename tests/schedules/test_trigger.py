"""The APScheduler trigger of a schedule: fires `lead` before each air time, across DST."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, time, timedelta

import pytest

from schedules.recurrence import Daily, Once
from schedules.trigger import AirTimeTrigger
from schedules.when import When

LEAD = timedelta(minutes=15)


def prague(at: time, start: date) -> AirTimeTrigger:
    return AirTimeTrigger(When(Daily((at,)), start, zone="Europe/Prague"), LEAD)


def fires(trigger: AirTimeTrigger, after: datetime, count: int) -> list[datetime]:
    found: list[datetime] = []
    fire = trigger.first_fire(after)
    while fire is not None and len(found) < count:
        found.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    return found


def test_spring_forward_moves_the_skipped_air_time_one_hour_later() -> None:
    trigger = prague(time(2, 30), date(2027, 3, 26))
    air = [trigger.air_time(f) for f in fires(trigger, datetime(2027, 3, 26, tzinfo=UTC), 4)]
    assert air == [
        datetime(2027, 3, 26, 1, 30, tzinfo=UTC),  # 02:30 CET
        datetime(2027, 3, 27, 1, 30, tzinfo=UTC),
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),  # 02:30 does not exist: 03:30 CEST
        datetime(2027, 3, 29, 0, 30, tzinfo=UTC),  # 02:30 CEST
    ]


def test_fall_back_plays_the_repeated_air_time_once() -> None:
    trigger = prague(time(2, 30), date(2026, 10, 24))
    air = [trigger.air_time(f) for f in fires(trigger, datetime(2026, 10, 24, tzinfo=UTC), 3)]
    assert air == [
        datetime(2026, 10, 24, 0, 30, tzinfo=UTC),  # CEST
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # the first 02:30 (CEST), not also 01:30Z
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),  # CET
    ]


def test_the_first_fire_may_lie_in_the_past_for_an_air_time_still_ahead() -> None:
    trigger = AirTimeTrigger(When(Once(date(2026, 12, 1), time(6)), date(2026, 12, 1)), LEAD)
    applied = datetime(2026, 11, 30, 22, 50, tzinfo=UTC)  # 05:50 in Hà Nội, air time 06:00
    assert trigger.first_fire(applied) == datetime(2026, 11, 30, 22, 45, tzinfo=UTC)
    assert trigger.get_next_fire_time(trigger.first_fire(applied), applied) is None
    assert trigger.first_fire(datetime(2026, 11, 30, 23, 0, tzinfo=UTC)) is None


def test_apscheduler_asks_without_a_previous_fire_and_the_trigger_pickles() -> None:
    trigger = prague(time(7), date(2026, 12, 1))
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, now) == datetime(2026, 12, 2, 5, 45, tzinfo=UTC)
    again = pickle.loads(pickle.dumps(trigger))  # noqa: S301 - our own bytes
    assert again.when == trigger.when
    assert again.lead == LEAD
    with pytest.raises(ValueError, match="negative"):
        AirTimeTrigger(trigger.when, -LEAD)
