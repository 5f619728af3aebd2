"""Errors of the content store (`audio.content_store`), under `audio.errors.AudioError`.

    AudioError
    └── ContentStoreError        the store's files cannot be read or written
        ├── InvalidContentId         a string that is not a content id (64 lowercase hex digits)
        ├── ContentNotFound          no content has this id
        └── ContentCorrupt           a stored content does not match its id or its manifest

(`audio.manifest.ManifestError` is the manifest's own error: a manifest read from the
wire or from disk that does not hold together.)
"""

from __future__ import annotations

from pathlib import Path

from audio.errors import AudioError


class ContentStoreError(AudioError):
    """The content store's files cannot be read or written."""


class InvalidContentId(ContentStoreError, ValueError):
    """A string given as a content id that is not one; never used in a path."""

    def __init__(self, value: str) -> None:
        self.value = value
        shown = value if len(value) <= 80 else f"{value[:77]}..."
        super().__init__(
            f"{shown!r} is not a content id: a content id is the sha256 of the content, "
            "64 digits 0-9 and a-f; `loa audio list` shows the ids in the store"
        )


class ContentNotFound(ContentStoreError):
    """No content with this id is in the store."""

    def __init__(self, content_id: str, root: Path) -> None:
        self.content_id = content_id
        self.root = root
        super().__init__(
            f"no content {content_id} in the content store at {root}; "
            "`loa audio list` shows what is there"
        )


class ContentCorrupt(ContentStoreError):
    """A stored content whose bytes or manifest are damaged; `problem` says how."""

    def __init__(self, content_id: str, path: Path, problem: str) -> None:
        self.content_id = content_id
        self.path = path
        self.problem = problem
        super().__init__(
            f"content {content_id} is damaged ({path}): {problem}; "
            "delete it and prepare the source again"
        )
