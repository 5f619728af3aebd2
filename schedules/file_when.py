"""The `when:` of a schedule file, as an operator writes it, read into a `When`.

```yaml
when:
  daily: ["06:00", "17:00"]              # or one of:
  # weekly: {days: [mon, thu], at: ["07:30"]}
  # monthly: {nth: 2, day: tue, at: ["08:00"]}      nth: 1-4 or last
  # once: "2026-12-03 19:00"
  # cron: "30 6 * * 1-5"
  from: 2026-12-01                       # required, except for once
  until: 2026-12-14                      # optional, inclusive
  except: [2026-12-07]                   # optional dates to skip
  zone: Asia/Ho_Chi_Minh                 # optional (the default)
```

Weekdays are English three-letter names (mon..sun) or the Vietnamese ones (t2..t7 for
Monday to Saturday, cn for Sunday), in any case. Times and dates are read from the text as
written, never through YAML 1.1's implicit types (which would read `06:00` as 360).

`WhenReader.read(node)` returns the `When` or None; every problem goes to `error(line, text)`
with the line of the value that is wrong, so one file reports all its problems at once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from datetime import date, time
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from loa.yaml_reader import line_of, scalar
from schedules.errors import RecurrenceError
from schedules.recurrence import Cron, Daily, MonthlyNth, Once, Recurrence, Weekly, parse_date
from schedules.recurrence import parse_time as _parse_time
from schedules.when import DEFAULT_ZONE, When

__all__ = ["KINDS", "WEEKDAYS", "WhenReader", "line_of", "unknown_key"]

KINDS: Final = ("daily", "weekly", "monthly", "once", "cron")
WHEN_KEYS: Final = (*KINDS, "from", "until", "except", "zone")
WEEKLY_KEYS: Final = ("days", "at")
MONTHLY_KEYS: Final = ("nth", "day", "at")
#: Weekday names to Python weekdays (0 = Monday): English, then Vietnamese (thứ hai = t2).
WEEKDAYS: Final[dict[str, int]] = {
    **{name: n for n, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{f"t{n + 2}": n for n in range(6)},
    "cn": 6,
}
_DAY_RULE: Final = "a weekday mon, tue, wed, thu, fri, sat, sun (or t2..t7, cn)"
_NTH: Final[dict[str, int]] = {"1": 1, "2": 2, "3": 3, "4": 4, "last": -1, "-1": -1}
_ONE_DIGIT_HOUR: Final = re.compile(r"^(\d:\d\d)")

Report = Callable[[int, str], None]


def parse_time(text: str, field: str) -> time:
    """A time of day; `7:30` is read as `07:30`, as people write it."""
    return _parse_time(_ONE_DIGIT_HOUR.sub(r"0\1", text.strip()), field)


def unknown_key(key: str, what: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
    return f"unknown key {key!r} in {what}; {hint}"


def mapping(
    node: yaml.Node, what: str, allowed: Sequence[str], error: Report
) -> dict[str, yaml.Node] | None:
    """The value nodes of a mapping by key; unknown and repeated keys are reported."""
    if not isinstance(node, yaml.MappingNode):
        error(line_of(node), f"{what} must be a mapping of keys ({', '.join(allowed)})")
        return None
    found: dict[str, yaml.Node] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
        line = line_of(key_node)
        if key in lines:
            error(
                line,
                f"key {key!r} appears twice in {what} (lines {lines[key]} and {line}); keep one",
            )
            continue
        lines[key] = line
        if key not in allowed:
            error(line, unknown_key(key, what, allowed))
            continue
        found[key] = value_node
    return found


def text_list(node: yaml.Node) -> list[tuple[str | None, yaml.Node]]:
    """A list of scalars with their nodes; a single scalar may stand alone."""
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    return [(scalar(item), item) for item in items]


class WhenReader:
    """Reads one `when:` mapping; see the module docstring."""

    def __init__(self, error: Report) -> None:
        self.error = error
        self.failed = False

    def fail(self, node: yaml.Node, problem: str) -> None:
        self.failed = True
        self.error(line_of(node), problem)

    def read(self, node: yaml.Node) -> When | None:
        keys = mapping(node, "when", WHEN_KEYS, self.fail_at)
        if keys is None:
            return None
        kinds = [kind for kind in KINDS if kind in keys]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            self.fail(node, f"when needs exactly one of {', '.join(KINDS)} (found {found})")
        recurrence = self.recurrence(kinds[0], keys[kinds[0]]) if len(kinds) == 1 else None
        start = self.day(keys["from"], "when.from") if "from" in keys else None
        until = self.day(keys["until"], "when.until") if "until" in keys else None
        exceptions = self.dates(keys["except"]) if "except" in keys else []
        zone = DEFAULT_ZONE
        if "zone" in keys:
            zone = self.zone(keys["zone"])
        if isinstance(recurrence, Once) and start is None:
            start = recurrence.on
        if start is None and "from" not in keys and recurrence is not None:
            self.fail(node, "when has no from; add `from: YYYY-MM-DD`, the first day it plays")
        if self.failed or recurrence is None or start is None:
            return None
        try:
            return When(recurrence, start, until, frozenset(exceptions), zone)
        except RecurrenceError as exc:
            where = {"when.zone": "zone", "when.until": "until", "once.on": "once"}
            self.fail(keys.get(where.get(exc.field, ""), node), f"when: {exc}")
            return None

    def fail_at(self, line: int, problem: str) -> None:
        self.failed = True
        self.error(line, problem)

    def recurrence(self, kind: str, node: yaml.Node) -> Recurrence | None:
        try:
            if kind == "daily":
                times = self.times(node, "daily")
                return None if times is None else Daily(times)
            if kind == "weekly":
                return self.weekly(node)
            if kind == "monthly":
                return self.monthly(node)
            if kind == "once":
                return self.once(node)
            expression = scalar(node)
            return Cron(expression if expression is not None else "")
        except RecurrenceError as exc:
            self.fail(node, f"when.{exc}")
            return None

    def weekly(self, node: yaml.Node) -> Weekly | None:
        keys = mapping(node, "when.weekly", WEEKLY_KEYS, self.fail_at)
        if keys is None:
            return None
        days = self.weekdays(keys["days"], "when.weekly.days") if "days" in keys else None
        times = self.times(keys["at"], "weekly.at") if "at" in keys else None
        for key in WEEKLY_KEYS:
            if key not in keys:
                self.fail(
                    node, f"when.weekly has no {key}; write {{days: [mon, thu], at: ['07:30']}}"
                )
        if days is None or times is None:
            return None
        return Weekly(days, times)

    def monthly(self, node: yaml.Node) -> MonthlyNth | None:
        keys = mapping(node, "when.monthly", MONTHLY_KEYS, self.fail_at)
        if keys is None:
            return None
        for key in MONTHLY_KEYS:
            if key not in keys:
                self.fail(
                    node, f"when.monthly has no {key}; write {{nth: 2, day: tue, at: ['08:00']}}"
                )
        nth = day = times = None
        if "nth" in keys:
            nth = _NTH.get((scalar(keys["nth"]) or "").lower())
            if nth is None:
                self.fail(
                    keys["nth"],
                    f"when.monthly.nth: {scalar(keys['nth'])!r} is not 1, 2, 3, 4 or last",
                )
        if "day" in keys:
            found = self.weekdays(keys["day"], "when.monthly.day")
            if found is not None and len(found) != 1:
                self.fail(keys["day"], "when.monthly.day: give one weekday, like tue")
            day = found[0] if found else None
        if "at" in keys:
            times = self.times(keys["at"], "monthly.at")
        if nth is None or day is None or times is None:
            return None
        return MonthlyNth(nth, day, times)

    def once(self, node: yaml.Node) -> Once | None:
        text = scalar(node) or ""
        parts = text.replace("T", " ").split()
        if len(parts) != 2:
            self.fail(
                node, f"when.once: {text!r} is not a local date and time like '2026-12-03 19:00'"
            )
            return None
        return Once(parse_date(parts[0], "when.once"), parse_time(parts[1], "when.once"))

    def times(self, node: yaml.Node, field: str) -> tuple[time, ...] | None:
        found: list[time] = []
        for text, item in text_list(node):
            try:
                found.append(parse_time(text or "", f"when.{field}"))
            except RecurrenceError as exc:
                self.fail(item, str(exc))
        return None if len(found) != len(text_list(node)) else tuple(found)

    def weekdays(self, node: yaml.Node, field: str) -> tuple[int, ...] | None:
        found: list[int] = []
        for text, item in text_list(node):
            day = WEEKDAYS.get((text or "").lower())
            if day is None:
                close = difflib.get_close_matches((text or "").lower(), WEEKDAYS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.fail(item, f"{field}: {text!r} is not {_DAY_RULE}{hint}")
            else:
                found.append(day)
        return None if len(found) != len(text_list(node)) else tuple(found)

    def zone(self, node: yaml.Node) -> str:
        """The zone name, checked on its own so that it is reported beside other problems."""
        name = scalar(node) or ""
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(
                node,
                f"when.zone: {name!r} is not a time zone; expected an IANA name such as "
                "Asia/Ho_Chi_Minh or Europe/Prague",
            )
        return name

    def day(self, node: yaml.Node, field: str) -> date | None:
        try:
            return parse_date(scalar(node) or "", field)
        except RecurrenceError as exc:
            self.fail(node, str(exc))
            return None

    def dates(self, node: yaml.Node) -> list[date]:
        return [
            day for _, item in text_list(node) if (day := self.day(item, "when.except")) is not None
        ]
