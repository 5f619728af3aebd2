"""The receivers' session epochs: a counter per receiver that never repeats (the "flash").

A real receiver keeps its epoch counter in flash and adds one on every boot
and every (re)connection. Here the counters live in memory for the life of the
process; with a state file they also survive a restart of the simulator.

The file is not written on every connection (thousands of receivers
reconnecting would rewrite it thousands of times): like a hi/lo sequence, it
holds for each receiver a ceiling below which epochs may already have been
handed out. A restarted simulator starts every receiver at its ceiling, and
the file is rewritten (atomically) only when a receiver passes its ceiling,
reserving the next `block` epochs. So epochs only grow and never repeat; after
a restart they jump by at most `block`.

    {"version": 1, "ceilings": {"cb-tl-01": 1000, "cb-tl-02": 2000}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from devices.ids import check_id
from loa.errors import ConfigError

FORMAT_VERSION = 1
DEFAULT_BLOCK = 1000


class EpochStore:
    """Next epochs per receiver id; `path=None` keeps them in memory only."""

    def __init__(self, path: Path | None = None, *, block: int = DEFAULT_BLOCK) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self.path = path
        self.block = block
        self._last: dict[str, int] = {}
        self._ceilings: dict[str, int] = {}
        self.writes = 0
        if path is not None and path.exists():
            self._ceilings = _read(path)
            self._last = dict(self._ceilings)

    def last(self, receiver_id: str) -> int | None:
        """The epoch handed out last to `receiver_id` in this process, if any."""
        return self._last.get(receiver_id)

    def reserve(self, receiver_ids: Iterable[str]) -> None:
        """Reserve a block for each id at once: one file write for a whole fleet."""
        changed = False
        for receiver_id in receiver_ids:
            check_id(receiver_id)
            if self._last.get(receiver_id, 0) >= self._ceilings.get(receiver_id, 0):
                self._ceilings[receiver_id] = self._last.get(receiver_id, 0) + self.block
                changed = True
        if changed:
            self._save()

    def next(self, receiver_id: str) -> int:
        """A new epoch for `receiver_id`, greater than every epoch it had before."""
        epoch = self._last.get(receiver_id, 0) + 1
        self._last[receiver_id] = epoch
        if self.path is not None and epoch > self._ceilings.get(receiver_id, 0):
            self._ceilings[receiver_id] = epoch + self.block - 1
            self._save()
        return epoch

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        body = {"version": FORMAT_VERSION, "ceilings": self._ceilings}
        temporary.write_text(json.dumps(body, sort_keys=True), encoding="utf-8")
        temporary.replace(self.path)
        self.writes += 1


def _read(path: Path) -> dict[str, int]:
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"cannot read the simulator's epoch file: {exc}; delete it to start over",
            source=where,
        ) from exc
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ConfigError(f"not a version {FORMAT_VERSION} epoch file", source=where)
    ceilings = data.get("ceilings")
    if not isinstance(ceilings, dict):
        raise ConfigError("'ceilings' must be an object", source=where, key="ceilings")
    for receiver_id, ceiling in ceilings.items():
        if not isinstance(ceiling, int) or isinstance(ceiling, bool) or ceiling < 0:
            raise ConfigError(
                f"must be a whole number >= 0, not {ceiling!r}",
                source=where,
                key=f"ceilings.{receiver_id}",
            )
    return dict(ceilings)
