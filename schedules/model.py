"""The schedule: what plays, to whom, how, and when; every value checked when it is made.

A `Schedule` is a plan, not a bulletin: its `targets` stay the text an operator writes for
`loa bulletin send --to` ("all", receiver ids and group ids, comma-separated) and its
contents stay stored-content id prefixes, because both are resolved against the registry
and the content store only when an occurrence is created (the registry may change between
the day a schedule is written and the day it plays).

Each field has a check function in `FIELD_CHECKS`, so that a file reader can check every
field on its own, report each bad one with its line and still go on; `Schedule` runs the
same checks in `__post_init__`, so a schedule built in code is never less checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from devices.ids import ID_RULE, is_valid_id
from devices.protocol.priority import PRIORITIES, Priority
from devices.registry.model import LANGUAGE_PATTERN, LANGUAGE_RULE
from loa.errors import LoaError
from schedules.when import When

__all__ = [
    "CHIMES",
    "FIELD_CHECKS",
    "Schedule",
    "ScheduleError",
]

CHIMES: Final = ("none", "before", "after", "both")
#: A content is named by its sha256 id or by its first characters, as `loa audio list` shows.
CONTENT_PREFIX_RULE: Final = "6 to 64 lower-case hex digits of a stored content id (loa audio list)"
TITLE_MAX: Final = 200
TEXT_MAX: Final = 5000
#: A plan longer than a day is not a broadcast; it is almost always a unit mistake (ms, min).
DURATION_MAX_S: Final = 24 * 3600
LEAD_MAX_S: Final = 7 * 24 * 3600
EXPIRES_MAX_S: Final = 7 * 24 * 3600
_HEX: Final = frozenset("0123456789abcdef")


class ScheduleError(LoaError, ValueError):
    """A schedule field is not valid; `field` is the key an operator writes (`lead_s`)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def _whole(value: object, field: str, low: int, high: int, unit: str = "") -> int:
    """A whole number in [low, high]; `True` is not 1 here (YAML `yes` is a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScheduleError(
            field, f"{value!r} is not a whole number; expected {low} to {high}{unit}"
        )
    if not low <= value <= high:
        raise ScheduleError(field, f"{value} is out of range; expected {low} to {high}{unit}")
    return value


def check_id(value: object) -> str:
    if not is_valid_id(value):
        raise ScheduleError("id", f"{value!r} is not a valid schedule id; expected {ID_RULE}")
    assert isinstance(value, str)  # noqa: S101 - is_valid_id checked it
    return value


def check_title(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError("title", f"{value!r} is not a title; write a short text for people")
    text = value.strip()
    if len(text) > TITLE_MAX:
        raise ScheduleError("title", f"is {len(text)} characters; keep it under {TITLE_MAX}")
    return text


def check_when(value: object) -> When:
    if not isinstance(value, When):
        raise ScheduleError("when", f"{value!r} is not a recurrence (schedules.when.When)")
    return value


def check_targets(value: object) -> str:
    """Targets as `loa bulletin send --to` takes them, normalised to `a,b,c`.

    Each part must be `all` or an id-shaped word; whether the id is a registered receiver
    or group is checked against the registry when the schedule is applied.
    """
    if not isinstance(value, str):
        raise ScheduleError(
            "targets", f"{value!r} is not text; write ids separated by commas, or all"
        )
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts:
        raise ScheduleError("targets", "is empty; name receivers or groups, or all")
    for part in parts:
        if part != "all" and not is_valid_id(part):
            raise ScheduleError(
                "targets", f"{part!r} is not a receiver or group id; expected {ID_RULE}, or all"
            )
    if len(set(parts)) != len(parts):
        raise ScheduleError("targets", f"{value!r} names a target twice; list each once")
    if "all" in parts and len(parts) > 1:
        raise ScheduleError("targets", f"{value!r} combines all with other targets; all is enough")
    return ",".join(parts)


def _language_map(
    value: object, field: str, check: Callable[[str, object], str]
) -> tuple[tuple[str, str], ...]:
    """A language -> value mapping as ordered pairs (the first language is the default)."""
    if value is None:
        return ()
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)  # already checked pairs, as a Schedule keeps them
    if not isinstance(value, Mapping):
        raise ScheduleError(
            field, f"{value!r} is not a mapping of language -> value, like {{vi: ...}}"
        )
    pairs: list[tuple[str, str]] = []
    for language, item in value.items():
        if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
            raise ScheduleError(
                field, f"language {language!r} is not a language code; expected {LANGUAGE_RULE}"
            )
        pairs.append((language, check(language, item)))
    return tuple(pairs)


def check_contents(value: object) -> tuple[tuple[str, str], ...]:
    def prefix(language: str, item: object) -> str:
        if not isinstance(item, str) or not 6 <= len(item) <= 64 or not set(item) <= _HEX:
            raise ScheduleError(f"contents.{language}", f"{item!r} is not {CONTENT_PREFIX_RULE}")
        return item

    return _language_map(value, "contents", prefix)


def check_text(value: object) -> tuple[tuple[str, str], ...]:
    def words(language: str, item: object) -> str:
        if not isinstance(item, str) or not item.strip():
            raise ScheduleError(f"text.{language}", f"{item!r} is not text to read aloud")
        if len(item) > TEXT_MAX:
            raise ScheduleError(
                f"text.{language}", f"is {len(item)} characters; keep it under {TEXT_MAX}"
            )
        return item.strip()

    return _language_map(value, "text", words)


def check_priority(value: object) -> Priority:
    if value not in PRIORITIES:
        raise ScheduleError(
            "priority", f"{value!r} is not a priority; expected one of {', '.join(PRIORITIES)}"
        )
    assert isinstance(value, str)  # noqa: S101 - it is one of PRIORITIES
    return value


def check_duration(value: object) -> int | None:
    return None if value is None else _whole(value, "duration_s", 1, DURATION_MAX_S, " seconds")


def check_lead(value: object) -> int:
    return _whole(value, "lead_s", 0, LEAD_MAX_S, " seconds")


def check_expires(value: object) -> int:
    return _whole(value, "expires_after_s", 1, EXPIRES_MAX_S, " seconds")


def check_enabled(value: object) -> bool:
    if not isinstance(value, bool):
        raise ScheduleError("enabled", f"{value!r} is not true or false")
    return value


def check_volume(value: object) -> int | None:
    return None if value is None else _whole(value, "volume", 0, 100, " percent")


def check_repeat(value: object) -> int:
    return _whole(value, "repeat", 1, 10, " plays")


def check_chime(value: object) -> str:
    if value not in CHIMES:
        raise ScheduleError(
            "chime", f"{value!r} is not a chime; expected one of {', '.join(CHIMES)}"
        )
    assert isinstance(value, str)  # noqa: S101 - it is one of CHIMES
    return value


#: Every field's check, by the key an operator writes; each returns the value to keep.
FIELD_CHECKS: Final[dict[str, Callable[[Any], object]]] = {
    "id": check_id,
    "title": check_title,
    "when": check_when,
    "targets": check_targets,
    "contents": check_contents,
    "text": check_text,
    "priority": check_priority,
    "duration_s": check_duration,
    "lead_s": check_lead,
    "expires_after_s": check_expires,
    "enabled": check_enabled,
    "volume": check_volume,
    "repeat": check_repeat,
    "chime": check_chime,
}


def check_languages(
    contents: tuple[tuple[str, str], ...], text: tuple[tuple[str, str], ...]
) -> None:
    """At least one content or text, and each language once across both."""
    if not contents and not text:
        raise ScheduleError(
            "contents", "nothing to play; give contents (stored audio) or text (read aloud)"
        )
    languages = [language for language, _ in (*contents, *text)]
    for language in languages:
        if languages.count(language) > 1:
            raise ScheduleError(
                "text",
                f"language {language!r} is given twice (in contents and text, or twice); "
                "give each language once",
            )


@dataclass(frozen=True, slots=True)
class Schedule:
    """A planned broadcast; see the module docstring. `contents` and `text` are ordered
    (language, value) pairs: the first language of `contents`, else of `text`, is the default.
    """

    id: str
    title: str
    when: When
    targets: str
    contents: tuple[tuple[str, str], ...] = ()
    text: tuple[tuple[str, str], ...] = ()
    priority: Priority = "normal"
    duration_s: int | None = None
    lead_s: int = 900
    expires_after_s: int = 3600
    enabled: bool = True
    volume: int | None = None
    repeat: int = 1
    chime: str = "none"

    def __post_init__(self) -> None:
        for name, check in FIELD_CHECKS.items():
            object.__setattr__(self, name, check(getattr(self, name)))
        check_languages(self.contents, self.text)

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language it plays in, the default first."""
        return tuple(language for language, _ in (*self.contents, *self.text))

    @property
    def default_language(self) -> str:
        return self.languages[0]
