"""The bodies of the commands: assign, play, cancel, the time reply, volume and restart.

Each body knows its wire `type`, its JSON fields (`fields()`, written beside the
envelope of `devices.protocol.commands`) and how to read them back (`read`,
DecodeError or ValueError naming the field). Values are checked when made, so a
body that exists is one a receiver may act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from devices.ids import check_id
from devices.protocol.content_ref import ContentRef
from devices.protocol.fields import MAX_SAFE_INT, check_hex_id, check_token, millis
from devices.protocol.fields import Body as Reader
from devices.protocol.priority import PRIORITIES, Priority
from devices.protocol.receiver import MAX_GROUPS
from loa.clock import utc_iso

CommandType = Literal["assign", "play", "cancel", "time", "volume", "restart"]
COMMAND_TYPES: tuple[CommandType, ...] = ("assign", "play", "cancel", "time", "volume", "restart")
#: The commands that speak to one receiver: always addressed `rx:<id>`.
RECEIVER_ONLY: tuple[CommandType, ...] = ("assign", "time", "volume", "restart")
MAX_TITLE = 200
MAX_REASON = 200
MAX_REPEAT = 10
MAX_LANGUAGES = 16


@dataclass(frozen=True)
class Assign:
    """The groups a receiver belongs to and the language of its village."""

    type: ClassVar[CommandType] = "assign"
    groups: tuple[str, ...]
    language: str

    def __post_init__(self) -> None:
        if len(self.groups) > MAX_GROUPS:
            raise ValueError(f"a receiver is in at most {MAX_GROUPS} groups")
        for group in self.groups:
            check_id(group, "group id")
        if len(set(self.groups)) != len(self.groups):
            raise ValueError(f"groups {self.groups!r} name a group twice")
        check_token(self.language, "language")

    def fields(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "language": self.language}

    @classmethod
    def read(cls, body: Reader) -> Assign:
        return cls(body.ids("groups", MAX_GROUPS), body.text("language", 40))


@dataclass(frozen=True)
class Play:
    """Air one occurrence of a bulletin at `play_at` (None: as soon as enough audio is in)."""

    type: ClassVar[CommandType] = "play"
    occurrence: str
    bulletin: str
    title: str
    priority: Priority
    play_at: datetime | None
    expires_at: datetime
    volume: int | None
    repeat: int
    #: Language code to content; kept out of the hash (a mapping has none).
    contents: Mapping[str, ContentRef] = field(hash=False)
    #: The bulletin's default language (a key of `contents`): what a receiver plays when
    #: neither its language nor Vietnamese is there. None: such a receiver plays nothing.
    default: str | None = None

    def __post_init__(self) -> None:
        check_hex_id(self.occurrence, "occurrence")
        check_hex_id(self.bulletin, "bulletin")
        if len(self.title) > MAX_TITLE:
            raise ValueError(f"title must be at most {MAX_TITLE} characters")
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")
        expires_at = millis(self.expires_at, "expires_at")
        object.__setattr__(self, "expires_at", expires_at)
        if self.play_at is not None:
            play_at = millis(self.play_at, "play_at")
            if play_at > expires_at:
                raise ValueError(f"play_at {play_at} is after expires_at {expires_at}")
            object.__setattr__(self, "play_at", play_at)
        if self.volume is not None and not 0 <= self.volume <= 100:
            raise ValueError(f"volume must be from 0 to 100 %, not {self.volume}")
        if not 1 <= self.repeat <= MAX_REPEAT:
            raise ValueError(f"repeat must be from 1 to {MAX_REPEAT}, not {self.repeat}")
        if not 1 <= len(self.contents) <= MAX_LANGUAGES:
            raise ValueError(f"a play has 1 to {MAX_LANGUAGES} contents, one per language")
        for language, content in self.contents.items():
            check_token(language, "language")
            if not isinstance(content, ContentRef):
                raise TypeError(f"contents[{language!r}] is not a ContentRef")
        object.__setattr__(self, "contents", dict(self.contents))  # our own copy
        if self.default is not None and self.default not in self.contents:
            raise ValueError(f"default {self.default!r} is not one of the contents' languages")

    def content_for(self, language: str) -> ContentRef | None:
        """The content a receiver of `language` plays: its own, else Vietnamese, else the
        default, else None."""
        found = self.contents.get(language) or self.contents.get("vi")
        if found is None and self.default is not None:
            return self.contents[self.default]
        return found

    def fields(self) -> dict[str, Any]:
        return {
            "occurrence": self.occurrence,
            "bulletin": self.bulletin,
            "title": self.title,
            "priority": self.priority,
            "play_at": None if self.play_at is None else utc_iso(self.play_at),
            "expires_at": utc_iso(self.expires_at),
            "volume": self.volume,
            "repeat": self.repeat,
            "contents": {language: ref.fields() for language, ref in self.contents.items()},
        } | ({} if self.default is None else {"default": self.default})

    @classmethod
    def read(cls, body: Reader) -> Play:
        listed = body.sub("contents")
        contents: dict[str, ContentRef] = {}
        for language in listed.data:
            try:
                check_token(language, "language")
            except ValueError as exc:
                raise listed.error(language, f"is not a language code: {exc}") from exc
            contents[language] = ContentRef.read(listed.sub(language))
        return cls(
            occurrence=body.hex_id("occurrence"),
            bulletin=body.hex_id("bulletin"),
            title=body.text("title", MAX_TITLE),
            priority=body.choice("priority", PRIORITIES),
            play_at=body.opt_instant("play_at"),
            expires_at=body.instant("expires_at"),
            volume=body.opt_integer("volume", 0, 100),
            repeat=body.integer("repeat", 1, MAX_REPEAT),
            contents=contents,
            default=_default(body, contents),
        )


def _default(body: Reader, contents: Mapping[str, ContentRef]) -> str | None:
    default = body.opt_text("default", 16)
    if default is not None and default not in contents:
        raise body.error("default", f"{default!r} is not one of the contents' languages")
    return default


@dataclass(frozen=True)
class Cancel:
    """Drop an occurrence before air time, or stop it while it plays."""

    type: ClassVar[CommandType] = "cancel"
    occurrence: str

    def __post_init__(self) -> None:
        check_hex_id(self.occurrence, "occurrence")

    def fields(self) -> dict[str, Any]:
        return {"occurrence": self.occurrence}

    @classmethod
    def read(cls, body: Reader) -> Cancel:
        return cls(body.hex_id("occurrence"))


@dataclass(frozen=True)
class TimeReply:
    """The controller's clock, answering the receiver's clock request number `request`."""

    type: ClassVar[CommandType] = "time"
    request: int
    received: datetime
    sent: datetime

    def __post_init__(self) -> None:
        if not 0 <= self.request <= MAX_SAFE_INT:
            raise ValueError(f"request must be from 0 to {MAX_SAFE_INT}, not {self.request}")
        object.__setattr__(self, "received", millis(self.received, "received"))
        object.__setattr__(self, "sent", millis(self.sent, "sent"))

    def offset(self, t0: datetime, t3: datetime) -> timedelta:
        """What to add to the receiver's clock to read the controller's (NTP's formula).

        `t0`: the receiver's clock when it sent the request; `t3`: when this arrived.
        The `clock_offset_ms` receivers report is the opposite (their clock minus the
        controller's).
        """
        return ((self.received - t0) + (self.sent - t3)) / 2

    @staticmethod
    def round_trip(t0: datetime, t3: datetime) -> timedelta:
        """The exchange's round trip by the receiver's clock; keep the offset of the shortest."""
        return t3 - t0

    def fields(self) -> dict[str, Any]:
        return {
            "request": self.request,
            "received": utc_iso(self.received),
            "sent": utc_iso(self.sent),
        }

    @classmethod
    def read(cls, body: Reader) -> TimeReply:
        return cls(body.integer("request"), body.instant("received"), body.instant("sent"))


@dataclass(frozen=True)
class SetVolume:
    """The receiver's standing output level in % (what its heartbeats report as `volume`),
    kept across reboots; a play command's own `volume` still wins for that play."""

    type: ClassVar[CommandType] = "volume"
    volume: int

    def __post_init__(self) -> None:
        if isinstance(self.volume, bool) or not isinstance(self.volume, int):
            raise TypeError(f"volume must be an integer, not {type(self.volume).__name__}")
        if not 0 <= self.volume <= 100:
            raise ValueError(f"volume must be from 0 to 100 %, not {self.volume}")

    def fields(self) -> dict[str, Any]:
        return {"volume": self.volume}

    @classmethod
    def read(cls, body: Reader) -> SetVolume:
        return cls(body.integer("volume", 0, 100))


@dataclass(frozen=True)
class Restart:
    """Reboot now: say `offline`/`reboot`, disconnect, boot, come back with a new epoch.
    `reason` (for logs, at most 200 characters) says why; None: none given."""

    type: ClassVar[CommandType] = "restart"
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.reason is not None and len(self.reason) > MAX_REASON:
            raise ValueError(f"reason must be at most {MAX_REASON} characters")

    def fields(self) -> dict[str, Any]:
        return {} if self.reason is None else {"reason": self.reason}

    @classmethod
    def read(cls, body: Reader) -> Restart:
        return cls(body.opt_text("reason", MAX_REASON))


Body = Assign | Play | Cancel | TimeReply | SetVolume | Restart
