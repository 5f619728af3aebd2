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
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audio.content_store import ContentStore
from audio.errors import AudioError
from controller.store.bulletins import BulletinRow, OccurrenceRow, get_bulletin, get_occurrence
from controller.store.contents import ContentRow, get_content
from controller.store.deliveries import load_command_ids, load_deliveries
from controller.store.schema import occurrences
from devices.delivery import Delivery, Step, cancel, expire, is_terminal
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
            default=next(iter(self.contents)),
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


async def activate(
    session: AsyncSession, files: ContentStore, occurrence: OccurrenceRow
) -> ActiveOccurrence | None:
    """An occurrence ready to deliver: its bulletin and contents read, or None if gone.

    `AudioError` if a content it names is no longer stored.
    """
    detail = await get_bulletin(session, occurrence.bulletin_id)
    if detail is None:
        return None
    rows = {}
    for content_id in detail.contents.values():
        row = await get_content(session, content_id)
        if row is None:
            raise AudioError(f"content {content_id} of bulletin {detail.bulletin.id} is gone")
        rows[content_id] = row
    return ActiveOccurrence(occurrence, detail.bulletin, content_refs(files, detail.contents, rows))


async def load_active(session: AsyncSession, files: ContentStore) -> dict[str, ActiveOccurrence]:
    """Every dispatched occurrence that has not ended, with its deliveries and the last
    command sent to each receiver: what a restarted controller carries on with."""
    query = select(occurrences.c.id).where(occurrences.c.state == "dispatched")
    found: dict[str, ActiveOccurrence] = {}
    ids: list[str] = list((await session.execute(query)).scalars())
    for occurrence_id in ids:
        occurrence = await get_occurrence(session, occurrence_id)
        active = None if occurrence is None else await activate(session, files, occurrence)
        if active is None:
            continue
        for delivery in await load_deliveries(session, occurrence_id):
            active.deliveries[delivery.receiver] = delivery
        active.commands = await load_command_ids(session, occurrence_id)
        found[occurrence_id] = active
    return found


async def cancelled_among(session: AsyncSession, ids: list[str]) -> list[str]:
    """Which of the occurrences `ids` were cancelled in the store (by `loa bulletin cancel`)."""
    query = select(occurrences.c.id).where(
        occurrences.c.id.in_(ids), occurrences.c.state == "cancelled"
    )
    return list((await session.execute(query)).scalars())


def expiry_steps(active: ActiveOccurrence, now: datetime, grace: timedelta) -> list[Step]:
    """The ends due for an occurrence past its expiry: `expired` (or `cancelled`, if it was).

    A delivery still `playing` is left its play time (all repeats) plus `grace` after the
    expiry to report `played`.
    """
    occurrence = active.occurrence
    if occurrence.expires_at > now:
        return []
    longest = max(ref.duration_ms for ref in active.contents.values())
    play_time = timedelta(milliseconds=longest * active.bulletin.repeat)
    end = cancel if occurrence.state == "cancelled" else expire
    steps = []
    for delivery in active.deliveries.values():
        if is_terminal(delivery.state):
            continue
        if delivery.state == "playing" and now < occurrence.expires_at + play_time + grace:
            continue
        steps.append(end(delivery, now))
    return steps


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
