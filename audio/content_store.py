"""The content store: prepared bulletins on disk, named by the sha256 of their bytes.

Layout under `root` (the controller uses `<data_dir>/audio`):

    objects/<id[:2]>/<id>.<ext>            the bytes (ext: mp3, opus, ...)
    objects/<id[:2]>/<id>.manifest.json    the chunk manifest (`audio.manifest`)
    staging/                               work files: prepare writes here, put() moves from here

A content is visible (`ids()`, `exists()`, `path_of()`) only once its bytes file
exists, and its manifest is written before it: `put()` hashes and fsyncs the file,
renames the manifest into place, then hard-links the bytes into place (which fails
if another put of the same bytes got there first, so exactly one put reports
`created`), and fsyncs the folder. A crash at any point leaves either nothing
visible or a complete content; what it leaves behind (work files in `staging/`, a
manifest without bytes) is removed by `sweep_staging()`. Staging sits on the same
filesystem as `objects/`, so the renames are atomic; a file handed to `put()` from
another filesystem is copied into staging first.

Content ids are checked (64 lowercase hex digits) before they touch a path, so an
id typed by a person (`loa audio show ../../etc`) gets `InvalidContentId`, never a
file outside the store. Contents never change once written; `delete()` removes the
bytes first (the content disappears at once) and the manifest after.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from audio.manifest import (
    DEFAULT_CHUNK_SIZE,
    Manifest,
    ManifestBuilder,
    ManifestError,
    check_chunk_size,
    is_sha256_hex,
)
from audio.store_errors import (
    ContentCorrupt,
    ContentNotFound,
    ContentStoreError,
    InvalidContentId,
)

log = logging.getLogger(__name__)

MANIFEST_SUFFIX: Final = ".manifest.json"
#: Work files younger than this are left alone by `sweep_staging()` (a prepare may be writing).
DEFAULT_SWEEP_AGE_S: Final = 3600.0
_EXTENSION: Final = re.compile(r"[a-z0-9]{1,10}")
_BYTES_NAME: Final = re.compile(r"([0-9a-f]{64})\.([a-z0-9]{1,10})")
_READ_SIZE: Final = 1024 * 1024
_FILE_MODE: Final = 0o644
#: errno values meaning "this filesystem has no hard links": fall back to rename.
_NO_LINKS: Final = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


@dataclass(frozen=True, slots=True)
class StoredContent:
    """A content in the store; `created` is False when the same bytes were there already."""

    content_id: str
    path: Path
    extension: str
    size: int
    manifest: Manifest
    created: bool


class ContentStore:
    """Content-addressed files under `root`; new manifests use `chunk_size`."""

    def __init__(self, root: Path, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.root = root
        self.chunk_size = check_chunk_size(chunk_size)
        self._objects = root / "objects"
        self._staging = root / "staging"

    def staging_dir(self) -> Path:
        """The folder for work files (created if missing), on the same filesystem as the store."""
        with self._errors("create", self._staging):
            self._staging.mkdir(parents=True, exist_ok=True)
        return self._staging

    def put(self, path: Path, extension: str) -> StoredContent:
        """Store the file at `path` and consume it (moved in, or deleted if already stored).

        `extension` is the file type without a dot ("mp3", "opus"). Raises
        `ContentStoreError` if the file cannot be read or the store written, and
        `ManifestError` for an empty file; `path` is left where it was then.
        """
        if not _EXTENSION.fullmatch(extension):
            raise ValueError(f"extension {extension!r}: expected 1-10 of a-z 0-9, without a dot")
        if path.resolve().is_relative_to(self._objects.resolve()):
            raise ValueError(f"{path} is in the content store already; put takes new files")
        staging = self.staging_dir()
        with self._errors("read", path):
            same_filesystem = path.stat().st_dev == staging.stat().st_dev
        if same_filesystem:
            with self._errors("read", path):
                manifest = self._hash(path)
            stored = self._place(path, manifest, extension)
        else:
            copy, manifest = self._copy_in(path)
            try:
                stored = self._place(copy, manifest, extension)
            finally:
                _unlink_quietly(copy)
        with self._errors("remove", path):
            path.unlink(missing_ok=True)
        return stored

    def _place(self, local: Path, manifest: Manifest, extension: str) -> StoredContent:
        """Make `local` (hashed, fsynced, on this filesystem) the content `manifest` names."""
        content_id = manifest.content_id
        existing = self._find(content_id)
        if existing is None:
            final = self._folder(content_id) / f"{content_id}.{extension}"
            with self._errors("write", final):
                final.parent.mkdir(parents=True, exist_ok=True)
                self._write_manifest(manifest)
                created = _link(local, final)
                _fsync_dir(final.parent)
            if created:
                log.info("content %s stored (%d bytes)", content_id, manifest.size)
                return StoredContent(content_id, final, extension, manifest.size, manifest, True)
            existing = self._find(content_id)
            if existing is None:
                raise ContentStoreError(
                    f"content {content_id} was deleted from {self.root} while it was being "
                    "stored again; store it again"
                )
        stored = self._repair(content_id, existing, local, manifest)
        return StoredContent(content_id, existing, existing.suffix[1:], stored.size, stored, False)

    def _repair(self, content_id: str, existing: Path, local: Path, manifest: Manifest) -> Manifest:
        """The stored content's manifest, after putting back a damaged manifest or bytes.

        Checked cheaply (the manifest parses, the size matches). `local` and `manifest`
        are sound: `local` was just hashed to `content_id`.
        """
        with self._errors("repair", existing):
            try:
                stored = self.manifest(content_id)
            except ContentCorrupt as exc:
                log.warning("content %s: %s; writing it again", content_id, exc.problem)
                self._write_manifest(manifest)
                stored = manifest
            if existing.stat().st_size != manifest.size:
                log.warning("content %s: its bytes are damaged; writing them again", content_id)
                local.replace(existing)
                _fsync_dir(existing.parent)
        return stored

    def path_of(self, content_id: str) -> Path:
        """The file holding the content's bytes; `ContentNotFound` if there is none."""
        path = self._find(_checked(content_id))
        if path is None:
            raise ContentNotFound(content_id, self.root)
        return path

    def exists(self, content_id: str) -> bool:
        return self._find(_checked(content_id)) is not None

    def manifest(self, content_id: str) -> Manifest:
        """The content's manifest; `ContentCorrupt` if it is missing or damaged."""
        path = self.path_of(content_id)
        manifest_path = self._manifest_path(content_id)
        try:
            manifest = Manifest.from_json(json.loads(manifest_path.read_bytes()))
        except FileNotFoundError as exc:
            raise ContentCorrupt(content_id, manifest_path, "its manifest is missing") from exc
        except (OSError, ValueError, ManifestError) as exc:
            raise ContentCorrupt(content_id, manifest_path, f"unreadable manifest: {exc}") from exc
        if manifest.content_id != content_id:
            raise ContentCorrupt(
                content_id, path, f"its manifest describes content {manifest.content_id}"
            )
        return manifest

    def read_chunk(self, content_id: str, index: int) -> bytes:
        """Chunk `index` of the content, checked against the manifest.

        `ChunkOutOfRange` for an index the content does not have; `ContentCorrupt`
        if the bytes on disk no longer match.
        """
        manifest = self.manifest(content_id)
        offset, length = manifest.chunk_range(index)
        path = self.path_of(content_id)
        with self._errors("read", path), path.open("rb") as file:
            file.seek(offset)
            data = file.read(length)
        if not manifest.verify_chunk(index, data):
            raise ContentCorrupt(content_id, path, f"chunk {index} does not match its manifest")
        return data

    def open(self, content_id: str) -> BinaryIO:
        """The content's bytes, opened for reading; close it when done."""
        path = self.path_of(content_id)
        with self._errors("open", path):
            return path.open("rb")

    def ids(self) -> list[str]:
        """The ids of every complete content, sorted."""
        found: set[str] = set()
        for folder in self._folders():
            for name in _names(folder):
                match = _BYTES_NAME.fullmatch(name)
                if match and match[1][:2] == folder.name:
                    found.add(match[1])
        return sorted(found)

    def delete(self, content_id: str) -> bool:
        """Remove the content (bytes first, then manifest); False if it was not there."""
        folder = self._folder(_checked(content_id))
        removed = False
        with self._errors("delete from", folder):
            while (path := self._find(content_id)) is not None:
                path.unlink(missing_ok=True)
                removed = True
            self._manifest_path(content_id).unlink(missing_ok=True)
            if folder.is_dir():
                _fsync_dir(folder)
        if removed:
            log.info("content %s deleted", content_id)
        return removed

    def verify(self, content_id: str) -> list[str]:
        """What is wrong with the stored content, in plain words; empty when it is sound.

        Reads the whole content once. `ContentNotFound` if there is no such content.
        """
        path = self.path_of(content_id)
        problems: list[str] = []
        manifest: Manifest | None = None
        try:
            manifest = self.manifest(content_id)
        except ContentCorrupt as exc:
            problems.append(exc.problem)
        chunk_size = manifest.chunk_size if manifest else self.chunk_size
        try:
            with self._errors("read", path):
                actual = self._hash(path, chunk_size=chunk_size, sync=False)
        except ManifestError:
            return [*problems, f"its bytes file {path} is empty"]
        if actual.content_id != content_id:
            problems.append(f"its bytes have sha256 {actual.content_id}, not its id")
        if manifest is not None:
            if actual.size != manifest.size:
                problems.append(f"it has {actual.size} bytes, its manifest says {manifest.size}")
            bad = [
                str(i)
                for i, (have, want) in enumerate(
                    zip(actual.chunk_sha256, manifest.chunk_sha256, strict=False)
                )
                if have != want
            ]
            if bad:
                problems.append(f"chunks {', '.join(bad)} do not match the manifest")
        return problems

    def sweep_staging(
        self, older_than_s: float = DEFAULT_SWEEP_AGE_S, *, dry_run: bool = False
    ) -> list[Path]:
        """Remove what crashed work left behind, if older than `older_than_s`; returns it.

        That is every entry of `staging/` (a folder counts by its newest file) and
        every manifest whose content has no bytes. Younger ones are left alone, so a
        prepare or put in progress is not disturbed. With `dry_run`, only list them.
        """
        cutoff = time.time() - older_than_s
        removed: list[Path] = []
        with self._errors("clean", self.root):
            if self._staging.is_dir():
                for entry in sorted(self._staging.iterdir()):
                    if _older(entry, cutoff):
                        if not dry_run:
                            _remove(entry)
                        removed.append(entry)
            for folder in self._folders():
                for name in _names(folder):
                    content_id = name.removesuffix(MANIFEST_SUFFIX)
                    if name == content_id or not is_sha256_hex(content_id):
                        continue
                    path = folder / name
                    if self._find(content_id) is None and _older(path, cutoff):
                        if not dry_run:
                            path.unlink(missing_ok=True)
                        removed.append(path)
        if not dry_run:
            for path in removed:
                log.info("removed %s, left by an interrupted prepare", path)
        return removed

    def _hash(self, path: Path, *, chunk_size: int | None = None, sync: bool = True) -> Manifest:
        """One streaming read of `path`: its manifest; with `sync`, fsync it and make it 0644."""
        hasher = ManifestBuilder(chunk_size or self.chunk_size)
        with path.open("rb") as file:
            while block := file.read(_READ_SIZE):
                hasher.update(block)
            if sync:
                os.fchmod(file.fileno(), _FILE_MODE)
                os.fsync(file.fileno())
        return hasher.finish(str(path))

    def _copy_in(self, source: Path) -> tuple[Path, Manifest]:
        """Copy `source` into staging, hashing as it goes; the copy is fsynced."""
        builder = ManifestBuilder(self.chunk_size)

        def blocks() -> Iterator[bytes]:
            with source.open("rb") as file:
                while block := file.read(_READ_SIZE):
                    builder.update(block)
                    yield block

        with self._errors("copy", source):
            copy = self._write_staged("put-", blocks())
        try:
            return copy, builder.finish(str(source))
        except ManifestError:
            _unlink_quietly(copy)
            raise

    def _write_manifest(self, manifest: Manifest) -> None:
        data = json.dumps(manifest.to_json(), separators=(",", ":")).encode()
        temp = self._write_staged("manifest-", [data])
        try:
            temp.replace(self._manifest_path(manifest.content_id))
        except BaseException:
            _unlink_quietly(temp)
            raise

    def _write_staged(self, prefix: str, blocks: Iterable[bytes]) -> Path:
        """A new file in staging holding `blocks`, fsynced; nothing is left if writing fails."""
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=self._staging)
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as file:
                for block in blocks:
                    file.write(block)
                file.flush()
                os.fchmod(file.fileno(), _FILE_MODE)
                os.fsync(file.fileno())
        except BaseException:
            _unlink_quietly(temp)
            raise
        return temp

    def _find(self, content_id: str) -> Path | None:
        folder = self._folder(content_id)
        for name in sorted(_names(folder)):
            match = _BYTES_NAME.fullmatch(name)
            if match and match[1] == content_id:
                return folder / name
        return None

    def _folder(self, content_id: str) -> Path:
        return self._objects / content_id[:2]

    def _manifest_path(self, content_id: str) -> Path:
        return self._folder(content_id) / f"{content_id}{MANIFEST_SUFFIX}"

    def _folders(self) -> list[Path]:
        return [self._objects / name for name in sorted(_names(self._objects))]

    @contextlib.contextmanager
    def _errors(self, doing: str, path: Path) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError as exc:
            raise ContentStoreError(
                f"cannot {doing} {exc.filename or path}: no such file; "
                f"check the path (content store at {self.root})"
            ) from exc
        except OSError as exc:
            raise ContentStoreError(
                f"cannot {doing} {exc.filename or path}: {exc.strerror or exc}; check the "
                f"disk space and the permissions of the content store at {self.root}"
            ) from exc


def _checked(content_id: str) -> str:
    if not is_sha256_hex(content_id):
        raise InvalidContentId(content_id)
    return content_id


def _link(local: Path, final: Path) -> bool:
    """Give `local` the name `final` (a hard link); False if `final` already existed."""
    try:
        final.hardlink_to(local)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        local.replace(final)  # no hard links here; a rival put renames the same bytes
    return True


def _names(folder: Path) -> list[str]:
    try:
        return [entry.name for entry in folder.iterdir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _older(path: Path, cutoff: float) -> bool:
    """Whether `path` (a folder: and everything in it) was last changed before `cutoff`."""
    try:
        if path.lstat().st_mtime >= cutoff:
            return False
        if path.is_dir() and not path.is_symlink():
            for below, folders, files in os.walk(path):
                for name in folders + files:
                    if (Path(below) / name).lstat().st_mtime >= cutoff:
                        return False
    except FileNotFoundError:
        return False  # gone already, or changing under us: leave it to the next sweep
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
