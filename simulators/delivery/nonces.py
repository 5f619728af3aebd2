"""The command ids a receiver has seen: the nonces that make a replayed command `replayed`.

Every command carries a random id, never reused, and an expiry. A receiver
acts on an id once: it remembers each id it acted on (or refused) until the
command expires, plus a margin (its clock may be corrected backwards after a
time sync, and a command may be `issued` up to 5 minutes ahead), and forgets
it then: an expired command is refused as `expired` anyway. The memory is kept
in the receiver's flash (`nonces.json` in its folder) so a reboot does not open
a window for replays; the file exists only while there are ids to remember.
(Paths are made when used: thousands of receivers hold only their folder.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulators.delivery.files import read_json, remove, write_json

#: Ids are kept this long after their command expired.
DEFAULT_MARGIN = timedelta(minutes=10)
FILE_NAME = "nonces.json"


class NonceMemory:
    """Seen command ids and when each may be forgotten, persisted in `folder`."""

    __slots__ = ("_ids", "folder", "margin")

    def __init__(self, folder: Path, *, margin: timedelta = DEFAULT_MARGIN) -> None:
        self.folder = folder
        self.margin = margin
        #: command id -> forget after this instant, in ms since the Unix epoch.
        self._ids: dict[str, int] = {}
        stored = read_json(self.path)
        if stored is not None:
            ids = stored.get("ids")
            if isinstance(ids, dict):
                self._ids = {
                    str(key): value
                    for key, value in ids.items()
                    if isinstance(value, int) and not isinstance(value, bool)
                }

    @property
    def path(self) -> Path:
        return self.folder / FILE_NAME

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, command_id: object) -> bool:
        return command_id in self._ids

    def seen(self, command_id: str) -> bool:
        """Whether `command_id` was remembered (the `seen` of `open_command`)."""
        return command_id in self._ids

    def remember(self, command_id: str, expires: datetime, now: datetime) -> None:
        """Remember `command_id` until `expires` plus the margin; forget the ids past theirs."""
        self._ids[command_id] = _ms(expires + self.margin)
        self.prune(now, save=False)
        self._save()

    def prune(self, now: datetime, *, save: bool = True) -> int:
        """Forget the ids whose time is past `now`; how many were forgotten."""
        limit = _ms(now)
        old = [key for key, until in self._ids.items() if until < limit]
        for key in old:
            del self._ids[key]
        if old and save:
            self._save()
        return len(old)

    def _save(self) -> None:
        if self._ids:
            write_json(self.path, {"ids": self._ids})
        else:
            remove(self.path)


def _ms(instant: datetime) -> int:
    return round((instant - _EPOCH).total_seconds() * 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
