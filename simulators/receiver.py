"""One simulated receiver: the firmware's protocol duties and the faults of a village.

What it does on the wire is `docs/protocol.md`, built only from `devices.protocol`:

- every boot and every (re)connection takes a new session epoch (`EpochStore`);
- it connects with MQTT 3.1.1, client id = receiver id, clean session, and a
  Last Will `offline`/`lost` of that epoch on its status topic (QoS 1, retained);
- after CONNACK it subscribes (QoS 1) to its `cmd` topic and to the
  controller's status, publishes its birth (QoS 1, retained), then a heartbeat
  at once and every `heartbeat_s` seconds (QoS 0), `seq` from 0 in each epoch;
- a live controller presence `online` with an epoch other than the last one it
  saw (a controller restart) makes it announce itself again: the birth (same
  epoch) and a heartbeat at once. The retained presence delivered on subscribe
  only records the epoch: the birth of this connection announces it anyway;
- a clean stop says `offline`/`shutdown`, a reboot `offline`/`reboot`, then
  DISCONNECT (so no will); a lost connection is retried after a jittered
  exponential back-off, with a new epoch.

Maintenance: a `volume` command sets the level its heartbeats report (kept in its
flash, so across reboots) and it sends a heartbeat at once to say so; a `restart`
command reboots it like `reboot()`.

Bulletins (`simulators.delivery`): it also subscribes to its chunk topic and to
the command and chunk topics of every group it was assigned (its birth lists
them), hands commands and chunks to its `DeliveryAgent`, publishes the agent's
receipts (QoS 1, `seq` counting the receipts of the epoch) and repair requests,
and wakes the agent when it asks to be (one timer handle, no task: playing goes
on while the link is down). Its clock (`sim_clock`) is off and drifts; the
agent corrects it by time sync. A reboot or a power cut loses the agent's memory
but not its flash: the next boot reads the folder back.

Faults: `kill()` (a power cut, until `power_on()`), `half_open()` (the link
freezes until `restore_link()`), `fail_speaker()`, `fail_amplifier()` and
their repairs, `reboot()`. `stop()` is the clean end.

Faults a scenario sets and clears at run time (the actions of its plan):

- `set_link(LinkShape | None)`: bad 4G (`simulators.link`). What it receives is
  delayed (latency, jitter, the kbit/s queue, in order) and its chunks lost at
  random; what it publishes is delayed (latency, jitter). `link` is the current
  shape, so one fault changes one field:
  `set_link(dataclasses.replace(rx.link, kbit_s=64))`. Messages in flight when
  the connection ends are lost with it. The draws come from the run's `seed`
  and the id (the same run, the same losses).
- `set_slow_firmware(delay_ms | None)`: each command is handled (and so
  answered) `delay_ms` after it arrived, one at a time, and what came after it
  waits its turn (the firmware reads its messages in order);
- `set_storage_full(bool)`: no new content fits: its plays end `failed`
  (`storage_full`), cached ones still play, heartbeats say 0 MB free;
- `set_codecs(tuple | None)` (`reject_codec()`, `set_codec_reject(bool)`): a
  play of a codec it cannot play is `rejected` (`unsupported_codec`); None: any;
- `jump_clock(by_s)`, `set_clock(offset_s, drift_ppm)`: its real-time clock
  steps, or is set anew; time sync corrects it as it always does.

These last across reboots and power cuts (they are the device's, not the
firmware's memory).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from devices.protocol import ControllerPresence, Heartbeat, ReceiverBirth, ReceiverOffline
from devices.protocol.receiver import OfflineReason
from loa.backoff import Backoff
from loa.clock import Clock, SystemClock
from loa.errors import DecodeError
from loa.mqtt import Message, MqttClient, MqttError, Will
from simulators.bell import Bell
from simulators.config import ReceiverSpec, SimSettings
from simulators.delivery.agent import DeliveryAgent
from simulators.delivery.clock import SimClock
from simulators.delivery.driver import DeliveryDriver
from simulators.delivery.outbox import DeliveryCounters
from simulators.epochs import EpochStore
from simulators.link import Inbound, LinkShape, ShapedClient, link_seed
from simulators.telemetry import Telemetry

log = logging.getLogger(__name__)

State = Literal["off", "connecting", "online", "half-open", "waiting", "rebooting", "stopped"]
_Ending = Literal["stop", "reboot", "lost"]


@dataclass
class Counters:
    """What a receiver has done since it was made (for tests and the CLI)."""

    births: int = 0
    heartbeats: int = 0
    connections: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    commands: int = 0
    #: incoming chunks the bad link lost (`set_link`, `chunk_loss`).
    lost_chunks: int = 0
    delivery: DeliveryCounters = field(default_factory=DeliveryCounters)


class SimReceiver:
    """One simulated receiver with its own MQTT connection, on the running event loop."""

    def __init__(
        self,
        spec: ReceiverSpec,
        settings: SimSettings,
        *,
        rng: random.Random | None = None,
        noise: random.Random | None = None,
        epochs: EpochStore | None = None,
        clock: Clock | None = None,
        on_state: Callable[[SimReceiver, State], None] | None = None,
        seed: int | str = 0,
    ) -> None:
        """Telemetry profile from `rng` (default: seeded by the id); its noise and the
        back-off jitter from `noise` (default: its own generator; a fleet shares one).
        `on_state(receiver, previous state)` is called after every change of `state`.
        `seed` (the run's) seeds the draws of its link (`set_link`) with its id.
        """
        self.spec = spec
        self.settings = settings
        rng = rng or random.Random(spec.id)  # noqa: S311 - simulation, not cryptography
        noise = noise or random.Random(rng.getrandbits(64))  # noqa: S311
        self.telemetry = Telemetry(rng, noise)
        self._backoff = Backoff(settings.backoff_initial, settings.backoff_max, noise)
        self._epochs = epochs or EpochStore()
        self._clock = clock or SystemClock()
        self.sim_clock = self._own_clock(rng)
        topics = settings.topics
        self._status_topic = topics.receiver(spec.id, "status")
        self._heartbeat_topic = topics.receiver(spec.id, "heartbeat")
        self._cmd_topic = topics.receiver(spec.id, "cmd")
        self._controller_topic = topics.controller_status
        self.counters = Counters()
        self.epoch: int | None = None
        self.seq = 0
        self.controller_epoch: int | None = None
        self._state: State = "off"
        self._on_state = on_state
        self._task: asyncio.Task[None] | None = None
        self._client: MqttClient | None = None
        self._bell = Bell()
        self.driver = DeliveryDriver(
            spec.id, settings, self.sim_clock, self.counters.delivery, self._bell.ring
        )
        self.receipt_seq = 0
        self._stopping = False
        self._rebooting = False
        self._announce = False
        self._beat_now = False
        self._link_down = False
        #: what comes in, through a bad link and a slow firmware (`simulators.link`).
        self._inbound = Inbound(self._handle, settings.topics, link_seed(seed, spec.id))
        self._storage_full = False
        self._codecs: tuple[str, ...] | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def delivery(self) -> DeliveryAgent | None:
        """Its delivery firmware while it is powered (None when off)."""
        return self.driver.agent

    @property
    def state(self) -> State:
        return self._state

    @property
    def is_online(self) -> bool:
        return self._state == "online"

    def _set_state(self, state: State) -> None:
        previous, self._state = self._state, state
        if previous != state and self._on_state is not None:
            self._on_state(self, previous)

    # -- life and faults -------------------------------------------------------------------

    def start(self) -> None:
        """Power on (boot): connect in the background, then keep connected."""
        self.power_on()

    def power_on(self) -> None:
        """Boot after `kill()` (or the first time); a new epoch. Does nothing when running."""
        if self._task is not None:
            return
        self._stopping = self._rebooting = self._announce = False
        self._task = asyncio.create_task(self._run(), name=f"sim-{self.id}")
        self._task.add_done_callback(self._ended)

    def kill(self) -> None:
        """A power cut: the socket dies with no goodbye (the broker sends the will).

        The receiver stays dark until `power_on()`.
        """
        if self._client is not None:
            self._client.abort()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._inbound.reset()
        self.driver.power_off()
        self._set_state("off")

    def half_open(self) -> None:
        """Freeze the link: nothing in or out, the socket stays open, until `restore_link()`."""
        self._link_down = True
        if self._client is not None:
            self._client.freeze()
        if self._state == "online":
            self._set_state("half-open")

    def restore_link(self) -> None:
        """The link works again; if the broker dropped the connection meanwhile, reconnect."""
        self._link_down = False
        if self._client is not None:
            self._client.thaw()
            if self._state == "half-open":
                self._set_state("online")
        self._bell.ring()

    def reboot(self) -> None:
        """Say `offline`/`reboot`, disconnect, stay away `reboot_delay`, boot with a new epoch."""
        self._rebooting = True
        self._bell.ring()

    def fail_speaker(self) -> None:
        self.telemetry.speakers_ok = False

    def repair_speaker(self) -> None:
        self.telemetry.speakers_ok = True

    def fail_amplifier(self) -> None:
        self.telemetry.amplifier = "fault"

    def repair_amplifier(self) -> None:
        self.telemetry.amplifier = "ok"

    # -- faults set at run time (see the module docstring) ---------------------------------

    @property
    def link(self) -> LinkShape:
        """Its link's shape now (a perfect `LinkShape()` by default)."""
        return self._inbound.shape

    def set_link(self, shape: LinkShape | None) -> None:
        """Bad 4G from now on (`simulators.link`); None or an idle shape: a perfect link."""
        shaper = self._inbound.set_shape(shape)
        if isinstance(self._client, ShapedClient):
            self._client.shaper = shaper

    @property
    def in_flight(self) -> int:
        """Messages received and not handled yet (the link's delay, a slow firmware)."""
        return len(self._inbound)

    @property
    def slow_firmware_ms(self) -> int | None:
        return round(self._inbound.slow_s * 1000) or None

    def set_slow_firmware(self, delay_ms: float | None) -> None:
        """Handle each command `delay_ms` after it came (None or 0: at once)."""
        if delay_ms is not None and not (delay_ms >= 0 and delay_ms != float("inf")):
            raise ValueError(f"{self.id}: slow firmware delay_ms must be >= 0, not {delay_ms!r}")
        self._inbound.slow_s = (delay_ms or 0) / 1000

    @property
    def storage_full(self) -> bool:
        return self._storage_full

    def set_storage_full(self, full: bool) -> None:
        """Its flash is full (True): no new content fits, until set False."""
        self._storage_full = full
        self._apply_device()

    @property
    def codecs(self) -> tuple[str, ...] | None:
        """The codecs it plays; None: any."""
        return self._codecs

    def set_codecs(self, codecs: tuple[str, ...] | None) -> None:
        """Play only `codecs` (None: any); a play of another is `rejected`."""
        self._codecs = None if codecs is None else tuple(codecs)
        self._apply_device()

    def reject_codec(self) -> None:
        """A receiver that plays no codec the controller sends (`codec_reject`)."""
        self.set_codecs(())

    def set_codec_reject(self, reject: bool) -> None:
        """`codec_reject` set (True: it plays no codec) or cleared (False: it plays any)."""
        self.set_codecs(() if reject else None)

    def jump_clock(self, by_s: float) -> None:
        """Its real-time clock steps by `by_s` seconds (negative: back)."""
        before = self.sim_clock.now()
        self.sim_clock.jump(by_s)
        self._stepped(before)

    def set_clock(self, offset_s: float, drift_ppm: float = 0.0) -> None:
        """Its clock is `offset_s` ahead of true time from now, drifting `drift_ppm`."""
        before = self.sim_clock.now()
        self.sim_clock.set(offset_s, drift_ppm)
        self._stepped(before)

    def _apply_device(self) -> None:
        """Give the firmware (after every boot) the device's faults."""
        agent = self.driver.agent
        if agent is not None:
            agent.storage_full = self._storage_full
            agent.codecs = self._codecs

    def _stepped(self, before: datetime) -> None:
        """Its clock stepped from `before`: firmware sees its wall clock move against its
        monotonic clock by the step, shifts time sync's estimates by it and asks again."""
        agent = self.driver.agent
        if agent is not None:
            agent.clock_stepped((self.sim_clock.now() - before).total_seconds())
        self._rearm()

    def _rearm(self) -> None:
        """Its clock changed: let the firmware look at what is due by it now."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # not running: its next boot or message sees the new time
        self.driver.after()

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop cleanly (`offline`/`shutdown`, DISCONNECT), or cut the power after `timeout`."""
        task = self._task
        if task is None:
            self.driver.close()
            self._set_state("stopped")
            return
        self._stopping = True
        self._bell.ring()
        if self._state != "online":
            task.cancel()  # connecting, waiting or half-open: nobody to say goodbye to
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            log.warning("%s did not stop within %g s; cutting its power", self.id, timeout)
            self.kill()
            await asyncio.wait({task}, timeout=1.0)
        self._task = None
        self.driver.close()
        self._set_state("stopped")

    # -- the firmware ----------------------------------------------------------------------

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s crashed", self.id, exc_info=task.exception())
            self._set_state("off")
        if self._task is task:
            self._task = None

    def _own_clock(self, rng: random.Random) -> SimClock:
        """Its clock: the spec's offset and drift, else drawn (after the telemetry profile)."""
        s, spec = self.settings, self.spec
        offset = spec.clock_offset_s
        if offset is None and s.clock_skew_s is not None:
            offset = rng.uniform(-s.clock_skew_s, s.clock_skew_s)
        elif offset is None:
            offset = self.telemetry.profile.clock_offset_ms / 1000
        drift = rng.uniform(-s.clock_drift_ppm, s.clock_drift_ppm)
        if spec.clock_drift_ppm is not None:
            drift = spec.clock_drift_ppm
        return SimClock(self._clock, offset, drift)

    def _now(self) -> datetime:
        """Its clock as it best knows it (corrected by time sync once it has an answer)."""
        agent = self.driver.agent
        return self.sim_clock.now() if agent is None else agent.clock.now()

    async def _run(self) -> None:
        lost = False
        self._boot()
        while not self._stopping:
            await self._wait_for_link()
            epoch = self._epochs.next(self.id)
            self._set_state("connecting")
            client = self._client = self._new_client(epoch)
            connected = False
            try:
                await client.connect()
                connected = True
                self.counters.connections += 1
                self.counters.reconnects += lost
                self._backoff.reset()
                ending = await self._session(client, epoch)
            except MqttError as exc:
                log.info("%s (epoch %d): %s", self.id, epoch, exc)
                self.counters.connect_failures += not connected
                ending = "lost"
            finally:
                client.abort()  # does nothing after a clean disconnect
                if self._client is client:
                    self._client = None
            if ending == "stop":
                return
            if ending == "reboot":
                await self._reboot_pause()
                lost = False
                continue
            lost = True
            self._set_state("waiting")
            await self._pause(self._next_delay())

    async def _session(self, client: MqttClient, epoch: int) -> _Ending:
        self.epoch, self.seq, self.receipt_seq = epoch, 0, 0
        self._inbound.reset()
        if isinstance(client, ShapedClient):
            client.shaper = self._inbound.shaper
        client.closed.add_done_callback(lambda _: self._bell.ring())
        await client.subscribe(
            (self._cmd_topic, 1), (self._controller_topic, 1), *self.driver.subscriptions()
        )
        await self._publish_birth(client, epoch)
        self._set_state("half-open" if self._link_down else "online")
        if self._link_down:
            client.freeze()
        self.driver.connected(client)
        loop = asyncio.get_running_loop()
        due = loop.time()
        try:
            while True:
                if not client.is_connected:
                    return "lost"
                if self._stopping or self._rebooting:
                    reason: OfflineReason = "shutdown" if self._stopping else "reboot"
                    self._rebooting = False
                    await self._goodbye(client, epoch, reason)
                    return "stop" if reason == "shutdown" else "reboot"
                agent = self.driver.agent
                if agent is not None and agent.assignment_changed and not client.is_frozen:
                    agent.assignment_changed = False  # new groups: listen to them, say so
                    await client.subscribe(*self.driver.subscriptions())
                    self._announce = True
                if self._announce and not client.is_frozen:
                    await self._publish_birth(client, epoch)
                    due = loop.time()
                if self._beat_now:
                    self._beat_now = False
                    due = loop.time()
                self.receipt_seq = await self.driver.flush(client, epoch, self.receipt_seq)
                if loop.time() >= due:
                    await self._send_heartbeat(client, epoch)
                    due = max(due + self.spec.heartbeat_s, loop.time())
                await self._bell.wait(due)
        finally:
            self._inbound.reset()  # in flight when the connection ended: lost with it
            self.driver.disconnected()

    def _new_client(self, epoch: int) -> MqttClient:
        s = self.settings
        will = ReceiverOffline(self.id, epoch, "lost").encode()
        return ShapedClient(
            s.broker.host,
            s.broker.port,
            self.id,
            shaper=self._inbound.shaper,
            keepalive=s.keepalive,
            clean_session=True,
            will=Will(self._status_topic, will, qos=1, retain=True),
            username=s.broker.username,
            password=s.broker.password,
            connect_timeout=s.connect_timeout,
            ack_timeout=s.ack_timeout,
            on_message=self._on_message,
        )

    async def _publish_birth(self, client: MqttClient, epoch: int) -> None:
        self._announce = False
        birth = ReceiverBirth(
            id=self.id,
            epoch=epoch,
            at=self._now(),
            firmware=self.settings.firmware,
            capabilities=self.settings.capabilities,
            heartbeat_s=self.spec.heartbeat_s,
            groups=None if self.delivery is None else self.delivery.groups,
        )
        await client.publish(self._status_topic, birth.encode(), qos=1, retain=True)
        self.counters.births += 1

    async def _send_heartbeat(self, client: MqttClient, epoch: int) -> None:
        now = self._now()
        sample = self.telemetry.sample(now)
        agent = self.driver.agent
        measured = None if agent is None else agent.clock_offset_ms
        heartbeat = Heartbeat(
            id=self.id,
            epoch=epoch,
            seq=self.seq,
            at=now,
            signal=sample.signal,
            power=sample.power,
            amplifier=self.telemetry.amplifier,
            speakers="ok" if self.telemetry.speakers_ok else "fault",
            volume=sample.volume if agent is None or agent.volume is None else agent.volume,
            temperature_c=sample.temperature_c,
            storage_free_mb=0 if self._storage_full else sample.storage_free_mb,
            clock_offset_ms=sample.clock_offset_ms if measured is None else measured,
            playing=None if agent is None else agent.playing_content,
        )
        await client.publish(self._heartbeat_topic, heartbeat.encode())
        self.seq += 1
        if not client.is_frozen:
            self.counters.heartbeats += 1

    async def _goodbye(self, client: MqttClient, epoch: int, reason: OfflineReason) -> None:
        if client.is_frozen:
            return  # a frozen link carries no goodbye; the caller aborts it
        offline = ReceiverOffline(self.id, epoch, reason, at=self._now())
        await client.publish(self._status_topic, offline.encode(), qos=1, retain=True)
        await client.disconnect()

    def _on_message(self, message: Message) -> None:
        """A message off the socket: through the bad link and a slow firmware to `_handle`."""
        if not self._inbound.receive(message):
            self.counters.lost_chunks += 1

    def _handle(self, message: Message) -> None:
        if message.topic != self._controller_topic:
            self.counters.commands += self.driver.route(message) == "command"
            agent = self.driver.agent
            if agent is not None and agent.restart_asked:  # a signed `restart` command
                agent.restart_asked = False
                self.reboot()
            elif agent is not None and agent.volume_changed:  # say the new level at once
                agent.volume_changed = False
                self._beat_now = True
                self._bell.ring()
            return
        try:
            presence = ControllerPresence.decode(message.payload, message.topic)
        except DecodeError as exc:
            log.warning("%s: ignoring a controller presence: %s", self.id, exc)
            return
        if presence.state != "online" or presence.epoch == self.controller_epoch:
            return
        self.controller_epoch = presence.epoch
        if not message.retain:  # a controller (re)started while we are connected
            self._announce = True
            self._bell.ring()

    async def _wait_for_link(self) -> None:
        while self._link_down and not self._stopping:
            self._set_state("waiting")
            await self._bell.wait()

    async def _pause(self, delay: float) -> None:
        """Wait `delay` seconds, or less when asked to stop or to reboot."""
        deadline = asyncio.get_running_loop().time() + delay
        while not (self._stopping or self._rebooting):
            if not await self._bell.wait(deadline):
                return
        if self._rebooting:
            self._rebooting = False
            await self._reboot_pause()

    async def _reboot_pause(self) -> None:
        """Off for `reboot_delay` (memory lost), then the firmware boots again."""
        self._set_state("rebooting")
        self.driver.power_off()
        await asyncio.sleep(self.settings.reboot_delay)  # simulated time away
        self._boot()

    def _boot(self) -> None:
        self.driver.boot()
        self._apply_device()

    def _next_delay(self) -> float:
        """Jittered exponential back-off (`loa.backoff`), shared with the controller's link."""
        return self._backoff.next_delay()
