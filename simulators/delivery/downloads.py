"""The downloads of one receiver: its content cache and the contents being assembled.

`Downloads` joins `ContentCache` (what is held, on disk, bounded) and the
`Assembly` of each content in progress (which chunks are in, which to ask for):

- `start` reserves room (evicting what no pending occurrence needs) and begins
  an assembly, or resumes the partial file a previous boot left;
- `add` takes a chunk; when the last one is in, `finish` moves the content into
  the cache, checked against its sha256;
- `due_repairs` gives the repair requests the rule of `Assembly` calls for now.

A download serves every occurrence that uses its content: two bulletins with
the same audio download it once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from devices.protocol.content_ref import ContentRef
from devices.protocol.receipts import RepairRequest
from simulators.delivery.assembly import Assembly, ChunkResult
from simulators.delivery.cache import ContentCache, StorageError

log = logging.getLogger(__name__)


class Downloads:
    """The cache in `folder` (at most `max_bytes`) and the assemblies in progress."""

    __slots__ = ("_assemblies", "cache", "receiver_id", "wait_s")

    def __init__(self, receiver_id: str, folder: Path, max_bytes: int, *, wait_s: float) -> None:
        self.receiver_id = receiver_id
        self.cache = ContentCache(folder, max_bytes)
        self.wait_s = wait_s
        self._assemblies: dict[str, Assembly] = {}

    def __contains__(self, content: object) -> bool:
        return content in self._assemblies

    def get(self, content: str) -> Assembly | None:
        return self._assemblies.get(content)

    def contents(self) -> list[str]:
        """The contents being downloaded."""
        return list(self._assemblies)

    def cached(self, content: str) -> bool:
        """Whether `content` is held whole and sound (hashed again once per boot)."""
        if not self.cache.verify(content):
            return False
        self.cache.touch(content)
        return True

    def start(self, ref: ContentRef, now: float, keep: Collection[str]) -> Assembly | None:
        """The download of `ref`: the one in progress, a resumed one, or a new one.

        None when the cache cannot make room for it (or its folder cannot be written).
        """
        assembly = self._assemblies.get(ref.content)
        if assembly is not None:
            return assembly
        try:
            if ref.content in self.cache.partials():
                path = self.cache.partial_path(ref.content)
                assembly = Assembly.resume(ref, path, now, wait_s=self.wait_s)
            else:
                reserved = self.cache.reserve(ref.content, ref.size, keep)
                if reserved is None:
                    return None
                assembly = Assembly(ref, reserved, now, wait_s=self.wait_s)
        except StorageError as exc:
            log.warning("%s: %s", self.receiver_id, exc)
            self.cache.abandon(ref.content)
            return None
        self._assemblies[ref.content] = assembly
        return assembly

    def add(self, content: str, index: int, data: bytes, now: float) -> ChunkResult | None:
        """Offer a chunk to the download of `content`; None when there is no such download.

        Raises `StorageError` when the chunk cannot be written (the caller drops the download).
        """
        assembly = self._assemblies.get(content)
        if assembly is None:
            return None
        return assembly.add(index, data, now)

    def finish(self, content: str) -> bool:
        """Move a complete download into the cache; False if its bytes are not `content`."""
        self._assemblies.pop(content, None)
        try:
            return self.cache.commit(content)
        except StorageError as exc:
            log.warning("%s: %s", self.receiver_id, exc)
            self.cache.abandon(content)
            return False

    def drop(self, content: str) -> None:
        """Give up the download of `content` (nobody needs it, or it cannot be written)."""
        if self._assemblies.pop(content, None) is not None:
            self.cache.abandon(content)

    def forget_partials(self) -> None:
        """Delete the partial files of a previous boot that no occurrence resumed."""
        for content in self.cache.partials():
            if content not in self._assemblies:
                self.cache.abandon(content)

    def due_repairs(self, now: float) -> list[RepairRequest]:
        return [
            RepairRequest(self.receiver_id, content, tuple(chunks))
            for content, assembly in self._assemblies.items()
            for chunks in assembly.due_repairs(now)
        ]

    def next_due(self) -> float | None:
        """The monotonic time the next repair request is due, None when none can be."""
        return min(
            (due for a in self._assemblies.values() if (due := a.next_due()) is not None),
            default=None,
        )
