"""Read a YAML config file into plain data plus the line of every key.

PyYAML keeps the last of two equal keys without a word; a config where
`broker.port` appears twice is a mistake an operator wants to hear about, so
keys are checked on the composed node tree before the values are built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from loa.errors import ConfigError


@dataclass(frozen=True)
class YamlDocument:
    """The data of one YAML file and the 1-based line of each dotted key path."""

    data: dict[str, Any]
    lines: dict[str, int]
    source: str


def read_yaml(path: Path) -> YamlDocument:
    """Parse `path`; raise `ConfigError` naming the file (and line) when it cannot be read."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            "config file not found; pass --config PATH or create it from the documented "
            "config.yaml",
            source=source,
        ) from exc
    except IsADirectoryError as exc:
        raise ConfigError("is a folder, not a config file", source=source) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file: {exc}", source=source) from exc
    return parse_yaml(text, source)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse YAML text; `source` names it in errors."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"not valid YAML: {problem}", source=source, line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=source) from exc
    if data is None:
        return YamlDocument(data={}, lines={}, source=source)
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise ConfigError(
            "the config must be a mapping of keys (like `broker:` and `store:`) at the top",
            source=source,
            line=1,
        )
    lines: dict[str, int] = {}
    _collect_lines(node, "", lines, source)
    return YamlDocument(data=data, lines=lines, source=source)


def _collect_lines(node: yaml.MappingNode, prefix: str, lines: dict[str, int], source: str) -> None:
    for key_node, value_node in node.value:
        key = f"{prefix}{key_node.value}"
        line = key_node.start_mark.line + 1
        if key in lines:
            raise ConfigError(
                f"key appears twice (lines {lines[key]} and {line}); keep one",
                source=source,
                key=key,
                line=line,
            )
        lines[key] = line
        if isinstance(value_node, yaml.MappingNode):
            _collect_lines(value_node, f"{key}.", lines, source)
