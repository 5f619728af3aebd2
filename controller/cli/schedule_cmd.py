"""`loa schedule preview FILE|DIR`: the next air times of schedule files, before applying them.

It reads the files only (no store, no broker, no config needed), so an operator can check a
calendar on any machine: each schedule's next air times in its own zone with the UTC instant
beside, and the pre-delivery time (air time minus `lead_s`) when receivers get the audio.
A file with problems prints every one as `FILE:LINE: problem` and exits with 2.
"""

from __future__ import annotations

import argparse
import difflib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from controller.cli.output import emit_json, emit_text
from loa.errors import LoaError
from schedules.file import read_schedules
from schedules.model import Schedule
from schedules.when import occurrences


class PreviewError(LoaError):
    """A preview that cannot be made as asked (an unknown --id, a bad --after)."""


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    schedule = commands.add_parser("schedule", help="the broadcast calendar")
    actions = schedule.add_subparsers(dest="action", required=True, metavar="ACTION")
    preview = actions.add_parser(
        "preview", parents=[common], help="the next air times of schedule files (reads no store)"
    )
    preview.add_argument("path", type=Path, metavar="FILE|DIR", help="a schedule file or folder")
    preview.add_argument("--id", metavar="ID", help="only this schedule")
    preview.add_argument(
        "--count", type=_count, default=20, metavar="N", help="air times per schedule (20)"
    )
    preview.add_argument(
        "--after",
        metavar="TIME",
        help="start after this time instead of now: ISO 8601, e.g. 2026-12-01T00:00 "
        "(without an offset: in each schedule's zone)",
    )
    preview.add_argument("--json", action="store_true", help="print JSON")
    preview.set_defaults(run=run_preview)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{value} is out of range; give 1 to 1000")
    return value


def run_preview(args: argparse.Namespace) -> int:
    schedules = read_schedules(args.path)
    if args.id is not None:
        known = [s.id for s in schedules]
        schedules = [s for s in schedules if s.id == args.id]
        if not schedules:
            raise PreviewError(_unknown_id(args.id, args.path, known))
    after = _after(args.after)
    previews = [_preview(schedule, after, args.count) for schedule in schedules]
    if args.json:
        emit_json(previews)
    else:
        emit_text("\n\n".join(_text(p) for p in previews) if previews else "no schedules")
    return 0


def _unknown_id(wanted: str, path: Path, known: list[str]) -> str:
    close = difflib.get_close_matches(wanted, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"the files hold: {', '.join(known)}"
    return f"no schedule {wanted!r} in {path}; {hint}"


def _after(text: str | None) -> datetime | None:
    """The --after instant (naive: read later in each schedule's zone), or None for now."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise PreviewError(
            f"--after {text!r} is not a time; write ISO 8601 like 2026-12-01T06:00 "
            "or 2026-12-01T06:00+07:00"
        ) from None


def _preview(schedule: Schedule, after: datetime | None, count: int) -> dict[str, Any]:
    when = schedule.when
    if after is None:
        start = datetime.now(UTC)
    elif after.utcoffset() is None:
        start = after.replace(tzinfo=when.tz)
    else:
        start = after
    lead = timedelta(seconds=schedule.lead_s)
    rows = []
    for instant in occurrences(when, start, count):
        deliver = instant - lead
        rows.append(
            {
                "air_local": instant.astimezone(when.tz).isoformat(),
                "air_utc": _utc(instant),
                "deliver_local": deliver.astimezone(when.tz).isoformat(),
                "deliver_utc": _utc(deliver),
            }
        )
    return {
        "id": schedule.id,
        "title": schedule.title,
        "kind": when.recurrence.kind,
        "zone": when.zone,
        "enabled": schedule.enabled,
        "priority": schedule.priority,
        "targets": schedule.targets,
        "languages": list(schedule.languages),
        "lead_s": schedule.lead_s,
        "after": _utc(start),
        "occurrences": rows,
    }


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(preview: dict[str, Any]) -> str:
    paused = "" if preview["enabled"] else "  [paused: enabled: false]"
    lines = [
        f"{preview['id']}  {preview['title']}{paused}",
        f"  {preview['kind']}, {preview['priority']}, to {preview['targets']}, "
        f"languages {', '.join(preview['languages'])}, zone {preview['zone']}",
    ]
    rows = preview["occurrences"]
    if not rows:
        lines.append(f"  no air time after {preview['after']} (the schedule has ended)")
        return "\n".join(lines)
    lead_min = preview["lead_s"] / 60
    lines.append(
        f"  {'air time (local)':<28}{'air time (UTC)':<22}"
        f"delivered from (local, {lead_min:g} min before)"
    )
    for row in rows:
        air = datetime.fromisoformat(row["air_local"])
        deliver = datetime.fromisoformat(row["deliver_local"])
        lines.append(f"  {air:%Y-%m-%d %a %H:%M %z}  {row['air_utc']}  {deliver:%Y-%m-%d %H:%M}")
    return "\n".join(lines)
