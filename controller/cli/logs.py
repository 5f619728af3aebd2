"""Logging for the `loa` program: one line per record, times in the operator's zone.

Times carry their UTC offset (`2026-11-29 06:45:39.120+07:00`), so a log line
is unambiguous when read next to UTC times from the wire.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

#: uvicorn logs its ordinary news ("Started server process") as `uvicorn.error`, which
#: reads like a failure in an operator's log; shown as `uvicorn`.
_RENAMED = {"uvicorn.error": "uvicorn"}


class ZoneFormatter(logging.Formatter):
    def __init__(self, zone: str) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self._zone = ZoneInfo(zone)

    def format(self, record: logging.LogRecord) -> str:
        renamed = _RENAMED.get(record.name)
        if renamed is None:
            return super().format(record)
        original, record.name = record.name, renamed
        try:
            return super().format(record)
        finally:
            record.name = original

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        instant = datetime.fromtimestamp(record.created, self._zone)
        return instant.isoformat(sep=" ", timespec="milliseconds")


def setup_logging(level: str, zone: str = "Asia/Ho_Chi_Minh") -> None:
    """Send records at `level` and above to stderr (replaces earlier set-up)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ZoneFormatter(zone))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log every packet or query at DEBUG stay at INFO: --debug is for Loa.
    quiet = max(logging.getLevelNamesMapping()[level], logging.INFO)
    for name in ("mqtt", "aiosqlite", "asyncio"):
        logging.getLogger(name).setLevel(quiet)
    # Alembic narrates every migration context at INFO; the store logs what changed.
    logging.getLogger("alembic").setLevel(max(quiet, logging.WARNING))
    # SQLAlchemy echoes every statement at INFO: only its warnings are wanted here.
    logging.getLogger("sqlalchemy").setLevel(max(quiet, logging.WARNING))
    # uvicorn's start and stop lines are enough; `loa serve` logs the address itself.
    logging.getLogger("uvicorn").setLevel(max(quiet, logging.WARNING))
