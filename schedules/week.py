"""The week calendar: a readable grid per commune, for `loa schedule calendar --week`.

Each commune gets a block: a row per local start time used that week, a column per day
(Monday first, headed with the Vietnamese abbreviations T2 .. T7, CN that operators use),
and in each cell the title, cut with "…" to the column, behind marks that say what needs a
look (a clash, a priority, a paused or refused item). A cell with two items at the same
time gets a line for each, so nothing is hidden.

Widths are counted with `len()` after NFC normalisation: Vietnamese letters such as "ẫ" are
one code point once composed, and a terminal shows them in one column. East-Asian wide
characters are not measured specially (no commune title uses them).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from devices.protocol.priority import PRIORITIES, Priority, rank
from schedules.model import ScheduleError
from schedules.quiet import as_zone

__all__ = ["DAY_NAMES", "Entry", "week_grid"]

#: Vietnamese weekday abbreviations, Monday first: thứ hai .. thứ bảy, chủ nhật.
DAY_NAMES: Final = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")
_ENGLISH: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TIME_WIDTH: Final = 5  # HH:MM
_GAP: Final = "  "
_EN_DASH: Final = "\u2013"  # a date range as people print it: 30/11 \u2013 06/12/2026
_MIN_CELL: Final = len("T2 30/11")
_EMPTY: Final = "·"
_CLASH: Final = "!"
_STATE_MARKS: Final = {
    "paused": "‖",
    "awaiting approval": "?",
    "missed": "✗",
    "refused": "✗",
    "quiet hours": "✗",
    "expired": "✗",
    "fired": "✓",
}
_MARK_LEGEND: Final = (
    "! clash",
    "▲ priority or live",
    "‼ emergency",
    "‖ paused",
    "? awaiting approval",
    "✗ missed or refused (quiet hours, expired)",
    "✓ fired",
    "· nothing planned",
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One planned (or past) airing as the calendar shows it.

    `state` is free text from the caller; the known ones (`paused`, `awaiting approval`,
    `quiet hours`, `missed`, `refused`, `expired`, `fired`) get a mark, `planned` and any
    other get none.
    """

    commune: str  # label for people, e.g. "Xã Trà Lĩnh (tra-linh)"
    start: datetime  # aware (any zone)
    title: str
    priority: Priority
    state: str = "planned"
    clash: bool = False

    def __post_init__(self) -> None:
        where = f"calendar entry {self.title!r}"
        if not isinstance(self.commune, str) or not self.commune.strip():
            raise ScheduleError(f"{where}: commune", f"{self.commune!r} is not a commune label")
        if not isinstance(self.title, str) or not self.title.strip():
            raise ScheduleError("calendar entry: title", f"{self.title!r} is not a title")
        if not isinstance(self.start, datetime) or self.start.utcoffset() is None:
            raise ScheduleError(
                f"{where}: start", f"{self.start!r} is not an aware datetime (with a zone)"
            )
        if self.priority not in PRIORITIES:
            raise ScheduleError(
                f"{where}: priority",
                f"{self.priority!r} is not a priority; expected one of {', '.join(PRIORITIES)}",
            )
        if not isinstance(self.state, str):
            raise ScheduleError(f"{where}: state", f"{self.state!r} is not text")
        if not isinstance(self.clash, bool):
            raise ScheduleError(f"{where}: clash", f"{self.clash!r} is not true or false")


def _marks(entry: Entry) -> str:
    marks = _CLASH if entry.clash else ""
    if entry.priority == "emergency":
        marks += "‼"
    elif rank(entry.priority) >= rank("priority"):
        marks += "▲"
    return marks + _STATE_MARKS.get(entry.state.strip().lower(), "")


def _fit(text: str, width: int) -> str:
    """`text` in NFC, cut with "…" to `width` characters (no space before it), padded."""
    text = unicodedata.normalize("NFC", text)
    if len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    return text.ljust(width)


