"""Recurrence kinds, windows, exceptions, zones and DST compiled to UTC instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from loa.errors import LoaError
from schedules.errors import RecurrenceError
from schedules.recurrence import (
    Cron,
    Daily,
    MonthlyNth,
    Once,
    Recurrence,
    Weekly,
    parse_date,
    parse_time,
)
from schedules.when import When, between, occurrences

PRAGUE = ZoneInfo("Europe/Prague")
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: ZoneInfo, instants: list[datetime]) -> list[str]:
    return [i.astimezone(zone).strftime("%Y-%m-%d %H:%M %a") for i in instants]


def test_default_zone_is_vietnam_and_06_00_is_23_00_utc_the_day_before() -> None:
    when = When(Daily((time(6), time(17))), start=date(2025, 5, 1))
    assert when.zone == "Asia/Ho_Chi_Minh"
    assert occurrences(when, utc(2025, 5, 1), 3) == [
        utc(2025, 5, 1, 10),  # 17:00 on 1 May (06:00 on 1 May was 23:00 UTC on 30 April)
        utc(2025, 5, 1, 23),  # 06:00 on 2 May
        utc(2025, 5, 2, 10),
    ]


def test_once_plays_once_and_then_the_schedule_is_over() -> None:
    when = When(Once(date(2025, 3, 4), time(7, 30)), start=date(2025, 3, 1))
    assert occurrences(when, utc(2025, 1, 1), 5) == [utc(2025, 3, 4, 0, 30)]
    assert occurrences(when, utc(2025, 3, 4, 0, 30), 5) == []


def test_weekly_plays_on_the_weekdays_only() -> None:
    when = When(Weekly((5, 0), (time(7),)), start=date(2025, 1, 1))  # Saturday and Monday
    got = local(HCM, occurrences(when, utc(2025, 1, 1), 4))
    assert got == [
        "2025-01-04 07:00 Sat",
        "2025-01-06 07:00 Mon",
        "2025-01-11 07:00 Sat",
        "2025-01-13 07:00 Mon",
    ]


@pytest.mark.parametrize(
    ("n", "weekday", "expected"),
    [
        (2, 1, ["2025-01-14 08:00 Tue", "2025-02-11 08:00 Tue", "2025-03-11 08:00 Tue"]),
        (-1, 4, ["2025-01-31 08:00 Fri", "2025-02-28 08:00 Fri", "2025-03-28 08:00 Fri"]),
        (1, 2, ["2025-01-01 08:00 Wed", "2025-02-05 08:00 Wed", "2025-03-05 08:00 Wed"]),
        (4, 6, ["2025-01-26 08:00 Sun", "2025-02-23 08:00 Sun", "2025-03-23 08:00 Sun"]),
    ],
)
def test_monthly_nth_weekday(n: int, weekday: int, expected: list[str]) -> None:
    when = When(MonthlyNth(n, weekday, (time(8),)), start=date(2025, 1, 1))
    assert local(HCM, occurrences(when, utc(2024, 12, 31), 3)) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("30 6 * * 1-5", ["2025-01-03 06:30 Fri", "2025-01-06 06:30 Mon", "2025-01-07 06:30 Tue"]),
        # crontab numbering: 0 and 7 are Sunday (APScheduler 3 alone would read 0 as Monday)
        ("0 9 * * 0", ["2025-01-05 09:00 Sun", "2025-01-12 09:00 Sun", "2025-01-19 09:00 Sun"]),
        ("0 9 * * 7", ["2025-01-05 09:00 Sun", "2025-01-12 09:00 Sun", "2025-01-19 09:00 Sun"]),
        # both day fields restricted: either matches, as in cron
        ("0 8 10 * sun", ["2025-01-05 08:00 Sun", "2025-01-10 08:00 Fri", "2025-01-12 08:00 Sun"]),
        ("0,30 6 * * *", ["2025-01-03 06:00 Fri", "2025-01-03 06:30 Fri", "2025-01-04 06:00 Sat"]),
        ("0 6 29 2 *", ["2028-02-29 06:00 Tue", "2032-02-29 06:00 Sun", "2036-02-29 06:00 Fri"]),
        (
            "0 6 last 1-2 *",
            ["2025-01-31 06:00 Fri", "2025-02-28 06:00 Fri", "2026-01-31 06:00 Sat"],
        ),
    ],
)
def test_cron(expression: str, expected: list[str]) -> None:
    when = When(Cron(expression), start=date(2025, 1, 3))
    assert local(HCM, occurrences(when, utc(2025, 1, 1), 3)) == expected


def test_cron_and_daily_agree_across_dst() -> None:
    after = utc(2025, 3, 1)
    cron = When(Cron("30 2 * * *"), start=date(2025, 1, 1), zone="Europe/Prague")
    daily = When(Daily((time(2, 30),)), start=date(2025, 1, 1), zone="Europe/Prague")
    assert occurrences(cron, after, 60) == occurrences(daily, after, 60)


def test_window_and_exceptions() -> None:
    when = When(
        Daily((time(6),)),
        start=date(2025, 6, 2),
        until=date(2025, 6, 6),
        exceptions=frozenset({date(2025, 6, 4)}),
    )
    got = local(HCM, occurrences(when, utc(2025, 1, 1), 10))
    assert got == [
        "2025-06-02 06:00 Mon",
        "2025-06-03 06:00 Tue",
        "2025-06-05 06:00 Thu",
        "2025-06-06 06:00 Fri",
    ]
    # 3 June 06:00 local is 2 June 23:00 UTC (start inclusive); 4 June is skipped; the end
    # (6 June 06:00 local) is exclusive
    assert between(when, utc(2025, 6, 2, 23), utc(2025, 6, 5, 23)) == [
        utc(2025, 6, 2, 23),
        utc(2025, 6, 4, 23),
    ]


def test_spring_forward_moves_a_missing_time_forward_by_the_gap() -> None:
    when = When(Daily((time(2, 30),)), start=date(2025, 1, 1), zone="Europe/Prague")
    got = local(PRAGUE, occurrences(when, utc(2025, 3, 29, 12), 3))
    assert got == ["2025-03-30 03:30 Sun", "2025-03-31 02:30 Mon", "2025-04-01 02:30 Tue"]
    assert occurrences(when, utc(2025, 3, 29, 12), 1) == [utc(2025, 3, 30, 1, 30)]


def test_spring_forward_moved_time_landing_on_a_planned_time_plays_once() -> None:
    when = When(Daily((time(2, 30), time(3, 30))), start=date(2025, 1, 1), zone="Europe/Prague")
    got = local(PRAGUE, occurrences(when, utc(2025, 3, 29, 12), 3))
    assert got == ["2025-03-30 03:30 Sun", "2025-03-31 02:30 Mon", "2025-03-31 03:30 Mon"]


def test_autumn_back_plays_a_repeated_time_once_at_its_first_occurrence() -> None:
    when = When(Daily((time(2, 30),)), start=date(2025, 1, 1), zone="Europe/Prague")
    got = occurrences(when, utc(2025, 10, 25, 12), 2)
    assert got == [utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)]
    assert got[0].astimezone(PRAGUE).utcoffset() == timedelta(hours=2)  # summer time: first


def test_a_whole_year_of_daily_02_30_in_prague_plays_each_day_exactly_once() -> None:
    skipped = frozenset({date(2025, 3, 30) + timedelta(days=k) for k in (0, 100, 200)})
    when = When(
        Daily((time(2, 30),)),
        start=date(2025, 1, 1),
        until=date(2025, 12, 31),
        exceptions=skipped,
        zone="Europe/Prague",
    )
    got = occurrences(when, utc(2024, 12, 1), 400)
    days = [i.astimezone(PRAGUE).date() for i in got]
    assert len(got) == 365 - 3
    assert len(set(days)) == len(days)
    assert not skipped & set(days)
    assert got == between(when, utc(2024, 12, 1), utc(2026, 1, 1))
    assert days[0] == date(2025, 1, 1)
    assert days[-1] == date(2025, 12, 31)
    # 30 March was skipped above; moved by the gap on the spring day of the year after
    assert got[days.index(date(2025, 10, 26))] == utc(2025, 10, 26, 0, 30)


def test_between_is_half_open() -> None:
    when = When(Daily((time(6),)), start=date(2025, 1, 1))
    assert between(when, utc(2025, 1, 1, 23), utc(2025, 1, 2, 23)) == [utc(2025, 1, 1, 23)]
    assert between(when, utc(2025, 1, 1, 23), utc(2025, 1, 1, 23)) == []


def _bad(call: object) -> RecurrenceError:
    assert callable(call)
    with pytest.raises(ValueError, match=r"is not valid; expected ") as info:
        call()
    assert isinstance(info.value, RecurrenceError)
    assert isinstance(info.value, LoaError)
    return info.value


@pytest.mark.parametrize(
    ("call", "field", "value"),
    [
        (lambda: Cron("61 6 * * *"), "cron", "61 6 * * *"),
        (lambda: Cron("0 6 * *"), "cron", "0 6 * *"),
        (lambda: Cron("every day"), "cron", "every day"),
        (lambda: Cron("0 6 * * 8"), "cron", "0 6 * * 8"),
        (lambda: Cron("0 6 31 2 *"), "cron", "0 6 31 2 *"),
        (lambda: parse_date("2025-02-31", "once.on"), "once.on", "2025-02-31"),
        (lambda: parse_time("25:00", "daily.times"), "daily.times", "25:00"),
        (lambda: parse_time("06:61", "daily.times"), "daily.times", "06:61"),
        (lambda: Daily(()), "daily.times", ()),
        (lambda: Daily((time(6), time(6))), "daily.times", "06:00:00"),
        (lambda: Daily((time(6, tzinfo=UTC),)), "daily.times", time(6, tzinfo=UTC)),
        (lambda: Weekly((), (time(6),)), "weekly.weekdays", ()),
        (lambda: Weekly((7,), (time(6),)), "weekly.weekdays", 7),
        (lambda: Weekly((1,), ()), "weekly.times", ()),
        (lambda: MonthlyNth(5, 1, (time(6),)), "monthly_nth.n", 5),
        (lambda: MonthlyNth(0, 1, (time(6),)), "monthly_nth.n", 0),
        (lambda: MonthlyNth(1, -1, (time(6),)), "monthly_nth.weekday", -1),
        (
            lambda: When(Daily((time(6),)), date(2025, 5, 2), until=date(2025, 5, 1)),
            "when.until",
            "2025-05-01",
        ),
        (
            lambda: When(Daily((time(6),)), date(2025, 5, 2), zone="Asia/Hanoi_Typo"),
            "when.zone",
            "Asia/Hanoi_Typo",
        ),
        (lambda: When(Daily((time(6),)), date(2025, 5, 2), zone="../etc"), "when.zone", "../etc"),
        (
            lambda: When(Once(date(2025, 1, 1), time(6)), date(2025, 5, 2)),
            "once.on",
            "2025-01-01",
        ),
    ],
)
def test_bad_input_is_a_value_error_naming_field_and_value(
    call: object, field: str, value: object
) -> None:
    error = _bad(call)
    assert error.field == field
    assert error.value == value
    assert str(error).startswith(f"{field}: {value!r} is not valid; expected ")


def test_bad_arguments_to_occurrences_and_between() -> None:
    when = When(Daily((time(6),)), date(2025, 1, 1))
    naive = datetime(2025, 1, 1)  # noqa: DTZ001 - the point of the test
    assert _bad(lambda: occurrences(when, naive, 3)).field == "after"
    assert _bad(lambda: occurrences(when, utc(2025, 1, 1), -1)).field == "count"
    assert _bad(lambda: between(when, utc(2025, 1, 2), utc(2025, 1, 1))).field == "end"
    assert occurrences(when, utc(2025, 1, 1), 0) == []


def test_values_are_normalised_and_hashable() -> None:
    rules: list[Recurrence] = [
        Daily((time(17), time(6))),
        Weekly((5, 0), (time(7),)),
        Cron("0 6 * * *"),
    ]
    assert rules[0] == Daily((time(6), time(17)))
    assert rules[1] == Weekly((0, 5), (time(7),))
    assert len({*rules, Cron("0 6 * * *")}) == 3
    assert parse_time(" 06:00 ", "daily.times") == time(6)
    assert parse_date("2024-02-29", "once.on") == date(2024, 2, 29)
