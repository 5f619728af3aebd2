"""A bulletin as an operator asks for it: checked, its audio ready, written to the store.

`send_bulletin()` is what `loa bulletin send` (and later the HTTP API) calls. It
checks the targets against the registry and the sound asked for, prepares the audio
(a recording or text through the audio library, and stored contents by id), and writes
the bulletin and its occurrence in one transaction. The running controller picks the
occurrence up within `delivery.poll_s` and dispatches it `delivery.lead_s` before its
play time.

Languages: a bulletin has one content per language, and a receiver plays its village's
(`plan.language_for`). A recording or text is in the request's `language` and is the
bulletin's default (its first content); each stored content is in the language it was
prepared in, after it in the order given (the first of them is the default when there is
no recording or text). One source alone keeps the form it had before bulletins could have
several: it is sent in the request's `language`, whatever a stored content was prepared
in; with one content there is nothing to choose and every receiver plays it. A receiver
whose language the bulletin lacks, and which has no Vietnamese to fall back to, hears the
default: nobody targeted is left silent. Everything
that can be checked without preparing audio is checked first, so a mistake in the
request costs no text-to-speech and leaves no new content behind.

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
from controller.delivery.plan import (
    TargetError,
    language_for,
    parse_targets,
    resolve,
)
from controller.scheduler.quiet_rules import CommuneQuiet
from controller.store import Store
from controller.store.bulletins import (
    BulletinRow,
    OccurrenceRow,
    create_bulletin,
    create_occurrence,
)
from controller.store.contents import ContentRow
from controller.store.registry_rows import load_groups, load_receivers
from devices.protocol.commands import new_occurrence_id
from devices.protocol.priority import PRIORITIES, Priority
from devices.registry import GroupTree, Receiver
from loa.clock import Clock
from loa.errors import LoaError

START_DELAY = timedelta(seconds=15)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SHORT = 12  # characters of a content id in messages, as `loa audio list` shows them


class RequestError(LoaError):
    """A bulletin request that cannot be sent as asked: the message says which part.

    `code` and `params`, where set, name the mistake for a page that says it in the
    reader's language (`in_the_past`, `quiet_hours`); the message is the CLI's English.
    """

    def __init__(
        self, message: str, *, code: str | None = None, params: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.params = params or {}


@dataclass(frozen=True, slots=True)
class Audio:
    """Where the bulletin's sound comes from, one content per language.

    At most one of `file` (a recording) and `text` (read aloud), in the request's
    `language`; and stored contents by id or id prefix (at least 6 characters), each in
    the language it was prepared in. `content` is one stored content, the form from
    before bulletins could have several; `contents` holds any number, after it.
    """

    file: Path | None = None
    text: str | None = None
    content: str | None = None
    contents: tuple[str, ...] = ()

    def stored(self) -> tuple[str, ...]:
        """Every stored content asked for, `content` first, as given."""
        return ((self.content,) if self.content is not None else ()) + tuple(self.contents)


@dataclass(frozen=True, slots=True)
class SendRequest:
    audio: Audio
    #: the language of the recording or text, or of a stored content sent alone
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
    #: the bulletin's default content (the first of `contents`)
    content_id: str
    #: how many receivers the targets name
    receivers: int
    #: whether the recording or text made a new content (False: it was stored already)
    created_content: bool
    #: language to content id, in the bulletin's order: its default first
    contents: dict[str, str]
    #: language to how many of the targeted receivers hear it (`plan.language_for`), same order
    hearing: dict[str, int]


@dataclass(frozen=True, slots=True)
class _Stored:
    """A stored content asked for: as the operator wrote it, and the language it goes in."""

    given: str
    row: ContentRow
    language: str


async def send_bulletin(
    store: Store, library: AudioLibrary, config: Config, request: SendRequest, clock: Clock
) -> Sent:
    """Check `request`, prepare its audio and write the bulletin with its occurrence.

    `RequestError`, `TargetError` or `UnknownContent` say what in the request is wrong;
    they are raised before any audio is prepared, except one: a recording or text that
    turns out to be one of the stored contents given is known only once prepared.
    """
    if request.priority not in PRIORITIES:
        raise RequestError(f"priority {request.priority!r} is not one of {', '.join(PRIORITIES)}")
    _check_sources(request.audio)
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
        local = play_at.astimezone(ZoneInfo(config.time_zone))
        raise RequestError(
            f"--at {play_at.isoformat()} is in the past",
            code="in_the_past",
            params={"at": f"{local:%H:%M %d/%m/%Y}"},
        )
    if request.priority != "emergency":
        _check_quiet_hours(config, tree, targeted, play_at or now)
    stored = await _stored(library, request)
    new = _new_source(request.audio)
    languages = ([request.language] if new is not None else []) + [s.language for s in stored]
    _check_languages(request, new, stored)
    contents: dict[str, str] = {}
    title = ""
    created = False
    if new is not None:
        contents[request.language], title, created = await _prepare(library, request)
        _check_not_stored_twice(new, contents[request.language], stored)
    for item in stored:
        contents[item.language] = item.row.id
    title = title or stored[0].row.title
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
        await create_bulletin(session, bulletin, contents, targets)
        await create_occurrence(session, occurrence)
    hearing = dict.fromkeys(contents, 0)
    for receiver in targeted:
        hearing[language_for(receiver, languages)] += 1
    default = next(iter(contents.values()))
    return Sent(bulletin, occurrence, default, len(targeted), created, contents, hearing)


def _new_source(audio: Audio) -> str | None:
    """How the recording or text was given (for messages), or None if there is neither."""
    if audio.file is not None:
        return "the FILE"
    if audio.text is not None:
        return "the --text"
    return None


def _check_quiet_hours(
    config: Config, tree: GroupTree, targeted: list[Receiver], start: datetime
) -> None:
    """`RequestError` if a bulletin that is not an emergency would start in the quiet
    hours of a commune it reaches (`schedules.quiet_hours`, per commune too)."""
    local = start.astimezone(ZoneInfo(config.time_zone))
    for where, hours in CommuneQuiet(config.schedules).reached(targeted, tree):
        if hours.contains(local.time()):
            raise RequestError(
                f"{local:%H:%M} is in the quiet hours of {where} ({hours}): only emergencies "
                "may sound then; send it --at a later time, or with --priority emergency",
                code="quiet_hours",
                params={"time": f"{local:%H:%M}", "where": where, "hours": str(hours)},
            )


def _check_sources(audio: Audio) -> None:
    if audio.file is not None and audio.text is not None:
        raise RequestError(
            "give a FILE or --text, not both: a bulletin has one content per language; "
            "prepare the other languages first (`loa audio prepare FILE --lang L`, "
            "`loa audio tts TEXT --lang L`) and add each with --content ID"
        )
    if audio.file is None and audio.text is None and not audio.stored():
        raise RequestError(
            "no sound given: give exactly one of a FILE or --text, "
            "or --content ID (once per language)"
        )


async def _stored(library: AudioLibrary, request: SendRequest) -> list[_Stored]:
    """The stored contents asked for, each with the language it is sent in."""
    given = request.audio.stored()
    rows = [await library.get(wanted) for wanted in given]
    if len(rows) == 1 and _new_source(request.audio) is None:
        return [_Stored(given[0], rows[0], request.language)]  # alone: as it always was
    return [_Stored(wanted, row, row.language) for wanted, row in zip(given, rows, strict=True)]


def _check_languages(request: SendRequest, new: str | None, stored: list[_Stored]) -> None:
    """One content per language, and no content given twice."""
    by_id: dict[str, str] = {}
    by_language: dict[str, str] = {}
    if new is not None:
        by_language[request.language] = f"{new} (--lang {request.language})"
    for item in stored:
        where = f"--content {item.given}"
        if item.row.id in by_id:
            raise RequestError(
                f"content {item.row.id[:_SHORT]} is given twice ({by_id[item.row.id]} and "
                f"{where}); give each content once"
            )
        by_id[item.row.id] = where
        named = f"{item.row.id[:_SHORT]} ({where})"
        if item.language in by_language:
            raise RequestError(
                f"two contents in {item.language!r}: {by_language[item.language]} and {named}; "
                "a bulletin has one content per language (`loa audio list` shows each "
                "content's language)"
            )
        by_language[item.language] = named


def _check_not_stored_twice(new: str, content_id: str, stored: list[_Stored]) -> None:
    """The recording or text must not be, once prepared, one of the stored contents given.

    Known only after preparing (the same audio makes the same content); the content it
    made, or found, stays in the library for `loa audio gc`.
    """
    for item in stored:
        if item.row.id == content_id:
            raise RequestError(
                f"{new} is the same audio as content {content_id[:_SHORT]} "
                f"(--content {item.given}, {item.language}); give each content once, one per "
                "language"
            )


async def _prepare(library: AudioLibrary, request: SendRequest) -> tuple[str, str, bool]:
    """Prepare the recording or text: its content id, title and whether it is new."""
    audio = request.audio
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
    assert audio.text is not None  # noqa: S101 - `_new_source` said there is one
    added = await library.add_text(
        audio.text,
        title=request.title,
        language=request.language,
        added_by=request.created_by,
        chime=chime,
    )
    return added.content.id, added.content.title, added.created


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
