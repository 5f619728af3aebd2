"""How `loa audio` shows contents: text for people, JSON for programs.

People see times in the configured zone and ids cut to 12 characters (any 6 or
more are accepted back); JSON has whole ids and UTC instants.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from audio.loudness import Loudness
from audio.manifest import Manifest
from controller.audio import Added, GcReport
from controller.store.contents import ContentRow
from loa.clock import utc_iso

SHORT_ID = 12


def _local(instant: datetime, zone: str) -> str:
    return f"{instant.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


def _loudness_json(loudness: Loudness) -> dict[str, float]:
    return {
        "integrated_lufs": round(loudness.integrated_lufs, 2),
        "true_peak_dbtp": round(loudness.true_peak_dbtp, 2),
        "range_lu": round(loudness.range_lu, 2),
    }


def content_json(row: ContentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "language": row.language,
        "kind": row.kind,
        "source_name": row.source_name,
        "source_text": row.source_text,
        "codec": row.codec,
        "mime_type": row.mime_type,
        "bitrate_kbps": row.bitrate_kbps,
        "sample_rate": row.sample_rate,
        "channels": 1,
        "duration_s": round(row.duration_s, 3),
        "size_bytes": row.size_bytes,
        "chunk_size": row.chunk_size,
        "chunk_count": row.chunk_count,
        "loudness_before": {
            "integrated_lufs": row.loudness_before_lufs,
            "true_peak_dbtp": row.true_peak_before_dbtp,
        },
        "loudness_after": {
            "integrated_lufs": row.loudness_after_lufs,
            "true_peak_dbtp": row.true_peak_after_dbtp,
            "range_lu": row.loudness_range_lu,
        },
        "added_by": row.added_by,
        "added_at": utc_iso(row.added_at),
    }


def added_json(added: Added) -> dict[str, Any]:
    prepared = added.prepared
    data: dict[str, Any] = {
        "created": added.created,
        "content": content_json(added.content),
        "prepared": {
            "before": _loudness_json(prepared.before),
            "after": _loudness_json(prepared.after),
            "trimmed_start_s": round(prepared.trimmed_start_s, 3),
            "trimmed_end_s": round(prepared.trimmed_end_s, 3),
            "source_format": prepared.source.format_name,
            "source_duration_s": round(prepared.source.duration_s, 3),
        },
    }
    if added.speech is not None:
        data["sentences"] = list(added.speech.sentences)
    return data


def _format_text(row: ContentRow) -> str:
    khz = row.sample_rate / 1000
    return f"{row.codec.upper()} {row.bitrate_kbps} kbps {khz:g} kHz mono"


def added_text(added: Added, zone: str) -> str:
    row, prepared = added.content, added.prepared
    if added.created:
        head = f"added {row.id[:SHORT_ID]} {row.title!r} ({row.language})"
    else:
        head = (
            f"already stored as {row.id[:SHORT_ID]} {row.title!r} ({row.language}), "
            f"added by {row.added_by} on {_local(row.added_at, zone)}; nothing new was stored"
        )
    lines = [
        head,
        f"  id        {row.id}",
        f"  sound     {row.duration_s:.1f} s, {row.size_bytes:,} bytes, {_format_text(row)}, "
        f"{row.chunk_count} chunks of {row.chunk_size // 1024} KiB",
        f"  loudness  {prepared.before.integrated_lufs:.1f} LUFS "
        f"(peak {prepared.before.true_peak_dbtp:.1f} dBTP) -> "
        f"{prepared.after.integrated_lufs:.1f} LUFS "
        f"(peak {prepared.after.true_peak_dbtp:.1f} dBTP)",
    ]
    if prepared.trimmed_start_s or prepared.trimmed_end_s:
        lines.append(
            f"  trimmed   {prepared.trimmed_start_s:.1f} s of silence at the start, "
            f"{prepared.trimmed_end_s:.1f} s at the end"
        )
    if added.speech is not None:
        count = len(added.speech.sentences)
        lines.append(f"  spoken    {count} sentence{'s' if count != 1 else ''}")
    return "\n".join(lines)


def contents_text(rows: Sequence[ContentRow], zone: str) -> str:
    if not rows:
        return (
            "no audio contents yet; add one with `loa audio prepare FILE` or `loa audio tts TEXT`"
        )
    header = f"{'ID':<{SHORT_ID}}  {'ADDED':<16}  {'LENGTH':>7}  {'LANG':<5} {'KIND':<5} TITLE"
    lines = [header]
    for row in rows:
        minutes, seconds = divmod(round(row.duration_s), 60)
        lines.append(
            f"{row.id[:SHORT_ID]:<{SHORT_ID}}  {_local(row.added_at, zone):<16}  "
            f"{minutes:>4}:{seconds:02d}  {row.language:<5} {row.kind:<5} {row.title}"
        )
    total = sum(row.size_bytes for row in rows)
    lines.append(f"{len(rows)} contents, {total / 1_000_000:.1f} MB")
    return "\n".join(lines)


def detail_json(
    row: ContentRow, path: Path | None, problems: Sequence[str], manifest: Manifest | None
) -> dict[str, Any]:
    return {
        **content_json(row),
        "path": None if path is None else str(path),
        "problems": list(problems),
        "manifest": None if manifest is None else manifest.to_json(),
    }


def detail_text(
    row: ContentRow,
    path: Path | None,
    problems: Sequence[str],
    manifest: Manifest | None,
    zone: str,
) -> str:
    lines = [
        f"{row.title!r} ({row.language}, {row.kind})",
        f"  id        {row.id}",
        f"  added     {_local(row.added_at, zone)} by {row.added_by}",
        f"  source    {row.source_name}",
    ]
    if row.source_text:
        lines.append(f"  text      {row.source_text}")
    lines += [
        f"  sound     {row.duration_s:.1f} s, {row.size_bytes:,} bytes, {_format_text(row)}",
        f"  loudness  {row.loudness_before_lufs:.1f} LUFS -> {row.loudness_after_lufs:.1f} LUFS, "
        f"true peak {row.true_peak_after_dbtp:.1f} dBTP, range {row.loudness_range_lu:.1f} LU",
    ]
    if path is not None:
        lines.append(f"  file      {path}")
    if manifest is not None:
        lines.append(
            f"  chunks    {manifest.chunk_count} of {manifest.chunk_size:,} bytes, all verified"
        )
    lines.extend(f"  PROBLEM   {problem}" for problem in problems)
    return "\n".join(lines)


def gc_json(report: GcReport) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "contents": [content_json(row) for row in report.contents],
        "orphan_files": list(report.orphans),
        "staging_files": [str(path) for path in report.staging],
        "bytes": report.bytes_freed,
    }


def gc_text(report: GcReport, grace_hours: float, zone: str) -> str:
    verb = "would remove" if report.dry_run else "removed"
    found = len(report.contents) + len(report.orphans) + len(report.staging)
    if not found:
        return (
            f"nothing to remove: every content is in use or was added in the last {grace_hours:g} h"
        )
    lines = [
        f"  {row.id[:SHORT_ID]}  {_local(row.added_at, zone)}  {row.title}"
        for row in report.contents
    ]
    lines += [f"  {content_id[:SHORT_ID]}  (file with no record)" for content_id in report.orphans]
    lines += [f"  {path.name}  (left by an interrupted prepare)" for path in report.staging]
    summary = (
        f"{verb} {len(report.contents)} unused contents, {len(report.orphans)} orphan files and "
        f"{len(report.staging)} staging files: {report.bytes_freed / 1_000_000:.1f} MB"
    )
    if report.dry_run:
        summary += "; run `loa audio gc --delete` to remove them"
    return "\n".join([summary, *lines])
