"""The delivery firmware of one simulated receiver: from signed commands to proof of play.

`DeliveryAgent` is what a receiver's firmware does with the bulletin part of
`docs/protocol.md`, as plain synchronous code the receiver drives
(`DeliveryDriver` runs it on the event loop):

- `on_command` opens every command with `devices.protocol.open_command` (the
  five checks, in order) and answers a refusal with a `rejected` receipt, counted
  by reason; a refused command changes nothing else (its id is not remembered:
  a forger must not be able to burn the id of a real command). Of the others,
  `assign` sets the groups and language (`Assignment`), `play` and `cancel` go
  to `Occurrences` (records, downloads, the player, receipts), `time` feeds the
  clock estimate (`TimeSync`), `volume` sets the standing output level (kept in
  `volume.json`, reported by every heartbeat), `restart` sets `restart_asked` (the
  receiver reboots: new epoch); each id is remembered until it expires (`NonceMemory`),
  before a restart is acted on, so a copy of it cannot reboot the receiver twice;
- a play whose content (in its language) has a codec not in `codecs` (None: any)
  is refused with a `rejected` receipt, reason `unsupported_codec`, and changes
  nothing else, like the refusals above (a scenario's `codec_reject`);
  `storage_full` makes the cache refuse new downloads (they end `failed`,
  `storage_full`);
- `on_chunk` hands chunks to `Occurrences`; `tick()` sends the clock requests
  that are due, at once through `send_now` (QoS 0, so `t0` is when they leave),
  then lets `Occurrences` ask for repairs, expire and play;
- receipts and repair requests wait in `outbox` (QoS 1) until the receiver
  publishes them, stamped then with the epoch and `seq` of its connection.

Everything that must survive a reboot is in files under the receiver's folder;
a new agent reads them back when it is made.
"""

from __future__ import annotations

import functools
import logging
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from devices.protocol.commands import (
    Assign,
    Cancel,
    Command,
    Play,
    Rejected,
    Restart,
    SetVolume,
    TimeReply,
    open_command,
)
from devices.protocol.receipts import DeliveryState, Receipt, TimeRequest
from devices.protocol.signing import SigningKey, VerifyKey
from simulators.config import SimSettings
from simulators.delivery.assignment import Assignment
from simulators.delivery.clock import SimClock
from simulators.delivery.downloads import Downloads
from simulators.delivery.files import read_json, write_json
from simulators.delivery.heard import Heard
from simulators.delivery.nonces import NonceMemory
from simulators.delivery.occurrences import Occurrences, WavJob
from simulators.delivery.outbox import DeliveryCounters, Outgoing
from simulators.delivery.timesync import TimeSync

log = logging.getLogger(__name__)

#: The reason of a play refused for its codec (not in `RECEIPT_REASONS` yet: a newer word,
#: which the protocol lets a controller record as it is).
UNSUPPORTED_CODEC = "unsupported_codec"
#: The standing output level set by a `volume` command, in the receiver's flash.
VOLUME_FILE = "volume.json"


@functools.cache
def _nobody() -> VerifyKey:
    """A key nobody holds: with no key provisioned, every signature fails to verify."""
    return SigningKey.generate().public


