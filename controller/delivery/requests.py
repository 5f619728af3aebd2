"""A bulletin as an operator asks for it: checked, its audio ready, written to the store.

`send_bulletin()` is what `loa bulletin send` (and later the HTTP API) calls. It
prepares the audio first (a recording or text through the audio library, or a stored
content by id), checks the targets against the registry, and writes the bulletin and
its occurrence in one transaction. The running controller picks the occurrence up
within `delivery.poll_s` and dispatches it `delivery.lead_s` before its play time.

Times: `play_at` None means "as soon as possible": for an emergency, receivers play
as soon as enough audio has arrived; for other priorities the play time is set
`START_DELAY` ahead, so every receiver has the audio and starts together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from controller.audio.library import AudioLibrary, ChimePlacement
from controller.config.model import Config
from controller.delivery.plan import TargetError, parse_targets, resolve
from controller.store import Store
from controller.store.bulletins import (
    BulletinRow,
    OccurrenceRow,
    create_bulletin,
    create_occurrence,
)
from controller.store.registry_rows import load_groups, load_receivers
from devices.protocol.commands import new_occurrence_id
from devices.protocol.priority import PRIORITIES, Priority
from devices.registry import GroupTree
from loa.clock import Clock
from loa.errors import LoaError

START_DELAY = timedelta(seconds=15)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RequestError(LoaError):
    """A bulletin request that cannot be sent as asked: the message says which part."""


@dataclass(frozen=True, slots=True)
class Audio:
    """Where the bulletin's sound comes from: exactly one of the three."""

    file: Path | None = None
    text: str | None = None
    content: str | None = None


@dataclass(frozen=True, slots=True)
class SendRequest:
    audio: Audio
    language: str
    targets: str
    priority: Priority = "normal"
    play_at: datetime | None = None
    expires_after: timedelta | None = None
    volume: int | None = None
    repeat: int = 1
    chime: ChimePlacement = "none"
    title: str | None = None
    created_by: str = "unknown"


@dataclass(frozen=True, slots=True)
class Sent:
    bulletin: BulletinRow
    occurrence: OccurrenceRow
    content_id: str
    receivers: int
    created_content: bool


async def send_bulletin(
    store: Store, library: AudioLibrary, config: Config, request: SendRequest, clock: Clock
) -> Sent:
    if request.priority not in PRIORITIES:
        raise RequestError(f"priority {request.priority!r} is not one of {', '.join(PRIORITIES)}")
    async with store.read() as session:
        tree = GroupTree(await load_groups(session))
        registry = list((await load_receivers(session)).values())
    targets = parse_targets(request.targets, tree, [r.id for r in registry])
    targeted = resolve(targets, registry, tree)
    if not targeted:
        raise TargetError(f"{request.targets!r} names no registered receiver")
    now = clock.now()
    play_at = request.play_at
    if play_at is not None and play_at < now - timedelta(seconds=5):
        raise RequestError(f"--at {play_at.isoformat()} is in the past")
    content_id, title, created = await _audio(library, request)
    now = clock.now()
    if play_at is None and request.priority != "emergency":
        play_at = now + START_DELAY
    expires_after = request.expires_after or timedelta(
        seconds=config.delivery.emergency_expires_after_s
        if request.priority == "emergency"
        else config.delivery.expires_after_s
    )
    bulletin = BulletinRow(
        id=new_occurrence_id(),
        title=(request.title or title)[:200],
        priority=request.priority,
        volume=request.volume,
        repeat=request.repeat,
        chime=request.chime,
        created_by=request.created_by,
        created_at=now,
    )
    occurrence = OccurrenceRow(
        id=new_occurrence_id(),
        bulletin_id=bulletin.id,
        play_at=play_at,
        expires_at=(play_at or now) + expires_after,
        created_at=now,
    )
    async with store.write() as session:
        await create_bulletin(session, bulletin, {request.language: content_id}, targets)
        await create_occurrence(session, occurrence)
    return Sent(bulletin, occurrence, content_id, len(targeted), created)


async def _audio(library: AudioLibrary, request: SendRequest) -> tuple[str, str, bool]:
    audio = request.audio
    given = [x for x in (audio.file, audio.text, audio.content) if x is not None]
    if len(given) != 1:
        raise RequestError("give the sound as exactly one of: a FILE, --text or --content")
    chime = request.chime
    if audio.file is not None:
        added = await library.add_file(
            audio.file,
            title=request.title,
            language=request.language,
            added_by=request.created_by,
            chime=chime,
        )
        return added.content.id, added.content.title, added.created
    if audio.text is not None:
        added = await library.add_text(
            audio.text,
            title=request.title,
            language=request.language,
            added_by=request.created_by,
            chime=chime,
        )
        return added.content.id, added.content.title, added.created
    assert audio.content is not None  # noqa: S101 - one of three, checked above
    row = await library.get(audio.content)
    return row.id, row.title, False


def parse_duration(text: str, what: str = "--expires") -> timedelta:
    """`90s`, `30m`, `2h`, `1d` (a number and a unit)."""
    match = _DURATION.match(text)
    if match is None:
        raise RequestError(f"{what} {text!r} is not a duration; write it like 90s, 30m, 2h or 1d")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise RequestError(f"{what} {text!r} must be longer than nothing")
    return timedelta(seconds=seconds)


def parse_time(text: str, zone: str, now: datetime) -> datetime:
    """A play time as people write it, in the configured zone unless it says otherwise.

    `06:00` (the next 06:00), `2026-12-02 06:00`, `2026-12-02T06:00`, or ISO 8601 with
    an offset or `Z` (`2026-12-01T23:00:00Z`).
    """
    local = ZoneInfo(zone)
    cleaned = text.strip()
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}", cleaned):
            hour, minute = (int(part) for part in cleaned.split(":"))
            today = now.astimezone(local).date()
            candidate = datetime.combine(today, time(hour, minute), local)
            if candidate <= now:
                candidate = datetime.combine(today + timedelta(days=1), time(hour, minute), local)
            return candidate
        parsed = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RequestError(
            f"--at {text!r} is not a time; write 06:00, 2026-12-02 06:00 or an ISO 8601 instant"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local)
    return parsed
