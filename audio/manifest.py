"""The chunk manifest of a content: how a receiver checks what it downloads.

A content (the prepared bulletin's bytes) travels to receivers in chunks of
`chunk_size` bytes, every chunk but the last full. The manifest names the content
by the sha256 of its bytes and lists the sha256 of each chunk, so a receiver can
check each chunk as it arrives, ask again for the ones that fail, and check the
whole file at the end.

On the wire (and beside each content on disk) a manifest is a JSON object:

    {"content": "<sha256 hex>", "size": 368640, "chunk_size": 32768,
     "chunk_count": 12, "chunks": ["<sha256 hex>", ...]}

Hashes are 64 lowercase hex digits. Readers ignore keys they do not know, so a
newer controller can add fields without breaking older receivers; everything
listed above is required and checked (`Manifest.from_json`).

Simulated receivers import this module to verify chunks, so it depends on the
standard library and Loa's error tree only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from audio.errors import AudioError

KIB: Final = 1024
DEFAULT_CHUNK_SIZE: Final = 32 * KIB
MIN_CHUNK_SIZE: Final = KIB
MAX_CHUNK_SIZE: Final = 1024 * KIB

_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_T = TypeVar("_T")


class ManifestError(AudioError):
    """A manifest that does not hold together; `field` names the key at fault."""

    def __init__(self, problem: str, *, field: str | None = None) -> None:
        self.problem = problem
        self.field = field
        super().__init__(f"manifest: {field}: {problem}" if field else f"manifest: {problem}")


class ChunkOutOfRange(ManifestError, IndexError):
    """A chunk index the manifest does not have (also an `IndexError`)."""

    def __init__(self, index: int, chunk_count: int) -> None:
        self.index = index
        self.chunk_count = chunk_count
        super().__init__(
            f"chunk {index} does not exist: this content has chunks 0 to {chunk_count - 1}",
            field="chunks",
        )


def check_chunk_size(chunk_size: int) -> int:
    """`chunk_size` if it is between 1 KiB and 1 MiB, else `ValueError`."""
    if not _is_int(chunk_size) or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(
            f"chunk size {chunk_size!r} is not between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE} bytes"
        )
    return chunk_size


def is_sha256_hex(value: object) -> bool:
    """Whether `value` is a sha256 digest written as 64 lowercase hex digits."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Manifest:
    """Size, chunking and hashes of one content; checked when made (`ManifestError`)."""

    #: sha256 hex (lowercase, 64 digits) of the whole content.
    content_id: str
    #: bytes; at least 1.
    size: int
    #: bytes in every chunk but the last; between 1 KiB and 1 MiB.
    chunk_size: int
    #: sha256 hex of each chunk, in order.
    chunk_sha256: tuple[str, ...]

    def __post_init__(self) -> None:
        if not is_sha256_hex(self.content_id):
            raise ManifestError(_not_hex(self.content_id), field="content")
        if not _is_int(self.size) or self.size < 1:
            raise ManifestError(
                f"{self.size!r} is not a size; a content has at least 1 byte", field="size"
            )
        if not _is_int(self.chunk_size) or not MIN_CHUNK_SIZE <= self.chunk_size <= MAX_CHUNK_SIZE:
            raise ManifestError(
                f"{self.chunk_size!r} is not between {MIN_CHUNK_SIZE} (1 KiB) and "
                f"{MAX_CHUNK_SIZE} (1 MiB) bytes",
                field="chunk_size",
            )
        expected = -(-self.size // self.chunk_size)
        if len(self.chunk_sha256) != expected:
            raise ManifestError(
                f"{len(self.chunk_sha256)} chunk hashes for {self.size} bytes in chunks of "
                f"{self.chunk_size}; expected {expected}",
                field="chunks",
            )
        for index, digest in enumerate(self.chunk_sha256):
            if not is_sha256_hex(digest):
                raise ManifestError(_not_hex(digest), field=f"chunks[{index}]")

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_sha256)

    def chunk_range(self, index: int) -> tuple[int, int]:
        """(offset, length) of chunk `index`; `ChunkOutOfRange` if there is no such chunk."""
        if not 0 <= index < self.chunk_count:
            raise ChunkOutOfRange(index, self.chunk_count)
        offset = index * self.chunk_size
        return offset, min(self.chunk_size, self.size - offset)

    def verify_chunk(self, index: int, data: bytes) -> bool:
        """Whether `data` is exactly chunk `index` (length and sha256)."""
        _, length = self.chunk_range(index)
        return len(data) == length and hashlib.sha256(data).hexdigest() == self.chunk_sha256[index]

    def to_json(self) -> dict[str, object]:
        """The manifest as a JSON object (see the module docstring)."""
        return {
            "content": self.content_id,
            "size": self.size,
            "chunk_size": self.chunk_size,
            "chunk_count": self.chunk_count,
            "chunks": list(self.chunk_sha256),
        }

    @classmethod
    def from_json(cls, data: object) -> Manifest:
        """Read a manifest from parsed JSON; `ManifestError` names the first field at fault."""
        if not isinstance(data, dict):
            raise ManifestError(f"expected a JSON object, got {_kind(data)}")
        content = _field(data, "content", str)
        size = _field(data, "size", int)
        chunk_size = _field(data, "chunk_size", int)
        chunk_count = _field(data, "chunk_count", int)
        chunks = _field(data, "chunks", list)
        if len(chunks) != chunk_count:
            raise ManifestError(
                f"lists {len(chunks)} chunk hashes but chunk_count is {chunk_count}",
                field="chunks",
            )
        for index, digest in enumerate(chunks):
            if not isinstance(digest, str):
                raise ManifestError(
                    f"expected a string, got {_kind(digest)}", field=f"chunks[{index}]"
                )
        return cls(content, size, chunk_size, tuple(chunks))


