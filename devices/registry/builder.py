"""Collect a registry from a file, keeping the line of everything and every problem.

The YAML and CSV readers turn their syntax into calls to `RegistryBuilder`: one
`add_group()` per group, one `add_receiver()` per receiver, each value with its
line. The builder checks each field with the model's checks, finds duplicates and
broken references, and `finish()` hands back the registry with the list of every
problem found, in line order: nothing stops at the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from devices.ids import ID_RULE, check_id, is_valid_id
from devices.registry import model
from devices.registry.model import Group, GroupKind, Receiver, Registry

#: A problem and the line it is on (None: the whole file).
Problem = tuple[int | None, str]
#: A value read from the file and the line it was on.
Located = tuple[Any, int]

_FIELD_CHECKS: Final[dict[str, Callable[[Any], object]]] = {
    "name": model.check_name,
    "village": lambda value: check_id(value, "village id"),
    "lat": model.check_latitude,
    "lon": model.check_longitude,
    "groups": model.check_groups,
    "languages": model.check_languages,
    "speakers": model.check_speakers,
    "installed": model.check_installed,
    "notes": model.check_notes,
    "heartbeat_s": model.check_heartbeat,
}
_REQUIRED: Final = ("name", "village")


@dataclass(frozen=True)
class _Declared:
    kind: GroupKind
    parent_id: str | None
    line: int


@dataclass(frozen=True)
class _References:
    receiver_id: str
    village: Located | None
    groups: tuple[Located, ...]


class RegistryBuilder:
    """Groups and receivers as a reader finds them, checked as they come."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._declared: dict[str, _Declared] = {}
        self._groups: dict[str, tuple[Group, int]] = {}
        self._receiver_lines: dict[str, int] = {}
        self._receivers: list[Receiver] = []
        self._references: list[_References] = []

    def error(self, line: int | None, problem: str) -> None:
        self.problems.append((line, problem))

    def add_group(
        self,
        line: int,
        group_id: object,
        kind: GroupKind,
        *,
        name: object = None,
        name_line: int | None = None,
        parent_id: str | None = None,
        may_repeat: bool = False,
    ) -> str | None:
        """Declare a group; returns its id when the id is valid (even if the rest is not).

        `line` is where the group is declared (its id), `name_line` where its name is.

        With `may_repeat` (CSV rows name their village again and again) declaring the
        same group twice is fine as long as its kind and parent agree.
        """
        if not is_valid_id(group_id):
            self.error(
                line, f"{model.label(kind)} id {group_id!r} is not valid; expected {ID_RULE}"
            )
            return None
        assert isinstance(group_id, str)  # noqa: S101 - is_valid_id checked it
        earlier = self._declared.get(group_id)
        if earlier is not None:
            self._repeated(line, group_id, kind, parent_id, earlier, may_repeat=may_repeat)
            return group_id
        self._declared[group_id] = _Declared(kind, parent_id, line)
        text = model.readable_name(group_id) if name is None else name
        try:
            checked = model.check_name(text, f"name of {model.label(kind)} {group_id!r}")
        except (ValueError, TypeError) as exc:
            self.error(line if name_line is None else name_line, str(exc))
            return group_id
        try:
            group = Group(group_id, checked, kind, parent_id)
        except ValueError as exc:
            self.error(line, str(exc))
        else:
            self._groups[group_id] = (group, line)
        return group_id

    def declare_broken(self, group_id: object, kind: GroupKind, line: int) -> None:
        """A group the file names but that cannot be built (its parent is broken): its
        problem is reported already, so references to it are not reported again."""
        if is_valid_id(group_id) and group_id not in self._declared:
            assert isinstance(group_id, str)  # noqa: S101 - is_valid_id checked it
            self._declared[group_id] = _Declared(kind, None, line)

    def _repeated(
        self,
        line: int,
        group_id: str,
        kind: GroupKind,
        parent_id: str | None,
        earlier: _Declared,
        *,
        may_repeat: bool,
    ) -> None:
        if not may_repeat or earlier.kind != kind:
            self.error(
                line,
                f"group id {group_id!r} is already the {model.label(earlier.kind)} on line "
                f"{earlier.line}; every province, commune, village and free group needs its "
                "own id",
            )
        elif earlier.parent_id != parent_id:
            self.error(
                line,
                f"{model.label(kind)} {group_id!r} is {_place(earlier.parent_id)} on line "
                f"{earlier.line} but {_place(parent_id)} here; a group has one place in the tree",
            )

    def add_receiver(
        self, line: int, fields: Mapping[str, Located], group_lines: Sequence[int] = ()
    ) -> None:
        """Check one receiver's fields (`fields` holds only the keys the file gives).

        `group_lines` is the line of each id in `groups` when the format knows it.
        """
        receiver_id, unique = self._receiver_id(line, fields.get("id"))
        who = "receiver" if receiver_id is None else f"receiver {receiver_id!r}"
        values, failed = self._check_fields(who, line, fields)
        if receiver_id is None:
            return
        group_ids: tuple[str, ...] = values.get("groups", ())
        groups_line = fields.get("groups", (None, line))[1]
        lines = list(group_lines) if len(group_lines) == len(group_ids) else []
        self._references.append(
            _References(
                receiver_id,
                fields["village"] if "village" in values else None,
                tuple((g, lines[i] if lines else groups_line) for i, g in enumerate(group_ids)),
            )
        )
        if not failed and unique:
            values["village_id"] = values.pop("village")
            self._receivers.append(Receiver(id=receiver_id, **values))

    def _check_fields(
        self, who: str, line: int, fields: Mapping[str, Located]
    ) -> tuple[dict[str, Any], bool]:
        """The checked values, and whether any field failed (each failure is reported)."""
        values: dict[str, Any] = {}
        failed = False
        for key, check in _FIELD_CHECKS.items():
            if key not in fields:
                continue
            value, value_line = fields[key]
            try:
                values[key] = check(value)
            except (ValueError, TypeError) as exc:
                self.error(value_line, f"{who}: {exc}")
                failed = True
        for key in _REQUIRED:
            if key not in fields:
                self.error(line, f"{who} has no {key}; add `{key}`")
                failed = True
        coordinates_ok = all(key not in fields or key in values for key in ("lat", "lon"))
        if coordinates_ok and ("lat" in values or "lon" in values):
            try:
                model.check_position(values.get("lat"), values.get("lon"))
            except ValueError as exc:
                self.error(fields.get("lat", fields.get("lon", (None, line)))[1], f"{who}: {exc}")
                failed = True
        return values, failed

    def _receiver_id(self, line: int, located: Located | None) -> tuple[str | None, bool]:
        """The receiver's id if valid, and whether it is the first receiver with that id."""
        if located is None:
            self.error(line, "a receiver has no id; add `id` (like `id: tl-na-vuong-1`)")
            return None, False
        value, value_line = located
        if not is_valid_id(value):
            self.error(value_line, f"receiver id {value!r} is not valid; expected {ID_RULE}")
            return None, False
        assert isinstance(value, str)  # noqa: S101 - is_valid_id checked it
        first = self._receiver_lines.get(value)
        if first is not None:
            self.error(
                value_line,
                f"receiver id {value!r} appears twice (lines {first} and {value_line}); "
                "give each receiver its own id",
            )
            return value, False
        self._receiver_lines[value] = value_line
        return value, True

    def finish(self) -> tuple[Registry, list[Problem]]:
        """The registry, and every problem found (sorted by line): use it only if none."""
        groups = {group_id: group for group_id, (group, _) in self._groups.items()}
        for group, line in self._groups.values():
            parent = groups.get(group.parent_id or "")
            if self._declared_but_broken(group.parent_id):
                continue
            problem = model.parent_problem(group, parent)
            if problem is not None:
                self.error(line, problem)
        for refs in self._references:
            if refs.village is not None and not self._declared_but_broken(refs.village[0]):
                village_id, village_line = refs.village
                problem = model.village_problem(
                    refs.receiver_id, village_id, groups.get(village_id)
                )
                if problem is not None:
                    self.error(village_line, problem + _suggest(village_id, groups, "village"))
            for group_id, group_line in refs.groups:
                if self._declared_but_broken(group_id):
                    continue
                problem = model.membership_problem(refs.receiver_id, group_id, groups.get(group_id))
                if problem is not None:
                    self.error(group_line, problem + _suggest(group_id, groups, "free"))
        problems = sorted(self.problems, key=lambda problem: problem[0] or 0)
        registry = Registry(tuple(groups.values()), tuple(self._receivers))
        return registry, problems

    def _declared_but_broken(self, group_id: str | None) -> bool:
        """A group declared with an error was reported already: do not report it again."""
        return group_id in self._declared and group_id not in self._groups


def _suggest(group_id: str, groups: Mapping[str, Group], kind: GroupKind) -> str:
    """A hint for an unknown group id: the closest known one of `kind`."""
    if group_id in groups:
        return ""
    known = [g.id for g in groups.values() if g.kind == kind]
    close = difflib.get_close_matches(group_id, known, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; check the spelling, or declare the {model.label(kind)} in the file"


def _place(parent_id: str | None) -> str:
    return "at the top" if parent_id is None else f"under {parent_id!r}"
