"""Schedule files: YAML, one list under `schedules:` per file, or a folder of `*.yaml` files.

```yaml
schedules:
  - id: ban-tin-sang
    title: Chương trình phát thanh buổi sáng
    when: {daily: ["06:00", "17:00"], from: 2026-12-01}    # see schedules.file_when
    targets: tra-linh                   # as `loa bulletin send --to`: all, ids, comma-separated
    contents: {vi: 3fa2b1c9d0}          # language -> stored content id (or its first characters)
    text: {tay: "..."}                  # language -> text read aloud; contents or text or both
    priority: normal                    # emergency, live, priority, normal, background
    duration_s: 900                     # optional
    lead_s: 900                         # pre-delivery before air time (default 900)
    expires_after_s: 3600               # default 3600
    enabled: true
    volume: 80                          # 0-100, optional
    repeat: 1                           # 1-10
    chime: before                       # none, before, after, both
```

`read_schedules(path)` returns every schedule or raises `ScheduleFileError` listing every
problem of every file as `FILE:LINE: problem` (unknown keys with a "did you mean", keys
given twice, bad values, schedule ids used twice, in one file or across a folder): a file
with any problem yields nothing, so a typo never applies half a calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import yaml

from loa.yaml_reader import FileProblems, Problem, YamlReader, line_of, scalar
from schedules.file_when import WhenReader, mapping
from schedules.model import FIELD_CHECKS, Schedule, ScheduleError, check_languages

__all__ = ["SCHEDULE_KEYS", "ScheduleFileError", "parse_schedules", "read_schedules"]

SCHEDULE_KEYS: Final = tuple(FIELD_CHECKS)
_REQUIRED: Final = ("id", "title", "when", "targets")
#: Keys whose values are text as written (never YAML 1.1 booleans or numbers).
_TEXT_KEYS: Final = ("id", "title", "targets", "priority", "chime")
_SUFFIXES: Final = (".yaml", ".yml")


class ScheduleFileError(FileProblems):
    """Schedule files with problems; `problems` holds every one, in file and line order."""


def read_schedules(path: Path) -> list[Schedule]:
    """The schedules of a file, or of every `*.yaml`/`*.yml` file of a folder (by name).

    Raises `ScheduleFileError` with every problem found; returns nothing partial.
    """
    source = str(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
        if not files:
            raise ScheduleFileError([(source, None, "holds no *.yaml schedule files")])
    elif path.exists():
        files = [path]
    else:
        raise ScheduleFileError([(source, None, "not found; check the path")])
    texts: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for file in files:
        try:
            texts.append((str(file), file.read_bytes().decode("utf-8-sig")))
        except UnicodeDecodeError:
            problems.append((str(file), None, "not UTF-8 text; save the file as UTF-8"))
        except OSError as exc:
            problems.append((str(file), None, f"cannot read it: {exc.strerror}"))
    if problems:
        raise ScheduleFileError(problems)
    return parse_schedules(texts)


def parse_schedules(texts: Iterable[tuple[str, str]]) -> list[Schedule]:
    """The schedules in (source, YAML text) pairs, read as one calendar (ids unique)."""
    reader = _Reader()
    for source, text in texts:
        reader.read_file(source, text)
    if reader.problems:
        raise ScheduleFileError(reader.problems)
    return reader.schedules


class _Reader(YamlReader):
    def __init__(self) -> None:
        super().__init__()
        self.schedules: list[Schedule] = []
        self.ids: dict[str, tuple[str, int]] = {}

    def read_file(self, source: str, text: str) -> None:
        self.source = source
        root = self.compose(text, "start it with `schedules:` and a list")
        if root is None:
            return
        top = mapping(root, "a schedule file", ("schedules",), self.error)
        if top is None:
            return
        items = top.get("schedules")
        if items is None:
            self.error(line_of(root), "the file has no `schedules:` list")
        elif isinstance(items, yaml.SequenceNode):
            for node in items.value:
                self.schedule(node)
        elif not (isinstance(items, yaml.ScalarNode) and scalar(items) is None):
            self.error(line_of(items), "`schedules` must be a list (items start with `- `)")

    def schedule(self, node: yaml.Node) -> None:
        before = len(self.problems)
        keys = mapping(node, "a schedule", SCHEDULE_KEYS, self.error)
        if keys is None:
            return
        name = scalar(keys["id"]) if "id" in keys else None
        who = "schedule" if name is None else f"schedule {name!r}"
        for key in _REQUIRED:
            if key not in keys:
                self.error(line_of(node), f"{who} has no {key}; add `{key}:`")
        values: dict[str, Any] = {}
        for key, value_node in keys.items():
            if key == "when":
                when = WhenReader(self.error).read(value_node)
                if when is not None:
                    values[key] = when
                continue
            if key in ("contents", "text") and self.repeated_language(key, value_node, who):
                continue
            try:
                values[key] = FIELD_CHECKS[key](self.value(key, value_node))
            except ScheduleError as exc:
                self.error(self.line(keys, value_node, exc.field), f"{who}: {exc}")
        if "id" in values:
            self.unique(values["id"], line_of(keys["id"]))
        if "contents" in values or "text" in values or len(self.problems) == before:
            try:
                check_languages(values.get("contents", ()), values.get("text", ()))
            except ScheduleError as exc:
                given = [keys[k] for k in ("contents", "text") if k in keys]
                self.error(max(map(line_of, given), default=line_of(node)), f"{who}: {exc}")
        if len(self.problems) == before:
            self.schedules.append(Schedule(**values))

    def repeated_language(self, key: str, node: yaml.Node, who: str) -> bool:
        """Whether a language is given twice in `contents` or `text` (reported)."""
        if not isinstance(node, yaml.MappingNode):
            return False
        seen: dict[str | None, int] = {}
        for key_node, _ in node.value:
            language, line = scalar(key_node), line_of(key_node)
            if language in seen:
                self.error(
                    line,
                    f"{who}: {key}: language {language!r} appears twice (lines "
                    f"{seen[language]} and {line}); keep one",
                )
                return True
            seen[language] = line
        return False

    def unique(self, schedule_id: str, line: int) -> None:
        earlier = self.ids.get(schedule_id)
        if earlier is None:
            self.ids[schedule_id] = (self.source, line)
            return
        where = f"line {earlier[1]}" if earlier[0] == self.source else f"{earlier[0]}:{earlier[1]}"
        self.error(
            line,
            f"schedule id {schedule_id!r} is already used at {where}; "
            "give each schedule its own id",
        )

    def value(self, key: str, node: yaml.Node) -> Any:
        """Text keys as written; language maps as {code: text}; others as YAML builds them."""
        if key in _TEXT_KEYS:
            return scalar(node) if isinstance(node, yaml.ScalarNode) else self.build(node)
        if key in ("contents", "text") and isinstance(node, yaml.MappingNode):
            return {
                scalar(k) if isinstance(k, yaml.ScalarNode) else self.build(k): (
                    scalar(v) if isinstance(v, yaml.ScalarNode) else self.build(v)
                )
                for k, v in node.value
            }
        return self.build(node)

    @staticmethod
    def line(keys: dict[str, yaml.Node], node: yaml.Node, field: str) -> int:
        """The line of a field inside a language map (`contents.vi`), else of the value."""
        head, _, language = field.partition(".")
        parent = keys.get(head)
        if language and isinstance(parent, yaml.MappingNode):
            for key_node, value_node in parent.value:
                if scalar(key_node) == language:
                    return line_of(value_node)
        return line_of(node)
