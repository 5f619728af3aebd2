"""`loa schedule preview|apply|add|list|show|approve|calendar|pause|resume|delete`.

`preview FILE|DIR|ID` (`controller/cli/schedule_preview.py`) shows the next air times of
schedule files before they are applied, or of a stored schedule; `add` is in
`schedule_add.py`, `calendar` in `schedule_calendar.py`.

`apply FILE|DIR` checks the files' targets and contents against the store (every problem
listed, nothing applied; `controller/store/schedules.py`), writes the schedules with full
content ids and prints what changed (added, updated with the changed fields, unchanged;
`--prune` removes those the same path no longer holds); the commune's rules (quiet hours,
clashes unless `--force`, approval: `controller/scheduler/policy.py`) judge what is added
or changed first. `list`, `show ID`, `approve ID`, `pause ID`, `resume ID` and `delete ID`
work on the store.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.cli import schedule_add, schedule_calendar
from controller.cli.output import emit_json, emit_text
from controller.cli.schedule_preview import (
    count_arg,
    preview_of,
    preview_text,
    run_preview,
    utc_text,
)
from controller.cli.store_access import with_store
from controller.config import load_config
from schedules.file import read_schedules
from schedules.when import occurrences

if TYPE_CHECKING:
    from controller.store import Store
    from controller.store.bulletins import OccurrenceRow
    from controller.store.schedules import ApplyResult, StoredSchedule

#: Air times `loa schedule show` prints.
SHOW_COUNT = 5


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    schedule = commands.add_parser("schedule", help="the broadcast calendar")
    actions = schedule.add_subparsers(dest="action", required=True, metavar="ACTION")
    schedule_add.add_parser(actions, common)
    schedule_calendar.add_parser(actions, common)
    preview = actions.add_parser(
        "preview", parents=[common], help="the next air times of schedule files or a stored one"
    )
    preview.add_argument(
        "path",
        type=Path,
        metavar="FILE|DIR|ID",
        help="a schedule file or folder, or the id of a stored schedule",
    )
    preview.add_argument("--id", metavar="ID", help="only this schedule")
    preview.add_argument(
        "--count", type=count_arg, default=20, metavar="N", help="air times per schedule (20)"
    )
    preview.add_argument(
        "--after",
        metavar="TIME",
        help="start after this time instead of now: ISO 8601, e.g. 2026-12-01T00:00 "
        "(without an offset: in each schedule's zone)",
    )
    preview.add_argument("--json", action="store_true", help="print JSON")
    preview.set_defaults(run=run_preview)

    apply = actions.add_parser(
        "apply", parents=[common], help="write schedule files to the store, with a diff"
    )
    apply.add_argument("path", type=Path, metavar="FILE|DIR", help="a schedule file or folder")
    apply.add_argument("--dry-run", action="store_true", help="only show what would change")
    apply.add_argument(
        "--prune",
        action="store_true",
        help="remove stored schedules applied earlier from this FILE|DIR that it no longer holds",
    )
    add_rule_flags(apply)
    apply.add_argument("--json", action="store_true", help="print JSON")
    apply.set_defaults(run=run_apply)

    listing = actions.add_parser("list", parents=[common], help="the stored schedules")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list)

    show = actions.add_parser(
        "show", parents=[common], help=f"a stored schedule and its next {SHOW_COUNT} air times"
    )
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=run_show)

    for name, enabled, what in (
        ("pause", False, "stop a schedule firing (it stays stored)"),
        ("resume", True, "let a paused schedule fire again"),
    ):
        toggle = actions.add_parser(name, parents=[common], help=what)
        toggle.add_argument("id", metavar="ID")
        toggle.set_defaults(run=run_toggle, enabled=enabled)

    approve = actions.add_parser(
        "approve", parents=[common], help="approve a schedule that waits for a second person"
    )
    approve.add_argument("id", metavar="ID")
    approve.add_argument("--by", default=None, metavar="NAME", help="who approves (login name)")
    approve.set_defaults(run=run_approve)

    remove = actions.add_parser("delete", parents=[common], help="remove a stored schedule")
    remove.add_argument("id", metavar="ID")
    remove.set_defaults(run=run_delete)


def add_rule_flags(parser: argparse.ArgumentParser) -> None:
    """`--force` and `--by`, for the commands that write schedules (apply, add)."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="accept clashes with other schedules and bulletins (shown either way)",
    )
    parser.add_argument(
        "--by", default=None, metavar="NAME", help="who writes it (default: the login name)"
    )


