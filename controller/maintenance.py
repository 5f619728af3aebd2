"""What a technician does to one receiver from afar: set its volume, restart it, test it.

`Maintenance(controller)` works on a running `controller.app.Controller`:

- `set_volume(id, volume)` signs a `volume` command (the receiver's standing level,
  0 to 100 %, valid a day) and `restart(id)` a `restart` command (valid 10 minutes),
  both published on the receiver's own `cmd` topic through the delivery engine's
  `Messenger` (`DeliveryService.send`), like its `assign` and `time` commands.
  Receivers connect with a clean session, so a command published while one is away
  would be lost: for a receiver that is not online the last command of each kind waits,
  in the store (`controller.store.waiting_commands`, so a controller restart keeps it),
  and is signed again (a new id) when the receiver announces itself, unless it has
  expired by then (`online: false` in the result says it waits);
- `test_tone(id)` sends a short tone (three one-second beeps at 1 kHz from the chime
  generator, `audio.chime`, prepared at the configured loudness and stored once in the
  audio library) as a normal-priority bulletin to that receiver alone through
  `send_bulletin`, expiring in 10 minutes; its occurrence id is in the result, so the
  delivery page follows it to `played` (an offline receiver gets it when it is back).

Every action is recorded as a controller event of kind `maintenance`. A receiver that
is not registered is `UnknownReceiver`; a controller that is not running is
`ControllerNotRunning`. The controller calls `resume()` as it starts, which loads the
commands still waiting and listens for receivers coming back.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from audio.chime import ChimeSettings, render_chime
from controller.audio.library import AudioLibrary
from controller.audio.settings import build_library
from controller.delivery.requests import Audio, SendRequest, send_bulletin
from controller.store.events import record_event
from controller.store.registry_rows import load_groups, load_receivers
from controller.store.waiting_commands import (
    WaitingCommand,
    forget_waiting,
    keep_waiting,
    load_waiting,
)
from devices.protocol.command_bodies import Restart, SetVolume
from devices.protocol.receiver import ReceiverBirth
from loa.errors import LoaError

if TYPE_CHECKING:
    from controller.app import Controller
    from controller.delivery.service import DeliveryService
    from controller.ingest.receivers import ReceiverIngest
    from controller.store import Store

log = logging.getLogger(__name__)

MaintenanceCommand = Literal["volume", "restart", "test-tone"]

VOLUME_VALID = timedelta(days=1)
RESTART_VALID = timedelta(minutes=10)
TEST_TONE_VALID = timedelta(minutes=10)
#: The test tone starts this long after it is asked for: time to fetch a few kB.
TEST_TONE_LEAD = timedelta(seconds=5)
TEST_TONE_TITLE = "Thử loa / Test tone"
#: Three one-second beeps at 1 kHz: 3 s of tone, easy to tell from a bulletin.
TEST_TONE = ChimeSettings(tones_hz=(1000.0, 1000.0, 1000.0), tone_s=1.0, gap_s=0.0)
ADDED_BY = "maintenance"
EVENT_KIND = "maintenance"


class MaintenanceError(LoaError):
    """A maintenance action that cannot be done; the message says why."""


class UnknownReceiver(MaintenanceError):
    """The receiver id names no registered receiver."""

    def __init__(self, receiver_id: str) -> None:
        self.receiver_id = receiver_id
        super().__init__(
            f"there is no registered receiver {receiver_id!r}; `loa devices list` shows "
            "the registered ones"
        )


class ControllerNotRunning(MaintenanceError):
    """The controller has not started (or has stopped) its store, ingest or delivery."""


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    """What was done: to which receiver, which action, whether the receiver was online
    (False: the command waits until it comes back, or expires), and the test tone's
    occurrence (None for the other actions)."""

    receiver: str
    command: MaintenanceCommand
    online: bool
    occurrence: str | None = None


@dataclass(frozen=True, slots=True)
class _Waiting:
    body: SetVolume | Restart
    expires: datetime


#: One `Maintenance` per controller, so commands waiting for a receiver are kept once.
_INSTANCES: weakref.WeakKeyDictionary[Controller, Maintenance] = weakref.WeakKeyDictionary()


class Maintenance:
    """Maintenance actions on the receivers of `controller` (see the module docstring)."""

    def __init__(self, controller: Controller) -> None:
        self._controller = controller
        self._waiting: dict[tuple[str, str], _Waiting] = {}
        self._listening: ReceiverIngest | None = None
        self._forgetting: set[asyncio.Task[None]] = set()
        self._tone: str | None = None
        self._tone_lock = asyncio.Lock()

    @classmethod
    def of(cls, controller: Controller) -> Maintenance:
        """The one `Maintenance` of `controller` (made on first use)."""
        found = _INSTANCES.get(controller)
        if found is None:
            found = _INSTANCES[controller] = cls(controller)
        return found

    async def resume(self, store: Store, ingest: ReceiverIngest) -> None:
        """As the controller starts: load the commands still waiting for their receivers
        and send each when its receiver announces itself to `ingest`."""
        waiting = await load_waiting(store, self._controller.clock.now())
        self._waiting = {
            (w.receiver_id, w.kind): _Waiting(_body(w.kind, w.fields), w.expires_at)
            for w in waiting
        }
        if self._listening is not ingest:
            self._listening = ingest
            ingest.on_birth(self._birth)
        if waiting:
            log.info("%d maintenance command(s) wait for their receivers", len(waiting))

    @property
    def waiting(self) -> dict[str, tuple[str, ...]]:
        """Receiver id to the kinds of command waiting for it to come back."""
        found: dict[str, tuple[str, ...]] = {}
        for receiver_id, kind in self._waiting:
            found[receiver_id] = (*found.get(receiver_id, ()), kind)
        return found

    async def set_volume(self, receiver_id: str, volume: int) -> MaintenanceResult:
        """Set the standing output level of `receiver_id` to `volume` % (0 to 100)."""
        try:
            body = SetVolume(volume)
        except (TypeError, ValueError) as exc:
            raise MaintenanceError(f"{receiver_id}: {exc}") from exc
        return await self._command(receiver_id, body, VOLUME_VALID, {"volume": volume})

    async def restart(self, receiver_id: str) -> MaintenanceResult:
        """Reboot `receiver_id`: it goes offline (`reboot`) and comes back with a new epoch."""
        body = Restart("restart asked by a technician")
        return await self._command(receiver_id, body, RESTART_VALID, {})

    async def test_tone(self, receiver_id: str) -> MaintenanceResult:
        """Play the test tone on `receiver_id` alone, as a normal-priority bulletin."""
        store, ingest, delivery = self._running()
        await self._require(store, receiver_id)
        async with store.read() as session:
            groups = {group.id for group in await load_groups(session)}
        if receiver_id in groups:  # a target naming a group would reach every member
            raise MaintenanceError(
                f"{receiver_id!r} is both a receiver and a group id; a test tone sent to it "
                "would reach the whole group, so none was sent"
            )
        config = self._controller.config
        library = build_library(config, store)
        content = await self._tone_content(library)
        now = self._controller.clock.now()
        request = SendRequest(
            audio=Audio(content=content),
            language="vi",
            targets=receiver_id,
            priority="normal",
            play_at=now + TEST_TONE_LEAD,
            expires_after=TEST_TONE_VALID,
            title=TEST_TONE_TITLE,
            created_by=ADDED_BY,
        )
        sent = await send_bulletin(store, library, config, request, self._controller.clock)
        delivery.wake()
        online = ingest.is_online(receiver_id)
        result = MaintenanceResult(receiver_id, "test-tone", online, sent.occurrence.id)
        await self._record(
            store, result, {"occurrence": sent.occurrence.id, "content": content}, now
        )
        return result

    # -- commands ------------------------------------------------------------------------

    async def _command(
        self,
        receiver_id: str,
        body: SetVolume | Restart,
        valid: timedelta,
        detail: dict[str, Any],
    ) -> MaintenanceResult:
        store, ingest, delivery = self._running()
        await self._require(store, receiver_id)
        now = self._controller.clock.now()
        expires = now + valid
        online = ingest.is_online(receiver_id)
        kind: MaintenanceCommand = "volume" if isinstance(body, SetVolume) else "restart"
        if online:
            if self._waiting.pop((receiver_id, kind), None) is not None:
                await forget_waiting(store, receiver_id, [kind])
            command_id = delivery.send.command("rx", receiver_id, body, expires)
            detail = {**detail, "command_id": command_id}
        else:
            await self._wait(store, WaitingCommand(receiver_id, kind, body.fields(), now, expires))
            log.info(
                "%s is not online: its %s command waits until it comes back", receiver_id, kind
            )
        result = MaintenanceResult(receiver_id, kind, online)
        await self._record(store, result, {**detail, "expires": expires.isoformat()}, now)
        return result

    async def _wait(self, store: Store, command: WaitingCommand) -> None:
        """Keep `command` until its receiver is back: in memory first (a birth while the
        store is written still finds it), then in the store. If the store fails, what
        waited before still does, and the error goes to the technician."""
        key = (command.receiver_id, command.kind)
        before = self._waiting.get(key)
        waiting = _Waiting(_body(command.kind, command.fields), command.expires_at)
        self._waiting[key] = waiting
        try:
            await keep_waiting(store, command)
        except LoaError:
            if self._waiting.get(key) is waiting:
                if before is None:
                    del self._waiting[key]
                else:
                    self._waiting[key] = before
            raise

    def _birth(self, birth: ReceiverBirth) -> None:
        """A receiver is back: send what waits for it, if it has not expired."""
        delivery, store = self._controller.delivery, self._controller.store
        if delivery is None or store is None:
            return
        now = self._controller.clock.now()
        kinds = [key[1] for key in self._waiting if key[0] == birth.id]
        for kind in kinds:
            waiting = self._waiting.pop((birth.id, kind))
            if waiting.expires <= now:
                log.info("%s is back after its %s command expired; not sent", birth.id, kind)
                continue
            command_id = delivery.send.command("rx", birth.id, waiting.body, waiting.expires)
            log.info("%s is back: sent its waiting %s command %s", birth.id, kind, command_id)
        if kinds:
            task = asyncio.create_task(self._forget(store, birth.id, kinds))
            self._forgetting.add(task)
            task.add_done_callback(self._forgetting.discard)

    @staticmethod
    async def _forget(store: Store, receiver_id: str, kinds: list[str]) -> None:
        try:
            await forget_waiting(store, receiver_id, kinds)
        except LoaError as exc:  # sent already; a restart would send a volume again
            log.error("cannot forget %s's sent commands %s: %s", receiver_id, kinds, exc)

    # -- helpers -------------------------------------------------------------------------

    def _running(self) -> tuple[Store, ReceiverIngest, DeliveryService]:
        controller = self._controller
        store, ingest, delivery = controller.store, controller.ingest, controller.delivery
        if store is None or ingest is None or delivery is None:
            raise ControllerNotRunning(
                "the controller is not running (its store, receiver ingest or delivery engine "
                "has not started); start it with `loa serve`"
            )
        return store, ingest, delivery

    @staticmethod
    async def _require(store: Store, receiver_id: str) -> None:
        async with store.read() as session:
            if receiver_id not in await load_receivers(session, [receiver_id]):
                raise UnknownReceiver(receiver_id)

    async def _tone_content(self, library: AudioLibrary) -> str:
        """The test tone's content id: rendered and stored the first time it is needed."""
        async with self._tone_lock:
            if self._tone is None:
                target = self._controller.config.audio.target_lufs
                with tempfile.TemporaryDirectory(prefix="loa-test-tone-") as folder:
                    wav = Path(folder) / "test-tone.wav"
                    await asyncio.to_thread(render_chime, TEST_TONE, wav, target_lufs=target)
                    added = await library.add_file(
                        wav,
                        title=TEST_TONE_TITLE,
                        language="vi",
                        added_by=ADDED_BY,
                        chime="none",
                    )
                self._tone = added.content.id
            return self._tone

    async def _record(
        self, store: Store, result: MaintenanceResult, detail: dict[str, Any], at: datetime
    ) -> None:
        event = {
            "action": result.command,
            "receiver": result.receiver,
            "online": result.online,
            **detail,
        }
        await record_event(store, self._controller.config.broker.client_id, EVENT_KIND, event, at)


def _body(kind: str, fields: dict[str, Any]) -> SetVolume | Restart:
    """A waiting command's body again, from its kind and stored fields."""
    if kind == "volume":
        return SetVolume(**fields)
    return Restart(**fields)
