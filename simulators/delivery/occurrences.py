"""The occurrences of one receiver, from an accepted play command to its proof of play.

`Occurrences` is the part of the delivery firmware that follows each occurrence:
its record (kept across reboots), its download (`Downloads`), the player, and a
receipt at every step (`Reports`). `DeliveryAgent` opens the commands and hands
it the play and cancel ones, the chunks, and the ticks of its clock.

- a play goes `accepted`, then `armed` at once when its content is cached, or
  `downloading` (with `have`: at the start, then at most at every quarter and
  once a second) until its chunks are in, then `armed`; the player starts it at
  `play_at` by the corrected clock (`playing`) and ends it `played` with the
  proof, or `preempted`, `expired`, `cancelled`;
- one without `play_at` (an emergency) starts once its first chunks are in and
  plays on while the rest arrive; if they have not all come when it ends, it is
  `failed` (`chunk_timeout`): the stream ran dry; a download unfinished at the
  expiry is `failed` (`chunk_timeout`) too;
- a second play command for a known occurrence is answered with the receipt of
  its state; a cancel for one never heard of leaves it `cancelled`;
- `boot()` takes up what the previous boot left: downloads resume (asking at
  once for what is missing), armed occurrences are armed again, and one that was
  playing when the power went is `failed` (`interrupted`): none plays twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from devices.protocol.commands import Cancel, Command, Play
from devices.protocol.receipts import DeliveryState, Proof
from devices.protocol.topics import Topics
from simulators.config import SimSettings
from simulators.delivery.cache import StorageError
from simulators.delivery.clock import CorrectedClock, SimClock
from simulators.delivery.downloads import Downloads
from simulators.delivery.heard import Ears
from simulators.delivery.outbox import DeliveryCounters, Outgoing
from simulators.delivery.player import Item, Player, PlayEvent
from simulators.delivery.records import Record, RecordBook
from simulators.delivery.reports import Reports
from simulators.delivery.timesync import TimeSync

log = logging.getLogger(__name__)

_PENDING: tuple[DeliveryState, ...] = ("accepted", "downloading")


@dataclass(frozen=True)
class WavJob:
    """A play to write as a WAV: the cached content, the occurrence, its volume (%)."""

    source: Path
    occurrence: str
    #: the play command's volume; None plays at the receiver's own setting (as decoded)
    volume: int | None

    @property
    def gain(self) -> float:
        return 1.0 if self.volume is None else self.volume / 100


class Occurrences:
    """The occurrences of receiver `receiver_id` (see the module docstring)."""

    __slots__ = (
        "_topics",
        "book",
        "clock",
        "counters",
        "downloads",
        "ears",
        "player",
        "raw",
        "receiver_id",
        "reports",
        "settings",
        "sync",
        "wav_jobs",
    )

    def __init__(
        self,
        receiver_id: str,
        settings: SimSettings,
        folder: Path,
        raw: SimClock,
        *,
        sync: TimeSync,
        counters: DeliveryCounters,
    ) -> None:
        """`raw` is the receiver's own clock, `sync` what corrects it."""
        self.receiver_id = receiver_id
        self.settings = settings
        self.raw = raw
        self.sync = sync
        self.clock = CorrectedClock(raw, sync)
        self.counters = counters
        self._topics: Topics = settings.topics
        self.book = RecordBook(folder)
        self.downloads = Downloads(
            receiver_id, folder, settings.cache_bytes, wait_s=settings.repair_wait_s
        )
        self.player = Player(self.clock)
        self.reports = Reports(receiver_id, self._topics, self.book, self.clock, counters)
        #: (cached content file, occurrence) of each play to write as a WAV.
        self.wav_jobs: list[WavJob] = []
        self.ears = Ears(raw.true, self.clock)

    def state_of(self, occurrence: str) -> DeliveryState | None:
        record = self.book.get(occurrence)
        return None if record is None else record.state

    @property
    def playing_content(self) -> str | None:
        item = self.player.playing
        return None if item is None else item.content

    def chunk(self, content: str, index: int, data: bytes) -> None:
        """A chunk from a chunk topic this receiver listens to."""
        self.counters.chunks += 1
        try:
            result = self.downloads.add(content, index, data, self.raw.monotonic())
        except StorageError as exc:
            log.warning("%s: %s", self.receiver_id, exc)
            self.downloads.drop(content)
            for record in self._waiting_for(content):
                self._end(record, "failed", reason="storage_full")
            return
        if result is None:
            self.counters.stray_chunks += 1  # cached already, or no command names it
        elif result == "bad":
            self.counters.bad_chunks += 1
        elif result == "new":
            self._advance(content)

    def tick(self) -> None:
        """Repair requests, expiries and the player, as due now."""
        for repair in self.downloads.due_repairs(self.raw.monotonic()):
            topic = self._topics.receiver(self.receiver_id, "repair")
            self.reports.queue(Outgoing(topic, payload=repair.encode()))
            self.counters.repairs += 1
        now = self.clock.now()
        for record in self.book.records():
            if (
                record.state in _PENDING
                and now >= record.expires_at
                and not self.player.holds(record.occurrence)
            ):
                self._end(record, "failed", reason="chunk_timeout")
        self._apply(self.player.tick())

    def next_delay(self) -> float | None:
        """Seconds until `tick()` has something to do, or None."""
        delays = [self.player.next_delay()]
        due = self.downloads.next_due()
        if due is not None:
            delays.append(due - self.raw.monotonic())
        now = self.clock.now()
        for record in self.book.records():
            if record.state in _PENDING and not self.player.holds(record.occurrence):
                delays.append((record.expires_at - now).total_seconds())
        known = [delay for delay in delays if delay is not None]
        return max(0.0, min(known)) if known else None

    # -- commands --------------------------------------------------------------------------

    def play(self, command: Command, play: Play, language: str) -> None:
        """A play command: accept it (once), then arm from the cache or download."""
        self.book.prune(self.clock.now())  # a new one comes: forget those long over
        known = self.book.get(play.occurrence)
        if known is not None:  # sent again: say where it stands
            self._send_state(known, command.id)
            return
        record = Record(
            occurrence=play.occurrence,
            expires_at=play.expires_at,
            state="accepted",
            command=command.id,
            bulletin=play.bulletin,
            title=play.title,
            priority=play.priority,
            play_at=play.play_at,
            repeat=play.repeat,
            volume=play.volume,
            content=play.content_for(language),
        )
        if record.content is None:
            self._end(record, "failed", reason="no_content")
        elif self.clock.now() >= play.expires_at:
            self._end(record, "expired")
        else:
            self._set(record, "accepted")
            self._prepare(record)

    def cancel(self, command: Command, cancel: Cancel) -> None:
        """A cancel: drop it before air time, stop it while it plays, else say where it is."""
        record = self.book.get(cancel.occurrence)
        if record is None:  # never heard of: remember it is cancelled
            record = Record(cancel.occurrence, command.expires, "cancelled")
            self._end(record, "cancelled", command=command.id)
        elif record.terminal:  # played (or ended otherwise): nothing changes
            self._send_state(record, command.id)
        else:
            event = self.player.cancel(record.occurrence)
            if event is None:
                self._end(record, "cancelled", command=command.id)
            else:
                self._apply([event], command=command.id)

    # -- downloads -------------------------------------------------------------------------

    def _prepare(self, record: Record) -> None:
        """Arm `record` from the cache, or download its content."""
        ref = record.content
        assert ref is not None  # noqa: S101 - only records with a content get here
        if self.downloads.cached(ref.content):
            self._arm(record)
            return
        assembly = self.downloads.start(ref, self.raw.monotonic(), self._needed())
        if assembly is None:
            self._end(record, "failed", reason="storage_full")
        elif assembly.complete:  # resumed with every chunk in already
            self._advance(ref.content)
        else:
            self._progress(record, force=True)
            self._stream(record)

    def _advance(self, content: str) -> None:
        """A chunk of `content` came in: finish, report progress, or start a stream."""
        assembly = self.downloads.get(content)
        if assembly is None:
            return
        waiting = self._waiting_for(content)
        if not assembly.complete:
            for record in waiting:
                self._progress(record)
                self._stream(record)
            return
        good = self.downloads.finish(content)
        for record in waiting:
            if not good:
                self._end(record, "failed", reason="decode_error")
            elif not self.player.holds(record.occurrence):
                self._arm(record)

    def _progress(self, record: Record, *, force: bool = False) -> None:
        """A `downloading` receipt at the start, then at most every quarter and once a second."""
        assert record.content is not None  # noqa: S101 - a download has a content
        assembly = self.downloads.get(record.content.content)
        if assembly is None or self.player.holds(record.occurrence):
            return  # an emergency playing while it streams in says nothing more
        mono = self.raw.monotonic()
        step = max(1, record.content.chunk_count // 4)
        if not force and (assembly.have < record.sent_have + step or mono - record.sent_mono < 1.0):
            return
        record.sent_have, record.sent_mono = assembly.have, mono
        self._set(record, "downloading", have=assembly.have)

    def _stream(self, record: Record) -> None:
        """Start an occurrence without `play_at` once its first chunks are in."""
        assert record.content is not None  # noqa: S101 - a download has a content
        assembly = self.downloads.get(record.content.content)
        if (
            record.play_at is None
            and assembly is not None
            and assembly.has_prefix(self.settings.emergency_chunks)
        ):
            self._apply(self.player.arm(self._item(record)))

    def _needed(self) -> set[str]:
        """The contents of occurrences not ended yet: never evicted, never abandoned."""
        return {r.content.content for r in self.book.records() if not r.terminal and r.content}

    def _waiting_for(self, content: str) -> list[Record]:
        return [
            r
            for r in self.book.records()
            if r.state in ("accepted", "downloading", "playing")
            and r.content is not None
            and r.content.content == content
        ]

    # -- playing ---------------------------------------------------------------------------

    def _arm(self, record: Record) -> None:
        self._set(record, "armed")
        self._apply(self.player.arm(self._item(record)))

    def _item(self, record: Record) -> Item:
        ref = record.content
        assert ref is not None  # noqa: S101 - only records with a content are played
        return Item(
            occurrence=record.occurrence,
            priority=record.priority,
            content=ref.content,
            duration_ms=ref.duration_ms,
            repeat=record.repeat,
            expires_at=record.expires_at,
            play_at=record.play_at,
        )

    def _apply(self, events: list[PlayEvent], command: str | None = None) -> None:
        """Turn the player's events into records and receipts (naming `command`, if given)."""
        for event in events:
            record = self.book.get(event.occurrence)
            if record is None:
                continue
            if event.state == "playing":
                assert event.started_at is not None  # noqa: S101 - a playing event has it
                self.ears.started(record.occurrence, event.started_at)
                self._set(record, "playing")
                continue
            proof = None
            if event.state == "played" and event.content in self.downloads:
                self._end(record, "failed", reason="chunk_timeout")  # the stream ran dry
            elif event.state == "played":
                assert event.started_at is not None  # noqa: S101 - a played event has them
                assert event.ended_at is not None  # noqa: S101
                proof = Proof(
                    started_at=event.started_at,
                    ended_at=event.ended_at,
                    clock_offset_ms=self.sync.clock_offset_ms or 0,
                    content=event.content,
                    played_ms=event.played_ms,
                )
                if self.settings.wav_dir is not None:
                    self.wav_jobs.append(
                        WavJob(
                            self.downloads.cache.path(event.content),
                            record.occurrence,
                            record.volume,
                        )
                    )
                self._end(record, "played", proof=proof)
            else:
                self._end(record, event.state, by=event.by, command=command)
            if event.started_at is not None:
                ended_at = event.ended_at or event.at
                self.ears.ended(
                    record.occurrence, event.content, record.state, event.started_at, ended_at
                )

    # -- records and receipts --------------------------------------------------------------

    def _set(self, record: Record, state: DeliveryState, *, have: int | None = None) -> None:
        self.reports.set(record, state, have=have)

    def _end(
        self,
        record: Record,
        state: DeliveryState,
        *,
        reason: str | None = None,
        by: str | None = None,
        proof: Proof | None = None,
        command: str | None = None,
    ) -> None:
        """Put `record` in an end state, stop it if the player has it, free its download."""
        if self.player.holds(record.occurrence):
            self.player.cancel(record.occurrence)
        self.reports.set(record, state, reason=reason, by=by, proof=proof, command=command)
        content = None if record.content is None else record.content.content
        if content is not None and content in self.downloads and content not in self._needed():
            self.downloads.drop(content)

    def _send_state(self, record: Record, command: str) -> None:
        """Answer a repeated command with the receipt of the state `record` is in."""
        have = None
        if record.state == "downloading" and record.content is not None:
            assembly = self.downloads.get(record.content.content)
            have = 0 if assembly is None else assembly.have
        self.reports.again(record, command, have)

    # -- boot ------------------------------------------------------------------------------

    def boot(self) -> None:
        """Take up what the previous boot left: resume downloads, arm again, never replay."""
        now = self.clock.now()
        for record in self.book.records():
            if record.terminal or record.content is None:
                continue
            if record.state == "playing":
                self._end(record, "failed", reason="interrupted")
            elif now < record.expires_at:
                self._prepare(record)
            elif record.state == "armed":
                self._end(record, "expired")
            else:
                self._end(record, "failed", reason="chunk_timeout")
        self.downloads.forget_partials()
        self.book.prune(now)
