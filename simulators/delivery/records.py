"""What a receiver remembers of each occurrence, across reboots: the occurrence records.

One record per occurrence the receiver has heard of, in its own small file
(`occurrences/<occurrence>.json` in the receiver's folder), rewritten at every
state change. They make two promises of `docs/protocol.md` hold:

- a reboot never plays an occurrence twice: a record that says `played` (or
  any end state) stays so, and one that was `playing` when the power went is
  not started again;
- a second play command for an occurrence it already knows (the controller
  sends it again after a reconnect) is answered with the receipt of the state
  it is in, not acted on again.

A record is kept until its occurrence has expired and a margin has passed;
a cancel for an occurrence never heard of leaves a record too (state
`cancelled`, no content), so a play command arriving after it is not aired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from devices.protocol.content_ref import ContentRef
from devices.protocol.fields import Body, is_hex_id
from devices.protocol.priority import PRIORITIES, Priority
from devices.protocol.receipts import RECEIPT_STATES, DeliveryState, Proof
from loa.clock import utc_iso
from loa.errors import DecodeError
from simulators.delivery.files import read_json, remove, write_json

log = logging.getLogger(__name__)

#: States after which nothing more happens to an occurrence on this receiver.
TERMINAL: frozenset[DeliveryState] = frozenset(
    ("played", "failed", "rejected", "preempted", "expired", "cancelled")
)
#: Records of ended occurrences are kept this long after `expires_at`.
DEFAULT_MARGIN = timedelta(minutes=10)
FOLDER_NAME = "occurrences"


@dataclass(slots=True)
class Record:
    """One occurrence on this receiver: what the play command said, and where it stands."""

    occurrence: str
    expires_at: datetime
    state: DeliveryState
    command: str | None = None
    bulletin: str | None = None
    title: str = ""
    priority: Priority = "normal"
    play_at: datetime | None = None
    repeat: int = 1
    volume: int | None = None
    #: The content of its language it plays; None for a cancel of an unknown occurrence.
    content: ContentRef | None = None
    reason: str | None = None
    by: str | None = None
    proof: Proof | None = None
    #: Not kept across reboots: what the last `downloading` receipt said, and when.
    sent_have: int = field(default=-1, compare=False)
    sent_mono: float = field(default=float("-inf"), compare=False)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def to_json(self) -> dict[str, Any]:
        return {
            "occurrence": self.occurrence,
            "expires_at": utc_iso(self.expires_at),
            "state": self.state,
            "command": self.command,
            "bulletin": self.bulletin,
            "title": self.title,
            "priority": self.priority,
            "play_at": None if self.play_at is None else utc_iso(self.play_at),
            "repeat": self.repeat,
            "volume": self.volume,
            "content": None if self.content is None else self.content.fields(),
            "reason": self.reason,
            "by": self.by,
            "proof": None if self.proof is None else self.proof.fields(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> Record:
        """Read a stored record; DecodeError naming the field at fault."""
        body = Body.of(data, where, "occurrence record")
        content = body.opt_sub("content")
        proof = body.opt_sub("proof")
        try:
            return cls(
                occurrence=body.hex_id("occurrence"),
                expires_at=body.instant("expires_at"),
                state=body.choice("state", RECEIPT_STATES),
                command=body.opt_hex_id("command"),
                bulletin=body.opt_hex_id("bulletin"),
                title=body.text("title"),
                priority=body.choice("priority", PRIORITIES),
                play_at=body.opt_instant("play_at"),
                repeat=body.integer("repeat", 1, 10),
                volume=body.opt_integer("volume", 0, 100),
                content=None if content is None else ContentRef.read(content),
                reason=body.opt_text("reason", 40),
                by=body.opt_hex_id("by"),
                proof=None if proof is None else Proof.read(proof),
            )
        except ValueError as exc:
            raise DecodeError(f"occurrence record: {exc}", topic=where) from exc


class RecordBook:
    """The records of one receiver, one file each under `<folder>/occurrences/`."""

    __slots__ = ("_records", "folder", "margin")

    def __init__(self, folder: Path, *, margin: timedelta = DEFAULT_MARGIN) -> None:
        self.folder = folder
        self.margin = margin
        self._records: dict[str, Record] = {}
        if self.files.is_dir():
            for path in sorted(self.files.glob("*.json")):
                self._load(path)

    @property
    def files(self) -> Path:
        """Where the record files are (made when a record is saved)."""
        return self.folder / FOLDER_NAME

    def __len__(self) -> int:
        return len(self._records)

    def get(self, occurrence: str) -> Record | None:
        return self._records.get(occurrence)

    def records(self) -> list[Record]:
        return list(self._records.values())

    def save(self, record: Record) -> None:
        """Add or update `record`, on disk at once."""
        self._records[record.occurrence] = record
        write_json(self._path(record.occurrence), {"record": record.to_json()})

    def prune(self, now: datetime) -> int:
        """Forget ended occurrences whose expiry is more than the margin past; how many."""
        old = [
            r.occurrence
            for r in self._records.values()
            if r.terminal and r.expires_at + self.margin < now
        ]
        for occurrence in old:
            del self._records[occurrence]
            remove(self._path(occurrence))
        return len(old)

    def _path(self, occurrence: str) -> Path:
        return self.files / f"{occurrence}.json"

    def _load(self, path: Path) -> None:
        stored = read_json(path)
        data = None if stored is None else stored.get("record")
        if not isinstance(data, dict):
            remove(path)
            return
        try:
            record = Record.from_json(data, str(path))
        except DecodeError as exc:
            log.warning("dropping a damaged occurrence record: %s", exc)
            remove(path)
            return
        if not is_hex_id(path.stem) or path.stem != record.occurrence:
            log.warning("%s: holds occurrence %s; dropping it", path, record.occurrence)
            remove(path)
            return
        self._records[record.occurrence] = record