class ManifestBuilder:
    """Builds a manifest from bytes fed in pieces of any size (`update`, then `finish`)."""

    def __init__(self, chunk_size: int) -> None:
        self.chunk_size = check_chunk_size(chunk_size)
        self.size = 0
        self._whole = hashlib.sha256()
        self._chunk = hashlib.sha256()
        self._in_chunk = 0
        self._chunks: list[str] = []

    def update(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        self._whole.update(view)
        self.size += len(view)
        while view:
            take = min(len(view), self.chunk_size - self._in_chunk)
            self._chunk.update(view[:take])
            self._in_chunk += take
            view = view[take:]
            if self._in_chunk == self.chunk_size:
                self._chunks.append(self._chunk.hexdigest())
                self._chunk = hashlib.sha256()
                self._in_chunk = 0

    def finish(self, what: str = "the content") -> Manifest:
        """The manifest of everything fed; `ManifestError` naming `what` if that was nothing."""
        if self.size == 0:
            raise ManifestError(f"{what} is empty: a content has at least 1 byte", field="size")
        chunks = self._chunks + ([self._chunk.hexdigest()] if self._in_chunk else [])
        return Manifest(self._whole.hexdigest(), self.size, self.chunk_size, tuple(chunks))


def build_manifest(path: Path, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Manifest:
    """The manifest of the file at `path`, in one streaming read.

    `ManifestError` if the file is empty; `OSError` if it cannot be read;
    `ValueError` if `chunk_size` is outside 1 KiB to 1 MiB.
    """
    builder = ManifestBuilder(chunk_size)
    with path.open("rb") as file:
        while block := file.read(chunk_size):
            builder.update(block)
    return builder.finish(str(path))


def manifest_of(data: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Manifest:
    """The manifest of `data` (`ManifestError` if empty)."""
    builder = ManifestBuilder(chunk_size)
    builder.update(data)
    return builder.finish()


def _field(data: dict[object, object], key: str, kind: type[_T]) -> _T:
    if key not in data:
        raise ManifestError("missing", field=key)
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"expected {kind.__name__}, got {_kind(value)}", field=key)
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), f"{type(value).__name__} {value!r}"
    )


def _not_hex(value: object) -> str:
    return f"{value!r} is not a sha256 digest (64 lowercase hex digits)"