def who(given: str | None) -> str:
    """`--by`, else the login name: who wrote or approved a schedule."""
    if given is not None and given.strip():
        return given.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def rule_lines(result: ApplyResult) -> list[str]:
    """What the commune's rules said about an apply: clashes accepted, approval awaited."""
    lines: list[str] = []
    if result.clashes:
        lines.append("clashes accepted (--force):")
        lines.extend(f"  {line}" for line in result.clashes)
    if result.pending:
        lines.append(
            f"waiting for approval by a second person: {', '.join(result.pending)} "
            "(loa schedule approve ID --by NAME)"
        )
    return lines


def run_apply(args: argparse.Namespace) -> int:
    """Read the files first (a problem applies nothing), then write them in one transaction."""
    from controller.scheduler.policy import Policy, speakable
    from controller.store.schedules import apply_schedules

    schedules = read_schedules(args.path)
    config = load_config(args.config)
    source = str(args.path.resolve())
    now = datetime.now(UTC)

    async def work(store: Store) -> ApplyResult:
        return await apply_schedules(
            store,
            schedules,
            source=source,
            dry_run=args.dry_run,
            at=now,
            prune=args.prune,
            by=who(args.by),
            rules=Policy(config, force=args.force, can_speak=speakable(config)),
        )

    result = with_store(config, work)
    if args.json:
        emit_json(
            {
                "dry_run": result.dry_run,
                "source": source,
                "changes": [
                    {"id": c.id, "action": c.action, "fields": list(c.fields)}
                    for c in result.changes
                ],
                "unchanged": list(result.unchanged),
                "not_in_files": list(result.not_in_files),
                "clashes": list(result.clashes),
                "pending_approval": list(result.pending),
            }
        )
    else:
        emit_text(_apply_text(result))
    return 0


def _apply_text(result: ApplyResult) -> str:
    lines = []
    for change in result.changes:
        fields = f" ({', '.join(change.fields)})" if change.fields else ""
        lines.append(f"  {change.action:<8} {change.id}{fields}")
    added, updated, removed = (
        len(result.ids("added")),
        len(result.ids("updated")),
        len(result.ids("removed")),
    )
    lines.append(
        f"{added} added, {updated} updated, {removed} removed, {len(result.unchanged)} unchanged"
    )
    if result.not_in_files:
        lines.append(
            f"kept, not in these files: {', '.join(result.not_in_files)}"
            + ("" if result.dry_run else " (--prune removes those applied from this path)")
        )
    lines.extend(rule_lines(result))
    if result.dry_run:
        lines.append("--dry-run: nothing applied")
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    from controller.store.schedules import list_schedules

    config = load_config(args.config)
    stored = with_store(config, list_schedules)
    now = datetime.now(UTC)
    rows = [schedule_summary(item, now) for item in stored]
    if args.json:
        emit_json(rows)
    elif not rows:
        emit_text("no schedules; `loa schedule apply FILE|DIR` adds them")
    else:
        lines = [
            f"{'ID':<24}{'KIND':<13}{'PRIORITY':<11}{'STATE':<10}{'NEXT AIR (LOCAL)':<23}TITLE"
        ]
        for row in rows:
            state = row["state"]
            after = row["next_air_local"]
            shown = "-" if after is None else f"{datetime.fromisoformat(after):%Y-%m-%d %H:%M %z}"
            lines.append(
                f"{row['id']:<24}{row['kind']:<13}{row['priority']:<11}{state:<10}"
                f"{shown:<23}{row['title']}"
            )
        emit_text("\n".join(lines))
    return 0


def schedule_summary(item: StoredSchedule, now: datetime) -> dict[str, Any]:
    schedule = item.schedule
    upcoming = occurrences(schedule.when, now, 1)
    return {
        "id": schedule.id,
        "title": schedule.title,
        "kind": schedule.when.recurrence.kind,
        "priority": schedule.priority,
        "enabled": schedule.enabled,
        "state": schedule_state(item),
        "approval": item.approval,
        "next_air_local": (
            upcoming[0].astimezone(schedule.when.tz).isoformat() if upcoming else None
        ),
        "next_air_utc": utc_text(upcoming[0]) if upcoming else None,
        "source": item.source,
    }


