"""How `loa devices` shows receivers: tables and details for people, JSON for programs.

People read times in the configured zone (`2026-11-30 08:00`); JSON carries UTC
instants with a `Z`. Signal and power come from the last telemetry the health code
stored (`net.rsrp_dbm` or `net.rssi_dbm`; `power.source` and `power.battery_v`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal
from zoneinfo import ZoneInfo

from loa.clock import utc_iso

if TYPE_CHECKING:
    from controller.store import ImportResult, ReceiverDetail, ReceiverRow, Unregistered
    from controller.store.health import HealthRow
    from devices.registry import Group, Receiver

Kind = Literal["group", "receiver"]

#: Changes listed one per line by `loa devices import`; the rest are counted.
CHANGES_SHOWN: Final = 50
NONE: Final = "-"


def _utc(instant: datetime | None) -> str | None:
    return None if instant is None else utc_iso(instant)


def _local(instant: datetime | None, zone: str) -> str:
    return NONE if instant is None else f"{instant.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


def _part(telemetry: dict[str, Any] | None, section: str, key: str) -> Any:
    part = (telemetry or {}).get(section)
    return part.get(key) if isinstance(part, dict) else None


def signal(telemetry: dict[str, Any] | None) -> str:
    """`-97 dBm RSRP` (4G) or `-70 dBm RSSI`, from the last telemetry."""
    for key, label in (("rsrp_dbm", "RSRP"), ("rssi_dbm", "RSSI")):
        value = _part(telemetry, "net", key)
        if value is not None:
            return f"{value} dBm {label}"
    return NONE


def power(telemetry: dict[str, Any] | None) -> str:
    """`mains`, or `battery 12.1 V`, from the last telemetry."""
    source = _part(telemetry, "power", "source")
    volts = _part(telemetry, "power", "battery_v")
    if source is None:
        return NONE
    return str(source) if volts is None else f"{source} {volts} V"


def import_json(file: str, result: ImportResult) -> dict[str, Any]:
    return {
        "file": file,
        "imported": not result.dry_run,
        "dry_run": result.dry_run,
        "groups": _counts(result, "group", result.groups_unchanged),
        "receivers": _counts(result, "receiver", result.receivers_unchanged),
        "changes": [
            {"kind": c.kind, "id": c.id, "action": c.action, "fields": list(c.fields)}
            for c in result.changes
        ],
        "adopted": list(result.adopted),
        "not_in_file": list(result.not_in_file),
    }


def _counts(result: ImportResult, kind: Kind, unchanged: int) -> dict[str, int]:
    return {
        "added": result.count(kind, "added"),
        "updated": result.count(kind, "updated"),
        "unchanged": unchanged,
    }


def import_text(file: str, result: ImportResult) -> str:
    verb = "would be" if result.dry_run else "were"
    lines = [f"{file}: dry run, nothing written" if result.dry_run else f"{file}: imported"]
    sections: tuple[tuple[Kind, int], ...] = (
        ("group", result.groups_unchanged),
        ("receiver", result.receivers_unchanged),
    )
    for kind, unchanged in sections:
        counts = _counts(result, kind, unchanged)
        lines.append(
            f"  {kind}s: {counts['added']} added, {counts['updated']} updated, "
            f"{unchanged} unchanged"
        )
    for change in result.changes[:CHANGES_SHOWN]:
        mark = "+" if change.action == "added" else "~"
        fields = f" ({', '.join(change.fields)})" if change.fields else ""
        lines.append(f"  {mark} {change.kind} {change.id}{fields}")
    if len(result.changes) > CHANGES_SHOWN:
        lines.append(f"  ... and {len(result.changes) - CHANGES_SHOWN} more (--json lists all)")
    if result.adopted:
        lines.append(
            f"  {len(result.adopted)} {verb} waiting as unregistered and are registered now: "
            + ", ".join(result.adopted)
        )
    if result.not_in_file:
        shown = ", ".join(result.not_in_file[:10]) + (
            ", ..." if len(result.not_in_file) > 10 else ""
        )
        lines.append(
            f"  {len(result.not_in_file)} registered receivers are not in the file and are "
            f"kept: {shown}"
        )
    if not result.changed:
        lines.append("  nothing to change")
    return "\n".join(lines)


def _group_json(group: Group | None) -> dict[str, str] | None:
    return None if group is None else {"id": group.id, "name": group.name}


def receiver_json(receiver: Receiver) -> dict[str, Any]:
    return {
        "id": receiver.id,
        "name": receiver.name,
        "village": receiver.village_id,
        "lat": receiver.lat,
        "lon": receiver.lon,
        "groups": list(receiver.groups),
        "languages": list(receiver.languages),
        "speakers": receiver.speakers,
        "installed": None if receiver.installed is None else receiver.installed.isoformat(),
        "notes": receiver.notes,
        "heartbeat_s": receiver.heartbeat_s,
    }


def _health_json(health: HealthRow) -> dict[str, Any]:
    return {
        "state": health.state,
        "since": _utc(health.since),
        "cause": health.cause,
        "last_heard": _utc(health.last_heard),
        "signal": signal(health.telemetry) if health.telemetry else None,
        "power": power(health.telemetry) if health.telemetry else None,
        "firmware": health.firmware,
    }


def row_json(row: ReceiverRow) -> dict[str, Any]:
    return {
        "id": row.receiver.id,
        "name": row.receiver.name,
        "village": _group_json(row.village),
        "commune": _group_json(row.commune),
        **_health_json(row.health),
    }


def unregistered_json(waiting: Unregistered) -> dict[str, Any]:
    return {
        "id": waiting.id,
        "name": None,
        "village": None,
        "commune": None,
        "state": "unregistered",
        "since": _utc(waiting.first_seen),
        "cause": "heard on the broker but not in the registry",
        "last_heard": _utc(waiting.last_seen),
        "signal": None,
        "power": None,
        "firmware": waiting.firmware,
        "epoch": waiting.epoch,
        "messages": waiting.messages,
        "last_topic": waiting.last_topic,
    }


def rows_text(rows: Sequence[ReceiverRow], waiting: Sequence[Unregistered], zone: str) -> str:
    """A table of receivers, the unregistered ones last."""
    if not rows and not waiting:
        return "no receivers; import a registry file with `loa devices import FILE`"
    header = ("ID", "NAME", "VILLAGE", "COMMUNE", "STATE", "SINCE", "LAST HEARD", "SIGNAL", "POWER")
    table = [header]
    for row in rows:
        health = row.health
        table.append(
            (
                row.receiver.id,
                row.receiver.name,
                row.village.name,
                NONE if row.commune is None else row.commune.name,
                health.state,
                _local(health.since, zone),
                _local(health.last_heard, zone),
                signal(health.telemetry),
                power(health.telemetry),
            )
        )
    for w in waiting:
        seen = (_local(w.first_seen, zone), _local(w.last_seen, zone))
        table.append((w.id, NONE, NONE, NONE, "unregistered", *seen, NONE, NONE))
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    if waiting:
        lines.append(
            f"{len(waiting)} heard but not registered: `loa devices adopt ID --village VILLAGE` "
            "registers one"
        )
    return "\n".join(lines)


def detail_json(detail: ReceiverDetail) -> dict[str, Any]:
    health = detail.health
    return {
        **receiver_json(detail.receiver),
        "village": _group_json(detail.village),
        "commune": _group_json(detail.commune),
        "province": _group_json(detail.province),
        "groups": [_group_json(g) for g in detail.groups],
        "registered_at": _utc(detail.registered_at),
        "updated_at": _utc(detail.updated_at),
        "health": {
            **_health_json(health),
            "link_state": health.link_state,
            "epoch": health.epoch,
            "heartbeat_s": health.heartbeat_s,
            "capabilities": list(health.capabilities),
            "telemetry": health.telemetry,
            "telemetry_at": _utc(health.telemetry_at),
        },
        "transitions": [
            {
                "at": _utc(t.at),
                "from": t.from_state,
                "to": t.to_state,
                "cause": t.cause,
                "epoch": t.epoch,
            }
            for t in detail.transitions
        ],
    }


def detail_text(detail: ReceiverDetail, zone: str) -> str:
    r, health = detail.receiver, detail.health
    place = ", ".join(
        f"{g.name} ({g.id})" for g in (detail.village, detail.commune, detail.province) if g
    )
    fields = [
        ("where", place),
        ("groups", ", ".join(f"{g.name} ({g.id})" for g in detail.groups) or NONE),
        ("position", NONE if r.lat is None else f"{r.lat}, {r.lon}"),
        ("languages", ", ".join(r.languages)),
        ("speakers", str(r.speakers)),
        ("installed", NONE if r.installed is None else r.installed.isoformat()),
        ("heartbeat", f"every {r.heartbeat_s} s"),
        ("notes", r.notes or NONE),
        ("state", f"{health.state} since {_local(health.since, zone)}: {health.cause}"),
        ("last heard", _local(health.last_heard, zone)),
        ("epoch", NONE if health.epoch is None else str(health.epoch)),
        ("firmware", health.firmware or NONE),
        ("signal", signal(health.telemetry)),
        ("power", power(health.telemetry)),
        ("registered", _local(detail.registered_at, zone)),
    ]
    lines = [f"{r.id}  {r.name}"] + [f"  {key:<11}{value}" for key, value in fields]
    if detail.transitions:
        lines.append("  transitions, newest first:")
        lines += [
            f"    {_local(t.at, zone)}  {t.from_state} -> {t.to_state}: {t.cause}"
            for t in detail.transitions
        ]
    return "\n".join(lines)
