"""`loa schedule preview FILE|DIR|ID`: the next air times, local and UTC, before or after an
apply.

It reads the files only (no store, no broker, no config needed), so an operator can check a
calendar on any machine: each schedule's next air times in its own zone with the UTC instant
beside, and the pre-delivery time (air time minus `lead_s`) when receivers get the audio. A
file with problems prints every one as `FILE:LINE: problem` and exits with 2. Given the id of
a stored schedule instead (no file or folder of that name), it previews that one.
"""

from __future__ import annotations

import argparse
import difflib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.cli.args import whole_number
from controller.cli.output import emit_json, emit_text
from controller.cli.store_access import with_store
from controller.config import load_config
from devices.ids import is_valid_id
from loa.errors import LoaError
from schedules.file import read_schedules
from schedules.model import Schedule
from schedules.when import occurrences

if TYPE_CHECKING:
    from controller.store import Store


class PreviewError(LoaError):
    """A preview that cannot be made as asked (an unknown --id, a bad --after)."""


#: `--count`: air times per schedule.
count_arg = whole_number(1, 1000)


def run_preview(args: argparse.Namespace) -> int:
    if not args.path.exists() and is_valid_id(str(args.path)):
        schedules = [_stored_schedule(args, str(args.path))]
    else:
        schedules = read_schedules(args.path)
    if args.id is not None:
        known = [s.id for s in schedules]
        schedules = [s for s in schedules if s.id == args.id]
        if not schedules:
            raise PreviewError(_unknown_id(args.id, args.path, known))
    after = after_arg(args.after)
    previews = [preview_of(schedule, after, args.count) for schedule in schedules]
    if args.json:
        emit_json(previews)
    else:
        emit_text("\n\n".join(preview_text(p) for p in previews) if previews else "no schedules")
    return 0


def _stored_schedule(args: argparse.Namespace, schedule_id: str) -> Schedule:
    """`loa schedule preview ID`: a stored schedule (no such file or folder is there)."""
    from controller.store.schedules import get_schedule

    config = load_config(args.config)

    async def work(store: Store) -> Schedule:
        return (await get_schedule(store, schedule_id)).schedule

    return with_store(config, work)


def _unknown_id(wanted: str, path: Path, known: list[str]) -> str:
    close = difflib.get_close_matches(wanted, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"the files hold: {', '.join(known)}"
    return f"no schedule {wanted!r} in {path}; {hint}"


def after_arg(text: str | None) -> datetime | None:
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


def preview_of(schedule: Schedule, after: datetime | None, count: int) -> dict[str, Any]:
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
                "air_utc": utc_text(instant),
                "deliver_local": deliver.astimezone(when.tz).isoformat(),
                "deliver_utc": utc_text(deliver),
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
        "after": utc_text(start),
        "occurrences": rows,
    }


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def preview_text(preview: dict[str, Any]) -> str:
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
