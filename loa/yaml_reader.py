"""What Loa's YAML file readers share (schedule files, scenario files).

Both read a file as PyYAML's node tree, so every value keeps its line, and report every
problem at once as `(source, line, text)` instead of stopping at the first:

- `YamlReader` collects the problems (`error`), composes the text (`compose`, a YAML
  syntax error is a problem at its line) and builds a node's Python value (`build`);
- `FileProblems` is the error a reader raises with them, sorted by file and line;
- `line_of` and `scalar` read a node's line and its text as written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import yaml
from yaml.constructor import SafeConstructor

from loa.errors import LoaError

__all__ = ["LOADER", "FileProblems", "Problem", "YamlReader", "line_of", "scalar"]

#: libyaml's loader when PyYAML was built with it: composing is ~5x faster (5,000 schedules:
#: 0.56 s instead of 2.7 s) and its nodes carry the same line marks.
LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL: Final = "tag:yaml.org,2002:null"

#: A problem: the file, its line (None: the whole file), and what is wrong.
Problem = tuple[str, int | None, str]


class FileProblems(LoaError):
    """Files with problems; `problems` holds every one, in file and line order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p[0], p[1] or 0))
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [
            f"{source}: {problem}" if line is None else f"{source}:{line}: {problem}"
            for source, line, problem in self.problems
        ]


class YamlReader:
    """Reads YAML from `source`; every problem goes to `problems` and reading goes on."""

    def __init__(self, source: str = "") -> None:
        self.source = source
        self.problems: list[Problem] = []
        self._constructor = SafeConstructor()

    def error(self, line: int | None, problem: str) -> None:
        self.problems.append((self.source, line, problem))

    def compose(self, text: str, empty: str) -> yaml.Node | None:
        """The text's node tree, or None after a problem (`empty` says what an empty file
        should start with)."""
        try:
            root = yaml.compose(text, Loader=LOADER)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "syntax error"
            self.error(None if mark is None else mark.line + 1, f"not valid YAML: {problem}")
            return None
        except yaml.YAMLError as exc:
            self.error(None, f"not valid YAML: {exc}")
            return None
        if root is None:
            self.error(None, f"the file is empty; {empty}")
        return root

    def build(self, node: yaml.Node) -> Any:
        """The node's Python value (YAML 1.1 rules); a scalar that cannot be built is its
        text, anything else None."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError):
            return node.value if isinstance(node, yaml.ScalarNode) else None


def line_of(node: yaml.Node) -> int:
    """The node's line, counted from 1."""
    return int(node.start_mark.line) + 1


def scalar(node: yaml.Node) -> str | None:
    """A scalar's text exactly as written (None for an empty value or a non-scalar)."""
    if not isinstance(node, yaml.ScalarNode) or (node.tag == _NULL and node.style is None):
        return None
    return str(node.value).strip()
