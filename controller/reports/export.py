"""Reports as CSV for a spreadsheet: UTF-8 with a byte-order mark (so that Excel shows
Vietnamese letters), a header row, times both in the controller's zone and in UTC."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from controller.reports.asrun import AsRunRow

__all__ = ["AS_RUN_HEADER", "UPTIME_HEADER", "UptimeLine", "as_run_csv", "csv_text", "uptime_csv"]

BOM: Final = "\ufeff"
AS_RUN_HEADER: Final = (
    "occurrence",
    "title",
    "priority",
    "schedule",
    "state",
    "reason",
    "targets",
    "planned_local",
    "planned_utc",
    "dispatch_local",
    "dispatch_utc",
    "play_local",
    "play_utc",
    "first_played_local",
    "first_played_utc",
    "targeted",
    "played",
    "failed",
    "cancelled",
    "pending",
    "reach_percent",
)
UPTIME_HEADER: Final = ("receiver", "name", "village", "uptime_percent", "changes")

#: (receiver id, name, village, fraction online, state changes)
UptimeLine = tuple[str, str, str, float, int]


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text (with the byte-order mark) of `rows` under `header`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return BOM + out.getvalue()


def _times(instant: datetime | None, zone: ZoneInfo) -> tuple[str, str]:
    if instant is None:
        return "", ""
    return (
        instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def as_run_csv(rows: Sequence[AsRunRow], zone: ZoneInfo) -> str:
    lines = []
    for row in rows:
        reach = "" if row.reach is None else f"{row.reach * 100:.1f}"
        lines.append(
            (
                row.occurrence,
                row.title,
                row.priority,
                row.schedule or "",
                row.state,
                row.reason or "",
                row.targets,
                *_times(row.planned_at, zone),
                *_times(row.dispatch_at, zone),
                *_times(row.play_at, zone),
                *_times(row.first_played_at, zone),
                row.targeted,
                row.played,
                row.failed,
                row.cancelled,
                row.pending,
                reach,
            )
        )
    return csv_text(AS_RUN_HEADER, lines)


def uptime_csv(lines: Sequence[UptimeLine]) -> str:
    return csv_text(
        UPTIME_HEADER,
        (
            (rid, name, village, f"{fraction * 100:.2f}", changes)
            for rid, name, village, fraction, changes in lines
        ),
    )
