"""An occurrence being delivered, as the controller holds it in memory.

Dispatched occurrences that have not ended are loaded at start (so a restarted
controller forgets nothing) and kept here with each targeted receiver's `Delivery`,
the contents by language (what the play command carries: the signed chunk hashes) and
the play command's body. The store has the same deliveries; this is the copy receipts
are judged against without a query each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from audio.content_store import ContentStore
from controller.store.bulletins import BulletinRow, OccurrenceRow
from controller.store.contents import ContentRow
from devices.delivery import Delivery, is_terminal
from devices.protocol.command_bodies import Play
from devices.protocol.content_ref import Codec, ContentRef


@dataclass
class ActiveOccurrence:
    occurrence: OccurrenceRow
    bulletin: BulletinRow
    #: language -> content, in the bulletin's order (its first is its default language)
    contents: dict[str, ContentRef]
    #: receiver id -> its delivery as last applied
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    #: receiver id -> the id of the last play command sent to it (group or its own)
    commands: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.occurrence.id

    @property
    def emergency(self) -> bool:
        return self.bulletin.priority == "emergency"

    def play(self) -> Play:
        """The body of this occurrence's play command."""
        return Play(
            occurrence=self.occurrence.id,
            bulletin=self.bulletin.id,
            title=self.bulletin.title,
            priority=self.bulletin.priority,
            play_at=self.occurrence.play_at,
            expires_at=self.occurrence.expires_at,
            volume=self.bulletin.volume,
            repeat=self.bulletin.repeat,
            contents=self.contents,
        )

    def content(self, content_id: str) -> ContentRef | None:
        return next((ref for ref in self.contents.values() if ref.content == content_id), None)

    def serves(self, receiver_id: str, content_id: str) -> bool:
        """Whether this occurrence sends `content_id` to `receiver_id` and has not ended for it."""
        delivery = self.deliveries.get(receiver_id)
        return (
            delivery is not None
            and not is_terminal(delivery.state)
            and delivery.content == content_id
        )

    def finished(self) -> bool:
        return all(is_terminal(d.state) for d in self.deliveries.values())


def content_ref(files: ContentStore, row: ContentRow) -> ContentRef:
    """The play command's description of a stored content: its manifest, codec and length."""
    manifest = files.manifest(row.id)
    codec: Codec = "opus" if row.codec == "opus" else "mp3"
    return ContentRef.from_manifest_fields(
        manifest.to_json(), codec=codec, duration_ms=round(row.duration_s * 1000)
    )


def content_refs(
    files: ContentStore, contents: Mapping[str, str], rows: Mapping[str, ContentRow]
) -> dict[str, ContentRef]:
    """Language -> `ContentRef` for a bulletin's `contents` (language -> content id)."""
    return {language: content_ref(files, rows[cid]) for language, cid in contents.items()}
