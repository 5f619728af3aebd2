"""The week calendar: entries in the right cells, marks, truncation, communes, zones, NFC."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from schedules.model import ScheduleError
from schedules.week import Entry, week_grid

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = date(2026, 11, 30)
TRA_LINH = "Xã Trà Lĩnh (tra-linh)"
QUANG_HAN = "Xã Quang Hán (quang-han)"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local time in Vietnam on the `day`-th day of the week (0 = Monday 30/11)."""
    return datetime.combine(MONDAY + timedelta(days=day), time(hour, minute), HCM)


def rows(grid: str, commune: str) -> dict[str, list[str]]:
    """The commune's block: time -> its 7 cells (stripped), split on the column layout."""
    lines = grid.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(commune + ":")))
    header = lines[start + 1]
    edges = [header.index(f"{name} ") for name in ("T2", "T3", "T4", "T5", "T6", "T7", "CN")]
    found: dict[str, list[str]] = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        padded = line.ljust(len(header) + 40)
        cells = [padded[a:b].strip() for a, b in zip(edges, [*edges[1:], len(padded)], strict=True)]
        found[line[:5].strip() or f"{list(found)[-1]}+"] = cells
    return found


def programme() -> list[Entry]:
    daily = [
        Entry(TRA_LINH, at(day, hour), "Phát thanh", "normal")
        for day in range(7)
        for hour in (6, 17)
    ]
    market = [Entry(TRA_LINH, at(day, 7, 30), "Chợ phiên", "priority") for day in (0, 3)]
    return daily + market


def test_daily_and_weekly_entries_land_in_their_cells() -> None:
    grid = week_grid(programme(), MONDAY, HCM)
    assert f"{TRA_LINH}: 30/11 \u2013 06/12/2026 (Asia/Ho_Chi_Minh)" in grid
    assert "T2 30/11" in grid
    assert "CN 06/12" in grid
    assert grid.splitlines()[0].startswith("Days:  T2 = Monday")
    table = rows(grid, TRA_LINH)
    assert list(table) == ["06:00", "07:30", "17:00"]
    assert table["06:00"] == ["Phát thanh"] * 7
    assert table["07:30"] == ["▲Chợ phiên", "·", "·", "▲Chợ phiên", "·", "·", "·"]
    assert all(len(line) <= 100 for line in grid.splitlines())
    assert sum(line.startswith("Marks:  ! clash") for line in grid.splitlines()) == 1


def test_long_titles_are_cut_to_the_column_with_an_ellipsis() -> None:
    title = "Chương trình phát thanh sáng và chiều"
    grid = week_grid([Entry(TRA_LINH, at(1, 6), title, "normal")], MONDAY, HCM, width=75)
    cell = rows(grid, TRA_LINH)["06:00"][1]
    assert cell == "Chương…"  # (75 - 5) // 7 - 2 = 8 columns; the space before … goes
    assert all(len(line) <= 75 for line in grid.splitlines())
    with pytest.raises(ScheduleError, match="width: 74 is too narrow; give at least 75"):
        week_grid([], MONDAY, HCM, width=74)


def test_marks_for_clash_priority_emergency_and_states() -> None:
    entries = [
        Entry(TRA_LINH, at(0, 6), "A", "normal", clash=True),
        Entry(TRA_LINH, at(1, 6), "B", "emergency"),
        Entry(TRA_LINH, at(2, 6), "C", "live", "paused"),
        Entry(TRA_LINH, at(3, 6), "D", "normal", "awaiting approval"),
        Entry(TRA_LINH, at(4, 6), "E", "normal", "quiet hours"),
        Entry(TRA_LINH, at(5, 6), "F", "priority", "missed", clash=True),
        Entry(TRA_LINH, at(6, 6), "G", "background", "planned"),
    ]
    cells = rows(week_grid(entries, MONDAY, HCM), TRA_LINH)["06:00"]
    assert cells == ["!A", "‼B", "▲‖C", "?D", "✗E", "!▲✗F", "G"]


