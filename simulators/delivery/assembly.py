"""One content being downloaded: which chunks are held, which to ask for, and where they go.

Chunks arrive on the group's chunk topic (once for the whole group), or on the
receiver's own topic (repair). Each is checked against the chunk hashes of the
signed play command (`audio.manifest.Manifest.verify_chunk`): a chunk that
hashes right is authentic, one that does not is dropped and asked for again.
Good chunks are written at their offset into the partial file the content
cache reserved, so a download survives a reboot (`Assembly.resume` re-checks
what the file holds).

The repair rule of `docs/protocol.md`: a receiver asks (`rx/<id>/repair`) for
a chunk that has not arrived `wait_s` (5 s) after the chunks that followed it.
Two cases have no following chunk, and are covered the same way: when nothing
at all has arrived for `wait_s` (the tail of the content was lost, or the
receiver got the command after the group's chunks went by: a late joiner),
every missing chunk is asked for at once. A resumed download (after a reboot)
asks for everything missing at once (`ask_all_now`). A chunk asked for and
still missing is asked for again once nothing has arrived for `wait_s` (so a
long repair that is still flowing is not asked for twice). Times are monotonic
seconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from audio.manifest import Manifest, ManifestError
from devices.protocol.content_ref import ContentRef
from simulators.delivery.cache import StorageError

#: What became of a chunk offered to `Assembly.add`.
ChunkResult = Literal["new", "duplicate", "bad", "out_of_range"]
DEFAULT_WAIT_S = 5.0
#: The most chunk indices in one repair request (`docs/protocol.md`).
MAX_REPAIR_CHUNKS = 1024


class Assembly:
    """The download of `ref` into the partial file at `path`."""

    __slots__ = (
        "_asked",
        "_due",
        "_held",
        "_highest",
        "_last_arrival",
        "_manifest",
        "have",
        "path",
        "ref",
        "wait_s",
    )

    def __init__(
        self, ref: ContentRef, path: Path, now: float, *, wait_s: float = DEFAULT_WAIT_S
    ) -> None:
        if wait_s <= 0:
            raise ValueError(f"the repair wait must be > 0 s, not {wait_s}")
        self.ref = ref
        self.path = path
        self.wait_s = wait_s
        try:
            self._manifest = Manifest.from_json(ref.manifest_fields())
        except ManifestError as exc:
            raise ValueError(f"content {ref.content}: {exc}") from exc
        self._held = bytearray(ref.chunk_count)
        self.have = 0
        self._highest = -1
        self._last_arrival = now
        #: missing chunk -> monotonic time it is to be asked for.
        self._due: dict[int, float] = {}
        #: chunks asked for and not yet arrived.
        self._asked: set[int] = set()

    @classmethod
    def resume(
        cls, ref: ContentRef, path: Path, now: float, *, wait_s: float = DEFAULT_WAIT_S
    ) -> Assembly:
        """The download of `ref` continued from what its partial file already holds."""
        assembly = cls(ref, path, now, wait_s=wait_s)
        manifest = assembly._manifest
        try:
            with path.open("rb") as file:
                for index in range(ref.chunk_count):
                    offset, length = manifest.chunk_range(index)
                    file.seek(offset)
                    if manifest.verify_chunk(index, file.read(length)):
                        assembly._held[index] = 1
                        assembly.have += 1
        except OSError as exc:
            raise StorageError(path, f"cannot read the partial download: {exc}") from exc
        assembly.ask_all_now(now)
        return assembly

    @property
    def content(self) -> str:
        return self.ref.content

    @property
    def complete(self) -> bool:
        return self.have == self.ref.chunk_count

    def holds(self, index: int) -> bool:
        return 0 <= index < len(self._held) and bool(self._held[index])

    def has_prefix(self, count: int) -> bool:
        """Whether the first `count` chunks (all of them if there are fewer) are held."""
        return all(self._held[: min(count, len(self._held))])

    def missing(self) -> list[int]:
        return [index for index, held in enumerate(self._held) if not held]

    def add(self, index: int, data: bytes, now: float) -> ChunkResult:
        """Take chunk `index`: written to the file if it is new and hashes right."""
        if not 0 <= index < len(self._held):
            return "out_of_range"
        if self._held[index]:
            return "duplicate"
        if not self._manifest.verify_chunk(index, data):
            self._due[index] = now  # dropped; asked for again at once
            self._asked.discard(index)
            return "bad"
        offset, _ = self._manifest.chunk_range(index)
        try:
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.pwrite(fd, data, offset)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError(self.path, f"cannot write chunk {index}: {exc}") from exc
        self._held[index] = 1
        self.have += 1
        self._due.pop(index, None)
        self._asked.discard(index)
        self._last_arrival = now
        if index > self._highest:
            later = now + self.wait_s
            for gap in range(self._highest + 1, index):
                if not self._held[gap]:
                    self._due.setdefault(gap, later)
            self._highest = index
        return "new"

    def ask_all_now(self, now: float) -> None:
        """Ask for every missing chunk at the next `due_repairs` (a late joiner, a resume)."""
        for index in self.missing():
            self._due[index] = now
        self._asked.clear()

    def next_due(self) -> float | None:
        """The monotonic time a repair request will be due, or None when nothing is missing."""
        if self.complete:
            return None
        stalled = self._last_arrival + self.wait_s
        due = min(
            (max(at, stalled) if index in self._asked else at for index, at in self._due.items()),
            default=None,
        )
        if self.ref.chunk_count - self.have > len(self._due):  # some have no time yet
            due = stalled if due is None else min(due, stalled)
        return due

    def due_repairs(self, now: float) -> list[list[int]]:
        """The chunks to ask for now, in requests of at most 1,024; each asked is timed again."""
        stalled = now >= self._last_arrival + self.wait_s
        wanted = [
            index
            for index, due in self._due.items()
            if due <= now and (stalled or index not in self._asked)
        ]
        if stalled:
            wanted.extend(i for i in self.missing() if i not in self._due)
        again = now + self.wait_s
        for index in wanted:
            self._due[index] = again
            self._asked.add(index)
        wanted.sort()
        return [
            wanted[start : start + MAX_REPAIR_CHUNKS]
            for start in range(0, len(wanted), MAX_REPAIR_CHUNKS)
        ]