class DeliveryAgent:
    """The delivery firmware of receiver `receiver_id`, keeping its flash in `folder`."""

    __slots__ = (
        "_key",
        "_send_now",
        "_topics",
        "assignment",
        "assignment_changed",
        "clock",
        "codecs",
        "counters",
        "folder",
        "id",
        "nonces",
        "occurrences",
        "raw",
        "restart_asked",
        "settings",
        "sync",
        "volume",
        "volume_changed",
    )

    def __init__(
        self,
        receiver_id: str,
        settings: SimSettings,
        folder: Path,
        clock: SimClock,
        *,
        send_now: Callable[[str, bytes], bool],
        counters: DeliveryCounters | None = None,
    ) -> None:
        """`clock` is the receiver's own clock; `send_now(topic, payload)` publishes at
        QoS 0 at once and says whether it could. The receiver's flash is read back now.
        """
        self.id = receiver_id
        self.settings = settings
        self.folder = folder
        self.counters = counters or DeliveryCounters()
        self._send_now = send_now
        self._topics = settings.topics
        self._key = settings.public_key or _nobody()
        self.raw = clock
        self.sync = TimeSync(
            interval_s=settings.time_sync_interval_s,
            requests=settings.time_sync_requests,
            phase=zlib.crc32(receiver_id.encode()) / 2**32,  # its own, the same every boot
        )
        self.nonces = NonceMemory(folder)
        self.occurrences = Occurrences(
            receiver_id, settings, folder, clock, sync=self.sync, counters=self.counters
        )
        self.clock = self.occurrences.clock
        self.assignment = Assignment(folder)
        #: set when an `assign` changed the groups: the receiver subscribes and announces.
        self.assignment_changed = False
        #: the codecs it can play; None: any the protocol names.
        self.codecs: tuple[str, ...] | None = None
        #: the output level a `volume` command set (%); None: never set, the device's own.
        self.volume = _stored_volume(folder / VOLUME_FILE)
        #: set when a `volume` command changed it: the receiver reports it at once.
        self.volume_changed = False
        #: set when a `restart` came: the receiver says `offline`/`reboot` and boots again.
        self.restart_asked = False
        self.occurrences.boot()

    # -- what the receiver reads -----------------------------------------------------------

    @property
    def outbox(self) -> list[Outgoing]:
        """QoS 1 messages (receipts, repairs) waiting to be published, oldest first."""
        return self.occurrences.reports.outbox

    @property
    def downloads(self) -> Downloads:
        return self.occurrences.downloads

    @property
    def wav_jobs(self) -> list[WavJob]:
        """Each play to write as a WAV (content file, occurrence, volume)."""
        return self.occurrences.wav_jobs

    @property
    def groups(self) -> tuple[str, ...] | None:
        """The groups it listens to; None before any `assign`."""
        return self.assignment.groups

    @property
    def language(self) -> str:
        return self.assignment.language

    @property
    def heard(self) -> list[Heard]:
        """Its last plays, with true times (for measurements)."""
        return self.occurrences.ears.heard

    @property
    def playing_content(self) -> str | None:
        return self.occurrences.playing_content

    @property
    def clock_offset_ms(self) -> int | None:
        """Its clock minus the controller's as measured; None before any time answer."""
        return self.sync.clock_offset_ms

    @property
    def storage_full(self) -> bool:
        """Whether its flash refuses new downloads (see the module docstring)."""
        return self.occurrences.downloads.cache.full

    @storage_full.setter
    def storage_full(self, full: bool) -> None:
        self.occurrences.downloads.cache.full = full

    def state_of(self, occurrence: str) -> DeliveryState | None:
        return self.occurrences.state_of(occurrence)

    # -- the link --------------------------------------------------------------------------

    def connected(self) -> None:
        """The link is up: a round of clock requests starts now."""
        self.sync.begin(self.raw.monotonic())
        self.tick()

    def disconnected(self) -> None:
        self.sync.stop()

    # -- incoming --------------------------------------------------------------------------

    def on_command(self, payload: bytes, topic: str, arrived: datetime) -> None:
        """A message on a command topic; `arrived`: the receiver's own clock when it came."""
        opened = open_command(
            payload,
            topic,
            topics=self._topics,
            receiver_id=self.id,
            groups=self.groups or (),
            key=self._key,
            now=self.clock.now(),
            seen=self.nonces.seen,
            fresh=self._answers_us,
        )
        if isinstance(opened, Rejected):
            log.info("%s: refused a command (%s): %s", self.id, opened.reason, opened.detail)
            self.occurrences.reports.rejected(opened)
            return
        body = opened.body
        if isinstance(body, Play) and not self._plays_codec(body):
            self._refuse_codec(opened.id, body)
            return
        if isinstance(body, Play):
            self.occurrences.play(opened, body, self.language)
        elif isinstance(body, Cancel):
            self.occurrences.cancel(opened, body)
        elif isinstance(body, TimeReply):
            sample = self.sync.answer(
                body.request, body.received, body.sent, arrived, self.raw.monotonic()
            )
            self.counters.time_samples += sample is not None
        elif isinstance(body, Assign) and self.assignment.apply(body):
            self.assignment_changed = True
        elif isinstance(body, SetVolume) and body.volume != self.volume:
            write_json(self.folder / VOLUME_FILE, {"volume": body.volume})
            self.volume = body.volume
            self.volume_changed = True
            log.info("%s: volume set to %d %%", self.id, body.volume)
        elif isinstance(body, Restart):
            log.info("%s: restart asked (%s)", self.id, body.reason or "no reason given")
            self.restart_asked = True
        self.nonces.remember(opened.id, opened.expires, self.clock.now())

    def _answers_us(self, command: Command) -> bool:
        """A `time` reply to a request still pending: fresh whatever our clock says."""
        body = command.body
        return isinstance(body, TimeReply) and self.sync.awaiting(
            body.request, self.raw.monotonic()
        )

    def clock_stepped(self, by_s: float) -> None:
        """The device's clock was set or jumped by `by_s`: keep the correction right and
        re-learn the controller's time now."""
        self.sync.stepped(self.raw.monotonic(), by_s)
        self.tick()

    def _plays_codec(self, play: Play) -> bool:
        ref = play.content_for(self.language)
        return self.codecs is None or ref is None or ref.codec in self.codecs

    def _refuse_codec(self, command_id: str, play: Play) -> None:
        ref = play.content_for(self.language)
        codec = None if ref is None else ref.codec
        log.info("%s: refused play %s: cannot play %s", self.id, play.occurrence, codec)
        self.counters.reject(UNSUPPORTED_CODEC)
        reports = self.occurrences.reports
        reports.receipt(
            Receipt(
                id=self.id,
                epoch=1,  # stamped when sent
                seq=0,
                occurrence=play.occurrence,
                state="rejected",
                at=self.clock.now(),
                command=command_id,
                reason=UNSUPPORTED_CODEC,
            )
        )

    def on_chunk(self, content: str, index: int, data: bytes) -> None:
        """A chunk from a chunk topic this receiver listens to."""
        self.occurrences.chunk(content, index, data)

    # -- time ------------------------------------------------------------------------------

    def tick(self) -> None:
        """Do what is due: clock requests, then repairs, expiries and the player."""
        for number, t0 in self.sync.due(self.raw.monotonic(), self.raw.now()):
            request = TimeRequest(self.id, number, t0).encode()
            sent = self._send_now(self._topics.receiver(self.id, "time"), request)
            self.counters.time_requests += sent
        self.occurrences.tick()

    def next_delay(self) -> float | None:
        """Seconds until `tick()` has something to do; None: nothing until a message comes."""
        delays = [self.occurrences.next_delay()]
        due = self.sync.next_due()
        if due is not None:
            delays.append(max(0.0, due - self.raw.monotonic()))
        known = [delay for delay in delays if delay is not None]
        return min(known) if known else None


def _stored_volume(path: Path) -> int | None:
    """The volume kept in `path`, or None when none was set (or the file is not usable)."""
    stored = read_json(path)
    volume = None if stored is None else stored.get("volume")
    if isinstance(volume, int) and not isinstance(volume, bool) and 0 <= volume <= 100:
        return volume
    return None
