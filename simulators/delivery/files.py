"""The simulated flash of a receiver: small JSON files written atomically.

A receiver keeps a few things across reboots (command ids it has seen, its
occurrences, its group assignment). Each lives in one small JSON file in the
receiver's own folder, written to a temporary file beside it and renamed into
place, so a power cut mid-write leaves the old file or the new one, never half
of one. A file that cannot be read back (damaged flash, a format from another
version) is logged and treated as absent: a receiver must boot whatever its
flash holds. Files are made only when there is something to keep, so thousands
of idle simulated receivers make none.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def write_json(path: Path, body: dict[str, Any]) -> None:
    """Write `body` (plus the format version) to `path` atomically, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    data = json.dumps({"version": FORMAT_VERSION, **body}, separators=(",", ":"))
    temporary.write_text(data, encoding="utf-8")
    temporary.replace(path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The object stored at `path`, or None when there is none or it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("%s: cannot read it (%s); starting without it", path, exc)
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        log.warning("%s: not JSON (%s); starting without it", path, exc)
        return None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        log.warning("%s: not a version %d file; starting without it", path, FORMAT_VERSION)
        return None
    return data


def remove(path: Path) -> None:
    """Delete `path` if it exists (a file nobody needs any more)."""
    path.unlink(missing_ok=True)
