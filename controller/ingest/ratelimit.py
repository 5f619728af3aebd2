"""Logging that cannot be flooded: one line per kind of problem per interval, with a count."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field


@dataclass
class RateLimitedLog:
    """Logs a warning for `key` at most once every `every` seconds, counting the rest."""

    logger: logging.Logger
    every: float = 60.0
    _last: dict[str, float] = field(default_factory=dict)
    _suppressed: dict[str, int] = field(default_factory=dict)

    def warning(self, key: str, now: float, message: str, *args: object) -> bool:
        """Log unless `key` was logged less than `every` seconds ago; True if it logged."""
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += " (and %d more like it in the last %.0f s)"
            args = (*args, suppressed, now - (last or now))
        self.logger.warning(message, *args)
        self._last[key] = now
        return True
