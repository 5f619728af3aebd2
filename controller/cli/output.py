"""Printing results for people (text) and for programs (`--json`)."""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml


def emit_json(data: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def emit_text(text: str) -> None:
    """Text for people on stdout, flushed at once (it may be a pipe to another program)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def as_yaml(data: Any) -> str:
    """Nested settings as readable YAML."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
