"""A receiver's content cache: whole contents on disk, bounded in bytes, LRU eviction.

Store and play means a receiver keeps the audio it downloaded, across reboots:
a bulletin aired again (or a chime used by every bulletin) needs no chunks the
second time. Under the receiver's folder:

    content/<sha256>           a complete content, named by its sha256
    partial/<sha256>.part      a download in progress, chunks written at their offsets

- A content enters `content/` only by renaming a complete partial file whose
  sha256 was checked, so a power cut never leaves half a content there.
- Space is reserved when a download starts (`reserve`): the partial file counts
  from then on, and the least recently used contents are evicted to make room,
  never the ones the receiver still needs (`keep`).
- The order of use is the files' modification time (touched on every use), so
  it survives reboots.
- After a boot each content is hashed again the first time it is used
  (`verify`): a file damaged on disk is dropped, never played.
- Nothing is created before the first download: an idle receiver has no files.
- `full` (a scenario's `storage_full`: the flash is full of something else) makes
  `reserve` refuse every new download; what is held plays on, a download already
  reserved goes on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from pathlib import Path

from loa.errors import LoaError

log = logging.getLogger(__name__)

_READ = 1024 * 1024


class StorageError(LoaError):
    """The cache cannot write or read a file of its folder."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(f"{path}: {problem}")


class ContentCache:
    """The contents one receiver holds, in `folder`, at most `max_bytes` in all."""

    __slots__ = ("_partials", "_sizes", "_verified", "folder", "full", "max_bytes")

    def __init__(self, folder: Path, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError(f"a content cache holds at least 1 byte, not {max_bytes}")
        self.folder = folder
        self.max_bytes = max_bytes
        #: content -> size, least recently used first.
        self._sizes: dict[str, int] = {}
        #: content -> reserved size of a download in progress.
        self._partials: dict[str, int] = {}
        #: contents hashed since this boot (a dict: an empty set costs 216 bytes, this 64).
        self._verified: dict[str, None] = {}
        #: the flash is full of something else: no new download fits (see the module doc).
        self.full = False
        self._scan()

    # -- what it holds ---------------------------------------------------------------------

    @property
    def used_bytes(self) -> int:
        """Bytes held or reserved: complete contents plus downloads in progress."""
        return sum(self._sizes.values()) + sum(self._partials.values())

    def contents(self) -> list[str]:
        """The complete contents held, least recently used first."""
        return list(self._sizes)

    def has(self, content: str) -> bool:
        return content in self._sizes

    def path(self, content: str) -> Path:
        return self.folder / "content" / content

    def partial_path(self, content: str) -> Path:
        return self.folder / "partial" / f"{content}.part"

    def partials(self) -> dict[str, int]:
        """Downloads in progress (found on disk at boot, or reserved since): content -> size."""
        return dict(self._partials)

    def verify(self, content: str) -> bool:
        """Whether `content` is held and its bytes hash to its name (once per boot).

        A file that does not is deleted: the receiver downloads the content again.
        """
        if content not in self._sizes:
            return False
        if content in self._verified:
            return True
        path = self.path(content)
        try:
            good = _sha256(path) == content
        except OSError as exc:
            log.warning("%s: cannot read it (%s); dropping it", path, exc)
            good = False
        if not good:
            log.warning("%s: damaged (its sha256 is not its name); dropping it", path)
            self._drop(content)
            return False
        self._verified[content] = None
        return True

    def touch(self, content: str) -> None:
        """Mark `content` as used now (it moves to the end of the eviction order)."""
        size = self._sizes.pop(content, None)
        if size is None:
            return
        self._sizes[content] = size
        try:
            self.path(content).touch()
        except OSError as exc:
            log.debug("%s: cannot touch it: %s", self.path(content), exc)

    # -- downloads -------------------------------------------------------------------------

    def reserve(self, content: str, size: int, keep: Collection[str] = ()) -> Path | None:
        """Room for a download of `size` bytes: the partial file (made), or None if it cannot fit.

        Evicts the least recently used contents that are not in `keep` until it fits.
        A download already reserved keeps its file (a resumed download).
        """
        if content in self._partials:
            return self.partial_path(content)
        if self.full or size > self.max_bytes:
            return None
        for victim in list(self._sizes):
            if self.used_bytes + size <= self.max_bytes:
                break
            if victim not in keep:
                log.info("%s: evicting %s to make room", self.folder, victim)
                self._drop(victim)
        if self.used_bytes + size > self.max_bytes:
            return None
        path = self.partial_path(content)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as file:
                file.truncate(size)
        except OSError as exc:
            raise StorageError(path, f"cannot make the partial file: {exc}") from exc
        self._partials[content] = size
        return path

    def commit(self, content: str) -> bool:
        """Move a complete download into the cache if its sha256 is `content`; else drop it."""
        size = self._partials.pop(content, None)
        if size is None:
            return self.has(content)
        source = self.partial_path(content)
        try:
            good = _sha256(source) == content
        except OSError as exc:
            raise StorageError(source, f"cannot read the download back: {exc}") from exc
        if not good:
            log.warning("%s: the chunks do not make content %s; dropping it", source, content)
            source.unlink(missing_ok=True)
            return False
        target = self.path(content)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            source.replace(target)
        except OSError as exc:
            raise StorageError(target, f"cannot move the download into the cache: {exc}") from exc
        self._sizes[content] = size
        self._verified[content] = None
        return True

    def abandon(self, content: str) -> None:
        """Give up a download: its partial file and its reservation go."""
        self._partials.pop(content, None)
        self.partial_path(content).unlink(missing_ok=True)

    # -- internals -------------------------------------------------------------------------

    def _drop(self, content: str) -> None:
        self._sizes.pop(content, None)
        self._verified.pop(content, None)
        self.path(content).unlink(missing_ok=True)

    def _scan(self) -> None:
        """Read what a previous boot left: contents in order of use, partial downloads."""
        found: list[tuple[float, str, int]] = []
        content_dir = self.folder / "content"
        if content_dir.is_dir():
            for path in content_dir.iterdir():
                if path.is_file() and _is_sha256(path.name):
                    stat = path.stat()
                    found.append((stat.st_mtime, path.name, stat.st_size))
                else:
                    path.unlink(missing_ok=True)  # a leftover temporary file
        for _, content, size in sorted(found):
            self._sizes[content] = size
        partial_dir = self.folder / "partial"
        if partial_dir.is_dir():
            for path in partial_dir.iterdir():
                name = path.name.removesuffix(".part")
                if path.is_file() and path.name.endswith(".part") and _is_sha256(name):
                    self._partials[name] = path.stat().st_size
                else:
                    path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_READ):
            digest.update(block)
    return digest.hexdigest()


def _is_sha256(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)
