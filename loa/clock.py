"""The clock seam: state machines and back-off take a `Clock`, tests pass a fake."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What Loa asks of time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards, for intervals."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


def utc_iso(instant: datetime) -> str:
    """An instant as the wire writes it: ISO 8601 in UTC with a `Z`, millisecond precision."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: Loa only writes timezone-aware instants")
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