def schedule_state(item: StoredSchedule) -> str:
    """on, paused or awaiting (a second person's approval)."""
    if not item.schedule.enabled:
        return "paused"
    return "awaiting" if item.approval == "pending" else "on"


def run_show(args: argparse.Namespace) -> int:
    from controller.store.fires import fired_occurrences
    from controller.store.schedules import get_schedule, schedule_to_dict

    config = load_config(args.config)

    async def work(store: Store) -> tuple[StoredSchedule, list[OccurrenceRow]]:
        item = await get_schedule(store, args.id)
        return item, await fired_occurrences(store, args.id, limit=SHOW_COUNT)

    item, fired = with_store(config, work)
    preview = preview_of(item.schedule, None, SHOW_COUNT)
    zone = item.schedule.when.tz
    definition = schedule_to_dict(item.schedule)
    if args.json:
        emit_json(
            {
                "definition": definition,
                "source": item.source,
                "created_at": utc_text(item.created_at),
                "updated_at": utc_text(item.updated_at),
                "created_by": item.created_by,
                "state": schedule_state(item),
                "approval": item.approval,
                "approved_by": item.approved_by,
                "occurrences": preview["occurrences"],
                "fired": [fired_json(row) for row in fired],
            }
        )
        return 0
    by = f" by {item.created_by}" if item.created_by else ""
    lines = [
        f"source: {item.source}, applied {utc_text(item.updated_at)}{by}",
        f"state: {schedule_state(item)}",
    ]
    if item.approval == "approved":
        lines[-1] += f" (approved by {item.approved_by})"
    elif item.approval == "pending":
        lines[-1] += " (loa schedule approve ID --by NAME, by a second person)"
    for key, raw in definition.items():
        value = raw
        if key == "when":
            value = ", ".join(f"{k}: {v}" for k, v in raw.items() if v not in (None, []))
        elif key in ("contents", "text"):
            value = ", ".join(f"{language}: {v}" for language, v in raw)
        if value not in (None, ""):
            lines.append(f"  {key}: {value}")
    history = ["", "fired (latest first):"] if fired else []
    for row in fired:
        planned = row.planned_at or row.play_at
        when = "-" if planned is None else f"{planned.astimezone(zone):%Y-%m-%d %H:%M}"
        reason = f": {row.reason}" if row.reason else ""
        history.append(f"  {when}  {row.state:<10} {row.id}{reason}")
    emit_text("\n".join(lines) + "\n\n" + preview_text(preview) + "\n".join(history))
    return 0


def fired_json(row: OccurrenceRow) -> dict[str, Any]:
    return {
        "occurrence": row.id,
        "planned_at": None if row.planned_at is None else utc_text(row.planned_at),
        "play_at": None if row.play_at is None else utc_text(row.play_at),
        "state": row.state,
        "reason": row.reason,
    }


def run_approve(args: argparse.Namespace) -> int:
    from controller.store.schedules import approve_schedule

    config = load_config(args.config)

    async def work(store: Store) -> StoredSchedule:
        return await approve_schedule(store, args.id, who(args.by), datetime.now(UTC))

    item = with_store(config, work)
    emit_text(
        f"{item.schedule.id} approved by {item.approved_by} (written by {item.created_by}); "
        "loa serve fires it from its next air time"
    )
    return 0


def run_toggle(args: argparse.Namespace) -> int:
    from controller.store.schedules import set_enabled

    config = load_config(args.config)

    async def work(store: Store) -> bool:
        return await set_enabled(store, args.id, args.enabled, datetime.now(UTC))

    was = with_store(config, work)
    word = "resumed" if args.enabled else "paused"
    emit_text(f"{args.id} {word}" if was != args.enabled else f"{args.id} was already {word}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from controller.store.schedules import delete_schedule

    config = load_config(args.config)

    async def work(store: Store) -> StoredSchedule:
        return await delete_schedule(store, args.id)

    item = with_store(config, work)
    emit_text(
        f"deleted {item.schedule.id} ({item.schedule.title}); applying {item.source} "
        "again adds it back unless it is removed from the file"
    )
    return 0
