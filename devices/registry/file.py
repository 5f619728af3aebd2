"""Read a registry file, YAML (`.yaml`, `.yml`) or CSV (`.csv`), reporting every problem.

`read_registry(path)` returns the groups and receivers, or raises
`RegistryFileError` listing every problem of the file as `FILE:LINE: problem`
lines: duplicates, bad ids, bad coordinates, unknown villages or groups, wrong
types and unknown keys or columns. The formats are described in
`devices.registry.yaml_file` and `devices.registry.csv_file`, with worked
examples in `docs/examples/registry.yaml` and `docs/examples/registry.csv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final, Literal

from devices.registry.builder import Problem, RegistryBuilder
from devices.registry.csv_file import dump_csv, fill_from_csv
from devices.registry.model import Registry, RegistryError
from devices.registry.yaml_file import dump_yaml, fill_from_yaml

FileFormat = Literal["yaml", "csv"]
FORMATS: Final[dict[str, FileFormat]] = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}
_READERS: Final[dict[FileFormat, Callable[[str, RegistryBuilder], None]]] = {
    "yaml": fill_from_yaml,
    "csv": fill_from_csv,
}


class RegistryFileError(RegistryError):
    """A registry file has problems; `errors` holds every one as (line or None, problem).

    `str()` gives one `FILE:LINE: problem` line per problem, in line order.
    """

    def __init__(self, source: str, errors: Iterable[Problem]) -> None:
        self.source = source
        self.errors: list[tuple[int | None, str]] = sorted(errors, key=lambda e: e[0] or 0)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [
            f"{self.source}: {problem}" if line is None else f"{self.source}:{line}: {problem}"
            for line, problem in self.errors
        ]


def file_format(path: Path) -> FileFormat:
    """The format of a registry file, from its extension."""
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise RegistryFileError(
            str(path),
            [
                (
                    None,
                    f"cannot tell the format from {path.suffix or 'no extension'!r}; "
                    "a registry file ends in .yaml, .yml or .csv",
                )
            ],
        )
    return found


def read_registry(path: Path) -> Registry:
    """The registry in the file at `path`; `RegistryFileError` lists every problem."""
    source = str(path)
    fmt = file_format(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise RegistryFileError(source, [(None, "file not found; check the path")]) from exc
    except IsADirectoryError as exc:
        raise RegistryFileError(source, [(None, "is a folder, not a registry file")]) from exc
    except OSError as exc:
        raise RegistryFileError(source, [(None, f"cannot read it: {exc.strerror}")]) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RegistryFileError(
            source,
            [(line, 'not UTF-8 text; save the file as UTF-8 ("CSV UTF-8" in Excel)')],
        ) from exc
    return parse_registry(text, source, fmt)


def parse_registry(text: str, source: str, fmt: FileFormat) -> Registry:
    """The registry in `text` (`source` names it in errors)."""
    builder = RegistryBuilder()
    _READERS[fmt](text, builder)
    registry, problems = builder.finish()
    if problems:
        raise RegistryFileError(source, problems)
    return registry


def format_registry(registry: Registry, fmt: FileFormat) -> str:
    """The registry as the text of a registry file (CSV keeps no group names)."""
    return dump_yaml(registry) if fmt == "yaml" else dump_csv(registry)
