"""Receivers and the groups they belong to: the registry's model.

Groups form a tree: a **province** holds **communes**, a commune holds **villages**
(xóm, thôn, bản), and every receiver stands in exactly one village. **Free** groups
("school area", "market") cut across villages: a receiver lists the free groups it is
in. A free group may hang under a province or a commune, or stand alone.

Each `check_*` function returns the value when it is good and otherwise raises
`ValueError` (`TypeError` for a value of the wrong type) saying what is wrong and
what is expected; the dataclasses run them in
`__post_init__`, and the registry file reader runs them field by field so that it can
report every problem with its line.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal

from devices.ids import check_id
from loa.errors import LoaError

GroupKind = Literal["province", "commune", "village", "free"]
GROUP_KINDS: Final[tuple[GroupKind, ...]] = ("province", "commune", "village", "free")
#: The kinds of group a group of each kind may hang under (None: at the top).
PARENT_KINDS: Final[dict[GroupKind, tuple[GroupKind | None, ...]]] = {
    "province": (None,),
    "commune": (None, "province"),
    "village": ("commune",),
    "free": (None, "province", "commune"),
}

MAX_NAME: Final = 200
MAX_SPEAKERS: Final = 8
MIN_HEARTBEAT_S: Final = 10
MAX_HEARTBEAT_S: Final = 3600
DEFAULT_HEARTBEAT_S: Final = 60
DEFAULT_LANGUAGES: Final = ("vi",)
LANGUAGE_PATTERN: Final = re.compile(r"^[a-z]{2,8}$")
LANGUAGE_RULE: Final = "2 to 8 lower-case letters, like 'vi', 'tay', 'nung', 'hmn' or 'dao'"


class RegistryError(LoaError):
    """The registry cannot be changed as asked: an unknown id, a broken reference."""


def readable_name(group_id: str) -> str:
    """A name for a group known only by its id: `tra-linh` -> `Tra Linh`."""
    return " ".join(word.capitalize() for word in re.split(r"[-_]+", group_id) if word)


def clean_text(value: str) -> str:
    """Text as the registry keeps it: NFC (one code point per Vietnamese letter), stripped."""
    return unicodedata.normalize("NFC", value).strip()


def check_name(value: object, what: str = "name") -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be text, not {value!r}")
    if not value.strip():
        raise ValueError(f"{what} is empty; give the name people use, like 'Bản Nà Vường'")
    if len(value) > MAX_NAME:
        raise ValueError(f"{what} has {len(value)} characters; at most {MAX_NAME} fit")
    if value != value.strip() or any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError(f"{what} {value!r} has spaces around it or control characters")
    return value


def check_notes(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"notes must be text, not {value!r}")
    if "\x00" in value:
        raise ValueError("notes contain a NUL character; remove it")
    return value


def _check_degrees(value: object, what: str, limit: int, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number of decimal degrees like {example}, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} {value} is not a number of degrees; expected one like {example}")
    if not -limit <= value <= limit:
        raise ValueError(
            f"{what} {value} is outside -{limit} to {limit}; expected decimal degrees "
            f"like {example}"
        )
    return float(value)


def check_latitude(value: object) -> float:
    return _check_degrees(value, "lat", 90, "22.6834")


def check_longitude(value: object) -> float:
    return _check_degrees(value, "lon", 180, "106.2215")


def check_position(lat: float | None, lon: float | None) -> None:
    """The rules over both coordinates: both or neither, and not the (0, 0) of no fix."""
    if (lat is None) != (lon is None):
        raise ValueError("give both lat and lon, or neither")
    if lat == 0 and lon == 0:
        raise ValueError(
            "lat 0, lon 0 is what a GPS reports without a fix; take the reading again, "
            "or leave the position out"
        )


def check_languages(value: object) -> tuple[str, ...]:
    if not isinstance(value, tuple | list):
        raise TypeError(f"languages must be a list of codes ({LANGUAGE_RULE}), not {value!r}")
    if not value:
        raise ValueError("languages is empty; list at least the main language, like [vi]")
    for code in value:
        if not isinstance(code, str) or not LANGUAGE_PATTERN.match(code):
            raise ValueError(f"language {code!r} is not a language code; expected {LANGUAGE_RULE}")
    if len(set(value)) != len(value):
        raise ValueError(f"languages {list(value)} name a language twice; list each once")
    return tuple(value)


def check_groups(value: object) -> tuple[str, ...]:
    if not isinstance(value, tuple | list):
        raise TypeError(f"groups must be a list of group ids, not {value!r}")
    for group_id in value:
        check_id(group_id, "group id")
    if len(set(value)) != len(value):
        raise ValueError(f"groups {list(value)} name a group twice; list each once")
    return tuple(value)


def _check_int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return value


def check_speakers(value: object) -> int:
    return _check_int(value, "speakers", 1, MAX_SPEAKERS)


def check_heartbeat(value: object) -> int:
    return _check_int(value, "heartbeat_s", MIN_HEARTBEAT_S, MAX_HEARTBEAT_S)


def check_installed(value: object) -> date | None:
    if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
        shown = str(value) if isinstance(value, date) else repr(value)
        raise ValueError(f"installed must be a date without a time, like 2025-06-12, not {shown}")
    return value


@dataclass(frozen=True)
class Group:
    """A province, commune, village or free group."""

    id: str
    name: str
    kind: GroupKind
    parent_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "group id")
        check_name(self.name, f"name of group {self.id!r}")
        if self.kind not in GROUP_KINDS:
            raise ValueError(f"group kind {self.kind!r} is not one of {', '.join(GROUP_KINDS)}")
        if self.parent_id is not None:
            check_id(self.parent_id, "parent group id")
            if self.parent_id == self.id:
                raise ValueError(f"group {self.id!r} cannot be its own parent")
        if self.parent_id is None and None not in PARENT_KINDS[self.kind]:
            raise ValueError(f"{label(self.kind)} {self.id!r} needs a parent ({_kinds(self.kind)})")
        if self.parent_id is not None and PARENT_KINDS[self.kind] == (None,):
            raise ValueError(f"a {self.kind} stands at the top; {self.id!r} cannot have a parent")


@dataclass(frozen=True)
class Receiver:
    """One loudspeaker box on a pole: where it is, what it speaks, how often it calls in."""

    id: str
    name: str
    village_id: str
    lat: float | None = None
    lon: float | None = None
    groups: tuple[str, ...] = ()
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    speakers: int = 1
    installed: date | None = None
    notes: str = ""
    heartbeat_s: int = DEFAULT_HEARTBEAT_S

    def __post_init__(self) -> None:
        check_id(self.id)
        check_name(self.name, f"name of receiver {self.id!r}")
        check_id(self.village_id, "village id")
        if self.lat is not None:
            check_latitude(self.lat)
        if self.lon is not None:
            check_longitude(self.lon)
        check_position(self.lat, self.lon)
        # Membership has no order: keep it sorted, so equal receivers compare equal.
        object.__setattr__(self, "groups", tuple(sorted(check_groups(self.groups))))
        check_languages(self.languages)
        check_speakers(self.speakers)
        check_installed(self.installed)
        check_notes(self.notes)
        check_heartbeat(self.heartbeat_s)

    @property
    def language(self) -> str:
        """The main language, the one the village is told in first."""
        return self.languages[0]


def label(kind: GroupKind) -> str:
    """How people call a kind of group: "commune", "free group"."""
    return "free group" if kind == "free" else kind


def _kinds(kind: GroupKind) -> str:
    return " or ".join("nothing" if k is None else f"a {label(k)}" for k in PARENT_KINDS[kind])


def parent_problem(group: Group, parent: Group | None) -> str | None:
    """What is wrong with `group`'s parent (`parent` is None when the id is unknown)."""
    if group.parent_id is None:
        return None
    what = f"{label(group.kind)} {group.id!r}"
    if parent is None:
        return f"{what} is under {group.parent_id!r}, which is no known group"
    if parent.kind not in PARENT_KINDS[group.kind]:
        return (
            f"{what} is under {label(parent.kind)} {parent.id!r}; a {label(group.kind)} "
            f"belongs under {_kinds(group.kind)}"
        )
    return None


