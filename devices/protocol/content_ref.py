"""A content as a play command names it: its chunk manifest, its codec and its length.

The manifest part (`content`, `size`, `chunk_size`, `chunk_count`, `chunks`) is
the manifest of `audio.manifest`; a play command adds `codec` and `duration_ms`.
`devices` may not import `audio`, so the two meet through plain JSON fields:
`ContentRef.from_manifest_fields(manifest.to_json(), ...)` on the controller, and
`Manifest.from_json(ref.manifest_fields())` in a receiver that wants the checks
of `audio.manifest`. Because the command is signed, a chunk whose sha256 is in
the list is authentic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from devices.protocol.fields import MAX_SAFE_INT, Body, is_sha256
from loa.errors import DecodeError

Codec = Literal["mp3", "opus"]
CODECS: tuple[Codec, ...] = ("mp3", "opus")

MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 1024 * 1024
#: A sanity bound; a 256 KiB command cannot hold even this many chunk hashes.
MAX_CHUNKS = 65_536


@dataclass(frozen=True)
class ContentRef:
    """One language's audio of a bulletin, checked when made (ValueError)."""

    #: sha256 of the whole content, 64 lower-case hex characters: the content id.
    content: str
    #: bytes, at least 1.
    size: int
    #: bytes per chunk (the last may be shorter), 1 KiB to 1 MiB.
    chunk_size: int
    #: sha256 of each chunk, in order.
    chunk_sha256: tuple[str, ...]
    codec: Codec
    #: length when played, in milliseconds.
    duration_ms: int

    def __post_init__(self) -> None:
        if not is_sha256(self.content):
            raise ValueError(f"content {self.content!r} is not a sha256 (64 lower-case hex)")
        if not _integer(self.size, 1, MAX_SAFE_INT):
            raise ValueError(f"size must be from 1 to {MAX_SAFE_INT} bytes, not {self.size!r}")
        if not _integer(self.chunk_size, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE):
            raise ValueError(
                f"chunk_size must be from {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE} bytes, "
                f"not {self.chunk_size!r}"
            )
        expected = -(-self.size // self.chunk_size)
        if len(self.chunk_sha256) != expected:
            raise ValueError(
                f"{len(self.chunk_sha256)} chunk hashes for {self.size} bytes in chunks of "
                f"{self.chunk_size}; expected {expected}"
            )
        for index, digest in enumerate(self.chunk_sha256):
            if not is_sha256(digest):
                raise ValueError(f"chunks[{index}] {digest!r} is not a sha256 (64 lower-case hex)")
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {', '.join(CODECS)}, not {self.codec!r}")
        if not _integer(self.duration_ms, 0, MAX_SAFE_INT):
            raise ValueError(
                f"duration_ms must be from 0 to {MAX_SAFE_INT}, not {self.duration_ms!r}"
            )

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_sha256)

    def manifest_fields(self) -> dict[str, Any]:
        """The manifest part, as `audio.manifest.Manifest.from_json` reads it."""
        return {
            "content": self.content,
            "size": self.size,
            "chunk_size": self.chunk_size,
            "chunk_count": self.chunk_count,
            "chunks": list(self.chunk_sha256),
        }

    def fields(self) -> dict[str, Any]:
        """The JSON object a play command carries for this content."""
        return {**self.manifest_fields(), "codec": self.codec, "duration_ms": self.duration_ms}

    @classmethod
    def from_manifest_fields(
        cls, manifest: Mapping[str, object], *, codec: Codec, duration_ms: int
    ) -> ContentRef:
        """From `audio.manifest.Manifest.to_json()` plus codec and length; ValueError if wrong."""
        data = {**manifest, "codec": codec, "duration_ms": duration_ms}
        try:
            return cls.read(Body.of(data, None, "manifest"))
        except DecodeError as exc:
            raise ValueError(exc.problem) from exc

    @classmethod
    def read(cls, body: Body) -> ContentRef:
        """Read the fields of a content; DecodeError naming the field at fault."""
        content = body.sha256("content")
        size = body.integer("size", 1)
        chunk_size = body.integer("chunk_size", MIN_CHUNK_SIZE, MAX_CHUNK_SIZE)
        chunk_count = body.integer("chunk_count", 1, MAX_CHUNKS)
        chunks = body.items("chunks", MAX_CHUNKS)
        if len(chunks) != chunk_count:
            raise body.error(
                "chunks", f"lists {len(chunks)} hashes but chunk_count is {chunk_count}"
            )
        for index, digest in enumerate(chunks):
            if not is_sha256(digest):
                raise body.error(f"chunks[{index}]", "must be a sha256 (64 lower-case hex)")
        codec = body.choice("codec", CODECS)
        duration_ms = body.integer("duration_ms")
        try:
            return cls(content, size, chunk_size, tuple(chunks), codec, duration_ms)
        except ValueError as exc:
            raise DecodeError(f"{body.what}: {exc}", topic=body.topic) from exc


def _integer(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
