"""Helpers for the registry file tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.registry import FileFormat, RegistryFileError, parse_registry

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_YAML = ROOT / "docs" / "examples" / "registry.yaml"
EXAMPLE_CSV = ROOT / "docs" / "examples" / "registry.csv"


def problems(text: str, fmt: FileFormat, source: str = "reg") -> list[tuple[int | None, str]]:
    """Every problem the reader reports for `text` (it must report some)."""
    with pytest.raises(RegistryFileError) as caught:
        parse_registry(text, source, fmt)
    return caught.value.errors


def assert_problems(
    found: list[tuple[int | None, str]], expected: list[tuple[int | None, str]]
) -> None:
    """`found` holds exactly the `expected` (line, fragment) pairs, in line order."""
    assert len(found) == len(expected), "\n".join(f"{line}: {text}" for line, text in found)
    for (line, text), (want_line, fragment) in zip(found, expected, strict=True):
        assert line == want_line, (line, text)
        assert fragment in text, (line, text)