def village_problem(receiver_id: str, village_id: str, village: Group | None) -> str | None:
    """What is wrong with the village a receiver names (`village` None: no such group)."""
    if village is None:
        return f"receiver {receiver_id!r}: village {village_id!r} is no known village"
    if village.kind != "village":
        return (
            f"receiver {receiver_id!r}: {village_id!r} is a {label(village.kind)}, not a village; "
            "a receiver stands in a village"
        )
    return None


def membership_problem(receiver_id: str, group_id: str, group: Group | None) -> str | None:
    """What is wrong with one of the free groups a receiver lists."""
    if group is None:
        return f"receiver {receiver_id!r}: group {group_id!r} is no known group"
    if group.kind != "free":
        return (
            f"receiver {receiver_id!r}: {group_id!r} is a {label(group.kind)}, and `groups` lists "
            "free groups only (the village, commune and province follow from `village`)"
        )
    return None


class GroupTree:
    """Groups by id, with the ways up and down the tree."""

    def __init__(self, groups: Iterable[Group]) -> None:
        self._groups = {group.id: group for group in groups}
        self._children: dict[str, list[str]] = {}
        for group in self._groups.values():
            if group.parent_id is not None:
                self._children.setdefault(group.parent_id, []).append(group.id)

    def __contains__(self, group_id: object) -> bool:
        return group_id in self._groups

    def __iter__(self) -> Iterator[Group]:
        return iter(self._groups.values())

    def __len__(self) -> int:
        return len(self._groups)

    def get(self, group_id: str) -> Group | None:
        return self._groups.get(group_id)

    def ancestors(self, group_id: str) -> tuple[Group, ...]:
        """The group's parent, its parent's parent, ... up to the top (unknown ids end it)."""
        found: list[Group] = []
        seen = {group_id}
        group = self._groups.get(group_id)
        while group is not None and group.parent_id is not None and group.parent_id not in seen:
            seen.add(group.parent_id)
            group = self._groups.get(group.parent_id)
            if group is not None:
                found.append(group)
        return tuple(found)

    def nearest(self, group_id: str, kind: GroupKind) -> Group | None:
        """The group itself if it is of `kind`, else its nearest ancestor that is."""
        group = self._groups.get(group_id)
        if group is not None and group.kind == kind:
            return group
        return next((g for g in self.ancestors(group_id) if g.kind == kind), None)

    def commune_of(self, receiver: Receiver) -> Group | None:
        return self.nearest(receiver.village_id, "commune")

    def province_of(self, receiver: Receiver) -> Group | None:
        return self.nearest(receiver.village_id, "province")

    def descendants(self, group_id: str) -> frozenset[str]:
        """The ids of the group and of every group below it."""
        found = {group_id}
        todo = [group_id]
        while todo:
            for child in self._children.get(todo.pop(), ()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return frozenset(found)

    def includes(self, group_id: str, receiver: Receiver) -> bool:
        """Whether `receiver` is in the group or below it (its village or a free group)."""
        below = self.descendants(group_id)
        return receiver.village_id in below or any(g in below for g in receiver.groups)

    def problems(self, receivers: Iterable[Receiver] = ()) -> list[str]:
        """Every broken reference among the groups and from `receivers` into them."""
        found = [
            problem
            for group in self._groups.values()
            if (problem := parent_problem(group, self._groups.get(group.parent_id or "")))
            is not None
        ]
        for receiver in receivers:
            village = self._groups.get(receiver.village_id)
            if (problem := village_problem(receiver.id, receiver.village_id, village)) is not None:
                found.append(problem)
            for group_id in receiver.groups:
                group = self._groups.get(group_id)
                if (problem := membership_problem(receiver.id, group_id, group)) is not None:
                    found.append(problem)
        return found


@dataclass(frozen=True)
class Registry:
    """Groups and receivers read together (from a file, or for an import)."""

    groups: tuple[Group, ...] = ()
    receivers: tuple[Receiver, ...] = ()

    @property
    def tree(self) -> GroupTree:
        return GroupTree(self.groups)
