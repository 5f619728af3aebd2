"""The schedule model: defaults, and every bad value refused with the field it is in."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from loa.errors import LoaError
from schedules.model import Schedule, ScheduleError
from schedules.recurrence import Daily
from schedules.when import When

WHEN = When(Daily((time(6), time(17))), start=date(2026, 12, 1))


def make(**changes: Any) -> Schedule:
    fields: dict[str, Any] = {
        "id": "sang-chieu",
        "title": "Chương trình sáng và chiều",
        "when": WHEN,
        "targets": "tra-linh",
        "contents": {"vi": "3fa2b1c9"},
    }
    return Schedule(**(fields | changes))


def test_defaults_are_the_documented_ones() -> None:
    schedule = make()
    assert (schedule.priority, schedule.lead_s, schedule.expires_after_s) == ("normal", 900, 3600)
    assert (schedule.enabled, schedule.volume, schedule.repeat, schedule.chime) == (
        True,
        None,
        1,
        "none",
    )
    assert schedule.duration_s is None


def test_languages_keep_their_order_and_the_first_is_the_default() -> None:
    schedule = make(contents={"tay": "abcdef12"}, text={"vi": "  Xin chào bà con  "})
    assert schedule.languages == ("tay", "vi")
    assert schedule.default_language == "tay"
    assert schedule.text == (("vi", "Xin chào bà con"),)


def test_targets_are_normalised_and_kept_as_text() -> None:
    assert make(targets=" tl-na-vuong , tra-linh ").targets == "tl-na-vuong,tra-linh"
    assert make(targets="all").targets == "all"


def test_text_alone_is_enough_to_play() -> None:
    assert make(contents=None, text={"vi": "Thông báo"}).contents == ()


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"id": "Sáng Chiều"}, "id", "not a valid schedule id"),
        ({"title": "   "}, "title", "not a title"),
        ({"title": "x" * 201}, "title", "under 200"),
        ({"when": "daily 06:00"}, "when", "not a recurrence"),
        ({"targets": ""}, "targets", "is empty"),
        ({"targets": "tra linh"}, "targets", "not a receiver or group id"),
        ({"targets": "a,a"}, "targets", "twice"),
        ({"targets": "all,tra-linh"}, "targets", "all is enough"),
        ({"contents": {"VI": "abcdef"}}, "contents", "not a language code"),
        ({"contents": {"vi": "abc"}}, "contents.vi", "hex digits"),
        ({"contents": {"vi": "ABCDEF12"}}, "contents.vi", "hex digits"),
        ({"contents": ["abcdef"]}, "contents", "not a mapping"),
        ({"contents": None}, "contents", "nothing to play"),
        ({"text": {"vi": ""}}, "text.vi", "not text"),
        ({"text": {"vi": "Xin chào"}}, "text", "'vi' is given twice"),
        ({"priority": "urgent"}, "priority", "emergency, live, priority, normal, background"),
        ({"duration_s": 0}, "duration_s", "out of range"),
        ({"lead_s": -1}, "lead_s", "out of range"),
        ({"lead_s": 1.5}, "lead_s", "not a whole number"),
        ({"expires_after_s": 0}, "expires_after_s", "out of range"),
        ({"enabled": "yes"}, "enabled", "true or false"),
        ({"volume": 101}, "volume", "0 to 100"),
        ({"volume": True}, "volume", "not a whole number"),
        ({"repeat": 0}, "repeat", "1 to 10"),
        ({"repeat": 11}, "repeat", "1 to 10"),
        ({"chime": "ding"}, "chime", "none, before, after, both"),
    ],
)
def test_each_bad_value_is_refused_naming_its_field(
    changes: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ScheduleError) as caught:
        make(**changes)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert words in str(caught.value)
    assert isinstance(caught.value, LoaError)
    assert isinstance(caught.value, ValueError)


def test_a_schedule_is_frozen_and_equal_by_value() -> None:
    assert make() == make()
    with pytest.raises(AttributeError):
        make().lead_s = 0  # type: ignore[misc]
