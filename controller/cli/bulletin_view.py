"""How `loa bulletin` shows occurrences: text for people, JSON for programs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from controller.delivery.requests import Sent
from controller.delivery.status import Report
from controller.store.bulletins import OccurrenceSummary
from devices.delivery import DELIVERY_STATES
from loa.clock import utc_iso

SHORT = 12
BAR = 30


def _local(instant: datetime | None, zone: str) -> str:
    if instant is None:
        return "as soon as possible"
    return f"{instant.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M:%S}"


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else utc_iso(instant)


def sent_json(sent: Sent) -> dict[str, Any]:
    return {
        "occurrence": sent.occurrence.id,
        "bulletin": sent.bulletin.id,
        "title": sent.bulletin.title,
        "priority": sent.bulletin.priority,
        "content": sent.content_id,
        "receivers": sent.receivers,
        # A list, not an object: the order matters (the first is the default).
        "languages": [
            {"language": language, "content": content, "receivers": sent.hearing[language]}
            for language, content in sent.contents.items()
        ],
        "play_at": _iso(sent.occurrence.play_at),
        "expires_at": _iso(sent.occurrence.expires_at),
    }


def sent_text(sent: Sent, zone: str) -> str:
    """The occurrence id on a line of its own, then what goes to whom and when."""
    occurrence = sent.occurrence
    width = max(len(language) for language in sent.contents)
    languages = [
        f"  {language:<{width}}  {content[:SHORT]}  heard by {sent.hearing[language]}"
        + (" (the default)" if index == 0 and len(sent.contents) > 1 else "")
        for index, (language, content) in enumerate(sent.contents.items())
    ]
    return "\n".join(
        [
            occurrence.id,
            f"  {sent.bulletin.title!r}, {sent.bulletin.priority}, to {sent.receivers} receivers",
            *languages,
            f"  plays {_local(occurrence.play_at, zone)}, "
            f"expires {_local(occurrence.expires_at, zone)}",
            f"  follow it: loa bulletin status {occurrence.id[:SHORT]} --watch",
        ]
    )


def status_json(report: Report) -> dict[str, Any]:
    occurrence = report.occurrence
    bulletin = report.detail.bulletin
    receivers = []
    for delivery in report.deliveries:
        entry: dict[str, Any] = {
            "receiver": delivery.receiver,
            "state": delivery.state,
            "reason": delivery.reason,
            "updated_at": _iso(delivery.updated_at),
            "content": delivery.content,
        }
        proof = report.proofs.get(delivery.receiver)
        if proof is not None:
            entry["proof"] = {
                "started_at": _iso(proof.started_at),
                "ended_at": _iso(proof.ended_at),
                "clock_offset_ms": proof.clock_offset_ms,
                "content": proof.content,
                "played_ms": proof.played_ms,
                "level_db": proof.level_db,
            }
        receivers.append(entry)
    return {
        "occurrence": occurrence.id,
        "bulletin": bulletin.id,
        "title": bulletin.title,
        "priority": bulletin.priority,
        "state": occurrence.state,
        "reason": occurrence.reason,
        "schedule": occurrence.schedule_id,
        "planned_at": _iso(occurrence.planned_at),
        "play_at": _iso(occurrence.play_at),
        "expires_at": _iso(occurrence.expires_at),
        "counts": report.counts,
        "finished": report.finished,
        "receivers": receivers,
    }


def progress_line(report: Report) -> str:
    counts = report.counts
    total = len(report.deliveries) or 1
    played = counts["played"]
    ended = sum(counts[s] for s in ("failed", "rejected", "preempted", "expired", "cancelled"))
    filled = round(BAR * played / total)
    failed = round(BAR * ended / total)
    bar = "#" * filled + "x" * failed + "." * max(0, BAR - filled - failed)
    moving = ", ".join(
        f"{counts[s]} {s}" for s in ("queued", "offered", "accepted", "downloading", "armed",
                                     "playing") if counts[s]
    )  # fmt: skip
    return f"[{bar}] {played}/{len(report.deliveries)} played" + (f"; {moving}" if moving else "")


def status_text(report: Report, zone: str) -> str:
    occurrence = report.occurrence
    bulletin = report.detail.bulletin
    lines = [
        f"{occurrence.id}  {bulletin.title!r} ({bulletin.priority}), {occurrence.state}",
        f"  plays {_local(occurrence.play_at, zone)}, "
        f"expires {_local(occurrence.expires_at, zone)}",
    ]
    if occurrence.schedule_id is not None:
        lines.append(
            f"  fired by schedule {occurrence.schedule_id} for "
            f"{_local(occurrence.planned_at, zone)}"
        )
    if occurrence.reason:
        lines.append(f"  {occurrence.reason}")
    lines.append("  " + progress_line(report))
    for state in DELIVERY_STATES:
        receivers = [d for d in report.deliveries if d.state == state]
        if not receivers:
            continue
        names = ", ".join(
            d.receiver + (f" ({d.reason})" if d.reason else "") for d in receivers[:20]
        )
        more = f" and {len(receivers) - 20} more" if len(receivers) > 20 else ""
        lines.append(f"  {state:<11} {len(receivers):>4}  {names}{more}")
    return "\n".join(lines)


def list_json(rows: Sequence[OccurrenceSummary]) -> list[dict[str, Any]]:
    return [
        {
            "occurrence": row.occurrence.id,
            "bulletin": row.occurrence.bulletin_id,
            "title": row.title,
            "priority": row.priority,
            "state": row.occurrence.state,
            "play_at": _iso(row.occurrence.play_at),
            "expires_at": _iso(row.occurrence.expires_at),
            "counts": row.counts,
        }
        for row in rows
    ]


def list_text(rows: Sequence[OccurrenceSummary], zone: str) -> str:
    if not rows:
        return "no bulletins yet; send one with `loa bulletin send FILE --to TARGETS`"
    lines = [
        f"{'OCCURRENCE':<{SHORT}}  {'PLAYS':<19}  {'PRIORITY':<9}  {'STATE':<10}  PLAYED  TITLE"
    ]
    for row in rows:
        total = sum(row.counts.values())
        played = f"{row.counts.get('played', 0)}/{total}"
        lines.append(
            f"{row.occurrence.id[:SHORT]:<{SHORT}}  {_local(row.occurrence.play_at, zone):<19}  "
            f"{row.priority:<9}  {row.occurrence.state:<10}  {played:>6}  {row.title}"
        )
    return "\n".join(lines)
