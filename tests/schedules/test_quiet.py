"""Quiet hours: parsing as people write them, the midnight wrap, and which instants are quiet."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedules.errors import RecurrenceError
from schedules.quiet import DEFAULT_QUIET_HOURS, QuietHours, parse_quiet_hours, quiet_instants

HCM = "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22:00-05:00", QuietHours(time(22), time(5))),
        ("22:00 - 05:00", QuietHours(time(22), time(5))),
        ("  9:30-11:15 ", QuietHours(time(9, 30), time(11, 15))),
        ("none", None),
        ("OFF", None),
    ],
)
def test_parse_accepts_what_people_write(text: str, expected: QuietHours | None) -> None:
    assert parse_quiet_hours(text) == expected


def test_str_is_the_written_form() -> None:
    assert str(DEFAULT_QUIET_HOURS) == "22:00-05:00"
    assert parse_quiet_hours(str(DEFAULT_QUIET_HOURS)) == DEFAULT_QUIET_HOURS


@pytest.mark.parametrize("text", ["22-05", "22:00", "24:00-05:00", "22:60-05:00", "22h-5h", ""])
def test_parse_errors_name_the_field_and_the_value(text: str) -> None:
    with pytest.raises(RecurrenceError) as caught:
        parse_quiet_hours(text, "communes.tra-linh.quiet_hours")
    assert caught.value.field == "communes.tra-linh.quiet_hours"
    assert caught.value.value == text
    assert "HH:MM-HH:MM" in str(caught.value)


def test_equal_start_and_end_is_refused() -> None:
    with pytest.raises(RecurrenceError, match="differ"):
        parse_quiet_hours("05:00-05:00")
    with pytest.raises(RecurrenceError, match="differ"):
        QuietHours(time(5), time(5))


def test_a_zoned_time_is_refused() -> None:
    with pytest.raises(RecurrenceError, match=r"quiet_hours\.start"):
        QuietHours(time(22, tzinfo=UTC), time(5))


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(21, 59), False),
        (time(22), True),
        (time(23, 59), True),
        (time(0), True),
        (time(4, 59), True),
        (time(5), False),
        (time(12), False),
    ],
)
def test_default_wraps_midnight_start_included_end_excluded(local: time, quiet: bool) -> None:
    assert DEFAULT_QUIET_HOURS.contains(local) is quiet


def test_a_daytime_span_does_not_wrap() -> None:
    siesta = QuietHours(time(11, 30), time(13, 30))
    assert [siesta.contains(time(h, 30)) for h in (10, 11, 12, 13)] == [False, True, True, False]


@given(st.times(), st.times(), st.times())
def test_contains_matches_walking_the_clock(start: time, end: time, local: time) -> None:
    """Quiet iff `local` is reached walking forward from `start` before reaching `end`."""
    if start == end:
        return
    quiet = QuietHours(start, end)
    day = date(2026, 1, 1)

    def ahead(t: time) -> timedelta:
        since = datetime.combine(day, t, UTC) - datetime.combine(day, start, UTC)
        return since % timedelta(days=1)

    assert quiet.contains(local) is (ahead(local) < ahead(end))


def test_quiet_instants_judge_the_local_start_only() -> None:
    # 21:58 local (+07) is 14:58 UTC: allowed even if it plays past 22:00.
    allowed = datetime(2026, 12, 1, 14, 58, tzinfo=UTC)
    at_ten = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 22:00 local
    at_four = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)  # 04:30 local, next day
    at_five = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # 05:00 local
    instants = [allowed, at_ten, at_four, at_five]
    assert quiet_instants(instants, DEFAULT_QUIET_HOURS, HCM) == [at_ten, at_four]
    # The same instants in UTC quiet hours: only 22:00 UTC.
    assert quiet_instants(instants, DEFAULT_QUIET_HOURS, "UTC") == [at_five]


def test_quiet_instants_refuse_naive_times_and_unknown_zones() -> None:
    with pytest.raises(RecurrenceError, match="aware"):
        quiet_instants([datetime(2026, 12, 1, 22)], DEFAULT_QUIET_HOURS, HCM)  # noqa: DTZ001
    with pytest.raises(RecurrenceError, match="Asia/Hanoi_City"):
        quiet_instants([], DEFAULT_QUIET_HOURS, "Asia/Hanoi_City")
