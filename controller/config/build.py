"""Build frozen config dataclasses from plain data, strictly.

Rules, so that a typo never passes silently:

- an unknown key is an error, with the closest known key suggested;
- a value must have the field's type (`"18830"` is not a port, `yes` is not a
  string); YAML's `null` is accepted only where the field allows None;
- a field's `check` (from its metadata) runs after the type is right;
- an environment variable named in a field's metadata overrides the file; its
  text is parsed to the field's type and errors name the variable.

Supported field types: bool, int, float, str, Path, Literal[...], a nested
config dataclass, `tuple[X, ...]` (a YAML list) and `dict[str, X]` (a YAML
mapping) of the plain types, and `X | None` of these.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

from loa.errors import ConfigError

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass
class BuildContext:
    """Where values come from: the file's name and lines, and the environment."""

    source: str
    lines: Mapping[str, int]
    environ: Mapping[str, str]
    env_overrides: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def error(self, key: str, problem: str) -> ConfigError:
        """An error about `key`, naming the environment variable when one set it."""
        for overridden, env in self.env_overrides:
            if overridden == key:
                return ConfigError(problem, source="environment", key=f"{env} (overrides {key})")
        return ConfigError(problem, source=self.source, key=key, line=self._line(key))

    def _line(self, key: str) -> int | None:
        key = key.split("[", 1)[0]  # a list item's error points at its list's line
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0]
        return None


def build(cls: type[T], data: Any, ctx: BuildContext, prefix: str = "") -> T:
    """Build the config dataclass `cls` from `data` (a mapping, or None for all defaults)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ctx.error(prefix.rstrip("."), f"expected a mapping of keys, got {_show(data)}")
    # Keys are the fields declared with `setting()`; others (like `Config.source`) are not.
    fields = {f.name: f for f in dataclasses.fields(cls) if "check" in f.metadata}  # type: ignore[arg-type]
    for key in data:
        if key not in fields:
            raise ctx.error(f"{prefix}{key}", _unknown_key(str(key), list(fields)))
    values: dict[str, Any] = {}
    hints = _hints(cls)
    for name, field in fields.items():
        key = f"{prefix}{name}"
        hint = hints[name]
        env = field.metadata.get("env")
        if env and env in ctx.environ:
            ctx.env_overrides.append((key, env))
            value = _from_env(env, ctx.environ[env], hint, key, ctx)
        elif name in data:
            value = _convert(data[name], hint, key, ctx)
        elif dataclasses.is_dataclass(_split_optional(hint)[1]):
            # Build absent sections too, so their environment overrides apply.
            section: type[Any] = _split_optional(hint)[1]
            value = build(section, {}, ctx, f"{key}.")
        else:
            continue
        check = field.metadata.get("check")
        if check is not None and value is not None:
            expected = check(value)
            if expected is not None:
                raise ctx.error(key, f"{_show(value)} is not valid; expected {expected}")
        values[name] = value
    return cls(**values)


def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(value: Any, hint: Any, key: str, ctx: BuildContext) -> Any:  # noqa: PLR0911 - one return per type
    optional, inner = _split_optional(hint)
    if value is None:
        if optional:
            return None
        raise ctx.error(key, f"a value is required here; expected {_describe(inner)}")
    if isinstance(inner, type) and dataclasses.is_dataclass(inner):
        return build(inner, value, ctx, f"{key}.")
    if _is_literal(inner):
        allowed = typing.get_args(inner)
        if value in allowed and isinstance(value, str):
            return value
        raise ctx.error(key, f"{_show(value)} is not valid; expected {_describe(inner)}")
    if typing.get_origin(inner) is tuple:
        return _convert_list(value, inner, key, ctx)
    if typing.get_origin(inner) is dict:
        return _convert_mapping(value, inner, key, ctx)
    ok = (
        (inner is bool and isinstance(value, bool))
        or (inner is int and isinstance(value, int) and not isinstance(value, bool))
        or (inner is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (inner in (str, Path) and isinstance(value, str))
    )
    if not ok:
        hint_text = " (put it in quotes)" if inner in (str, Path) else ""
        raise ctx.error(key, f"{_show(value)} is not valid; expected {_describe(inner)}{hint_text}")
    if inner is float:
        return float(value)
    if inner is Path:
        if not value.strip():
            raise ctx.error(key, "an empty path is not valid; expected a file or folder path")
        return Path(value).expanduser()
    return value


def _convert_list(value: Any, hint: Any, key: str, ctx: BuildContext) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ctx.error(key, f"{_show(value)} is not valid; expected {_describe(hint)}")
    item = typing.get_args(hint)[0]
    return tuple(_convert(v, item, f"{key}[{i}]", ctx) for i, v in enumerate(value))


def _convert_mapping(value: Any, hint: Any, key: str, ctx: BuildContext) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ctx.error(key, f"{_show(value)} is not valid; expected {_describe(hint)}")
    item = typing.get_args(hint)[1]
    converted: dict[str, Any] = {}
    for name, v in value.items():
        if not isinstance(name, str) or not name:
            raise ctx.error(key, f"the key {name!r} is not valid; expected a text key")
        converted[name] = _convert(v, item, f"{key}.{name}", ctx)
    return converted


def _from_env(env: str, text: str, hint: Any, key: str, ctx: BuildContext) -> Any:  # noqa: PLR0911 - one return per type
    optional, inner = _split_optional(hint)
    if text == "" and optional:
        return None
    try:
        if inner is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(text)
        if inner is int:
            return int(text)
        if inner is float:
            return float(text)
        if inner is Path:
            return Path(text).expanduser()
        if _is_literal(inner):
            if text in typing.get_args(inner):
                return text
            raise ValueError(text)
    except ValueError as exc:
        raise ctx.error(key, f"{text!r} is not valid; expected {_describe(inner)}") from exc
    return text


def _split_optional(hint: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return True, args[0]
    return False, hint


def _is_literal(hint: Any) -> bool:
    return typing.get_origin(hint) is Literal


def _describe(hint: Any) -> str:
    if _is_literal(hint):
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    names = {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "a text value",
        Path: "a file or folder path",
    }
    if hint in names:
        return names[hint]
    if dataclasses.is_dataclass(hint):
        return "a mapping of keys"
    if typing.get_origin(hint) is tuple:
        return f"a list of {_plural(typing.get_args(hint)[0])}"
    if typing.get_origin(hint) is dict:
        return f"a mapping of names to {_plural(typing.get_args(hint)[1])}"
    return str(hint)  # pragma: no cover - every supported type is named above


def _plural(hint: Any) -> str:
    return {bool: "true/false values", int: "whole numbers", float: "numbers", str: "texts"}.get(
        hint, "values"
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    suggestion = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{suggestion} (known keys here: {', '.join(sorted(known))})"