def test_two_items_at_one_time_get_a_line_each_higher_first() -> None:
    entries = [
        Entry(TRA_LINH, at(2, 6), "Phát thanh", "normal", clash=True),
        Entry(TRA_LINH, at(2, 6), "Bão số 9", "emergency", clash=True),
    ]
    table = rows(week_grid(entries, MONDAY, HCM), TRA_LINH)
    assert table["06:00"][2] == "!‼Bão số 9"
    assert table["06:00+"][2] == "!Phát thanh"


def test_two_communes_sorted_by_label_each_with_its_own_rows() -> None:
    entries = [*programme(), Entry(QUANG_HAN, at(5, 19), "Tiêm chủng", "priority")]
    grid = week_grid(entries, MONDAY, HCM)
    assert grid.index(QUANG_HAN + ":") < grid.index(TRA_LINH + ":")
    assert rows(grid, QUANG_HAN) == {"19:00": ["·"] * 5 + ["▲Tiêm chủng", "·"]}
    assert "19:00" not in rows(grid, TRA_LINH)


def test_titles_are_measured_in_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Mẫu giáo Nà Vường")
    assert len(decomposed) > len("Mẫu giáo Nà Vường")
    grid = week_grid([Entry(TRA_LINH, at(0, 6), decomposed, "normal")], MONDAY, HCM, width=75)
    assert rows(grid, TRA_LINH)["06:00"][0] == "Mẫu giá…"
    assert unicodedata.is_normalized("NFC", grid)


def test_entries_in_another_zone_are_converted_and_outside_the_week_ignored() -> None:
    entries = [
        Entry(TRA_LINH, datetime(2026, 12, 2, 23, 0, tzinfo=UTC), "Sáng", "normal"),  # T5 06:00
        Entry(TRA_LINH, datetime(2026, 11, 29, 16, 59, tzinfo=UTC), "Trước", "normal"),  # CN 23:59
        Entry(TRA_LINH, datetime(2026, 12, 6, 17, 0, tzinfo=UTC), "Sau", "normal"),  # T2 00:00
    ]
    grid = week_grid(entries, MONDAY, "Asia/Ho_Chi_Minh")
    assert rows(grid, TRA_LINH) == {"06:00": ["·", "·", "·", "Sáng", "·", "·", "·"]}
    # In Prague (+01) the first is Thursday 00:00 and the last Sunday 18:00, inside the week.
    assert rows(week_grid(entries, MONDAY, "Europe/Prague"), TRA_LINH) == {
        "00:00": ["·", "·", "·", "Sáng", "·", "·", "·"],
        "18:00": ["·"] * 6 + ["Sau"],
    }


def test_an_empty_week_says_so() -> None:
    outside = [Entry(TRA_LINH, at(7, 6), "Tuần sau", "normal")]
    assert week_grid(outside, MONDAY, HCM) == (
        "Nothing is planned in the week 30/11 \u2013 06/12/2026 (Asia/Ho_Chi_Minh)."
    )
    assert "28/12/2026 \u2013 03/01/2027" in week_grid([], date(2026, 12, 28), HCM)


def test_bad_inputs_are_refused_with_what_and_where() -> None:
    with pytest.raises(ScheduleError, match=r"week_start: 2026-12-01 is a Tuesday.*\(2026-11-30\)"):
        week_grid([], date(2026, 12, 1), HCM)
    with pytest.raises(ScheduleError, match="calendar entry 'A': start"):
        Entry(TRA_LINH, datetime(2026, 12, 1, 6), "A", "normal")  # noqa: DTZ001 - the point
    with pytest.raises(ScheduleError, match="calendar entry 'A': priority"):
        Entry(TRA_LINH, at(0, 6), "A", "urgent")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Mars/Olympus"):
        week_grid([], MONDAY, "Mars/Olympus")