def _legend(head: str, items: Sequence[str], width: int) -> list[str]:
    """`head` then the items, two spaces apart, wrapped between items to `width`."""
    lines = [head]
    for item in items:
        if len(lines[-1]) + len(_GAP) + len(item) > width:
            lines.append(" " * len(head))
        lines[-1] += _GAP + item
    return lines


def _week_label(first: date, tz: ZoneInfo) -> str:
    last = first + timedelta(days=6)
    head = f"{first:%d/%m}" if first.year == last.year else f"{first:%d/%m/%Y}"
    return f"{head} {_EN_DASH} {last:%d/%m/%Y} ({tz.key})"


def _block(
    commune: str, items: list[tuple[date, time, Entry]], week_start: date, cell: int, label: str
) -> list[str]:
    cells: defaultdict[tuple[time, date], list[Entry]] = defaultdict(list)
    for day, clock, entry in items:
        cells[clock, day].append(entry)
    days = [week_start + timedelta(days=k) for k in range(7)]
    header = " " * _TIME_WIDTH + "".join(
        _GAP + _fit(f"{name} {day:%d/%m}", cell) for name, day in zip(DAY_NAMES, days, strict=True)
    )
    lines = [f"{commune}: {label}", header.rstrip()]
    for clock in sorted({clock for clock, _ in cells}):
        column = [
            sorted(cells.get((clock, day), []), key=lambda e: (-rank(e.priority), e.title))
            for day in days
        ]
        for line in range(max(len(entries) for entries in column)):
            row = f"{clock:%H:%M}" if line == 0 else " " * _TIME_WIDTH
            for entries in column:
                if line < len(entries):
                    text = _marks(entries[line]) + entries[line].title.strip()
                else:
                    text = _EMPTY if line == 0 else ""
                row += _GAP + _fit(text, cell)
            lines.append(row.rstrip())
    return lines


def week_grid(
    entries: Sequence[Entry], week_start: date, zone: ZoneInfo | str, *, width: int = 100
) -> str:
    """The week from Monday `week_start` in `zone`, one block per commune (sorted by label).

    Entries are placed by their local start in `zone` (converted from any zone); those
    outside the week are left out. Rows are local start times (HH:MM) used that week.
    """
    if not isinstance(week_start, date) or isinstance(week_start, datetime):
        raise ScheduleError("week_start", f"{week_start!r} is not a date")
    if week_start.weekday() != 0:
        monday = week_start - timedelta(days=week_start.weekday())
        raise ScheduleError(
            "week_start",
            f"{week_start} is a {_ENGLISH[week_start.weekday()]}; a week starts on Monday "
            f"({monday})",
        )
    smallest = _TIME_WIDTH + 7 * (len(_GAP) + _MIN_CELL)
    if isinstance(width, bool) or not isinstance(width, int) or width < smallest:
        raise ScheduleError("width", f"{width!r} is too narrow; give at least {smallest} columns")
    tz = as_zone(zone)
    cell = (width - _TIME_WIDTH) // 7 - len(_GAP)
    week_end = week_start + timedelta(days=6)
    label = _week_label(week_start, tz)
    by_commune: defaultdict[str, list[tuple[date, time, Entry]]] = defaultdict(list)
    for entry in entries:
        if not isinstance(entry, Entry):
            raise ScheduleError("entries", f"{entry!r} is not a calendar Entry")
        local = entry.start.astimezone(tz)
        if week_start <= local.date() <= week_end:
            clock = time(local.hour, local.minute)
            by_commune[unicodedata.normalize("NFC", entry.commune.strip())].append(
                (local.date(), clock, entry)
            )
    if not by_commune:
        return f"Nothing is planned in the week {label}."
    days = [f"{name} = {english}" for name, english in zip(DAY_NAMES, _ENGLISH, strict=True)]
    lines = _legend("Days:", days, width)
    for commune in sorted(by_commune):
        lines += ["", *_block(commune, by_commune[commune], week_start, cell, label)]
    lines += ["", *_legend("Marks:", _MARK_LEGEND, width)]
    return "\n".join(lines)
