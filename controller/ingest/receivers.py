"""The receivers' side of the MQTT link: status and heartbeats in, health out.

`ReceiverIngest` is `LinkHooks` for the link. It subscribes to every receiver's
status and heartbeat topics, decodes each message with `devices.protocol`, and
feeds it to that receiver's `devices.health.ReceiverHealth`. Its `run()` task ticks
every machine once a second (silence, end of flapping), writes transitions to the
store within a second and telemetry every `health.telemetry_flush` seconds, and
picks up receivers imported or adopted while it runs.

Bad input never stops it and never touches another receiver: malformed or
oversized payloads, a receiver speaking for another id, unknown topics and
unregistered receivers are counted and logged at most once a minute per kind.
An unregistered receiver is recorded for a technician to adopt, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from controller.config.model import HealthConfig
from controller.ingest.ratelimit import RateLimitedLog
from controller.mqtt.link import Incoming, MqttLink
from controller.store import Store
from controller.store.health import HealthRow, load_health, save_health
from controller.store.registry import record_unregistered
from controller.store.samples import prune_samples, sample_of, write_samples
from controller.store.schema import receivers
from controller.store.shield import complete
from devices.health import HealthPolicy, ReceiverHealth, Transition
from devices.protocol import (
    Heartbeat,
    ReceiverBirth,
    ReceiverStatus,
    Topics,
    decode_heartbeat,
    decode_status,
)
from loa.clock import Clock
from loa.errors import DecodeError, LoaError

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
REFRESH_SECONDS = 10.0
#: A message from an unknown id re-reads the registry, at most this often.
EARLY_REFRESH_S = 2.0
#: Births of unregistered ids kept for the moment they are registered, at most.
MAX_WAITING_BIRTHS = 10_000
#: How often one unregistered receiver is written down (it may send every few seconds).
UNREGISTERED_RECORD_SECONDS = 60.0
#: Transitions kept for a retry while the store cannot be written.
MAX_PENDING = 100_000
#: A receiver's health goes to `receiver_samples` (history charts) at most this often.
SAMPLE_SECONDS = 600.0
#: Samples older than `controller.store.samples.KEEP_DAYS` are deleted this often.
PRUNE_SECONDS = 3600.0


@dataclass
class IngestCounters:
    """What came in, for logs, tests and (later) metrics."""

    messages: int = 0
    applied: int = 0
    transitions: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


def policy_of(config: HealthConfig) -> HealthPolicy:
    return HealthPolicy(
        default_heartbeat_s=config.default_heartbeat_s,
        silent_after_intervals=config.silent_after_intervals,
        flapping_transitions=config.flapping_transitions,
        flapping_window_s=config.flapping_window,
    )


class ReceiverIngest:
    #: When each receiver was last sampled for the history charts (made by `flush()`).

    def __init__(self, topics: Topics, store: Store, clock: Clock, config: HealthConfig) -> None:
        self._topics = topics
        self._store = store
        self._clock = clock
        self._config = config
        self._policy = policy_of(config)
        self._machines: dict[str, ReceiverHealth] = {}
        self._pending: list[Transition] = []
        self._changed: set[str] = set()
        self._telemetry: set[str] = set()
        self._last_telemetry_flush = 0.0
        self._last_refresh = 0.0
        self._unregistered: dict[str, float] = {}
        self.connections = 0
        self._warn = RateLimitedLog(log)
        self.counters = IngestCounters()
        self._birth_listeners: list[Callable[[ReceiverBirth], None]] = []
        self._change_listeners: list[Callable[[ReceiverHealth], None]] = []
        self._sampler = _Sampler()
        #: Live births of receivers not (yet) registered, applied if they are registered.
        self._waiting_births: dict[str, ReceiverBirth] = {}

    def is_online(self, receiver_id: str) -> bool:
        """Whether a registered receiver's link is up now (online or flapping and up)."""
        machine = self._machines.get(receiver_id)
        return machine is not None and machine.link_state == "online"

    def on_birth(self, listener: Callable[[ReceiverBirth], None]) -> None:
        """Call `listener` with every live (not retained) birth of a registered receiver.

        Delivery uses it to send what a receiver missed while it was away.
        """
        self._birth_listeners.append(listener)

    def on_change(self, listener: Callable[[ReceiverHealth], None]) -> None:
        """Call `listener` with a receiver's health whenever its state changes or it sends
        telemetry (the dashboard's live view). Listeners must not block."""
        self._change_listeners.append(listener)

    def receivers(self) -> list[ReceiverHealth]:
        """The live health of every registered receiver."""
        return list(self._machines.values())

    def health(self, receiver_id: str) -> ReceiverHealth | None:
        """The live health of a registered receiver."""
        return self._machines.get(receiver_id)

    async def load(self) -> None:
        """Load the registry and the stored health; what was up is now unverified."""
        now = self._clock.now()
        stored = await load_health(self._store)
        for receiver_id in await self._registered_ids():
            machine = self._machine(receiver_id, now, stored.get(receiver_id))
            self._record(machine, machine.unverify(now, "controller restarted"))
        self._last_refresh = self._clock.monotonic()
        log.info("tracking %d registered receivers", len(self._machines))

    # LinkHooks

    async def prepare(self) -> None:
        return None

    async def connected(self, link: MqttLink) -> None:
        self.connections += 1
        if self.connections > 1:
            now = self._clock.now()
            for machine in self._machines.values():
                self._record(machine, machine.unverify(now, "broker connection restored"))
        await link.subscribe(self._topics.every_receiver("status"))
        await link.subscribe(self._topics.every_receiver("heartbeat"))

    async def disconnected(self, reason: str) -> None:
        return None  # what receivers did meanwhile is learnt when they speak again

    async def message(self, message: Incoming) -> None:
        parsed = self._topics.parse_receiver(message.topic)
        if parsed is None:
            if self._topics.is_receiver_topic(message.topic):
                self._reject("unknown_topic", message.topic, "a topic outside protocol v1")
            return
        receiver_id, channel = parsed
        if channel not in ("status", "heartbeat"):
            return  # commands are ours; receipts, repairs and clock requests go to delivery
        self.counters.messages += 1
        now = self._clock.now()
        decoded: ReceiverStatus | Heartbeat
        try:
            if channel == "status":
                decoded = decode_status(message.payload, receiver_id, message.topic)
            else:
                decoded = decode_heartbeat(message.payload, receiver_id, message.topic)
        except DecodeError as exc:
            self._reject(exc.reason, message.topic, exc.problem)
            return
        machine = self._machines.get(receiver_id)
        if machine is None and self._clock.monotonic() - self._last_refresh >= EARLY_REFRESH_S:
            await self._refresh(now)  # it may have been imported a moment ago
            machine = self._machines.get(receiver_id)
        if machine is None:
            birth = decoded if isinstance(decoded, ReceiverBirth) else None
            if birth is not None and not message.retain:
                if len(self._waiting_births) >= MAX_WAITING_BIRTHS:
                    self._waiting_births.pop(next(iter(self._waiting_births)))
                self._waiting_births[receiver_id] = birth
            await self._unregistered_message(receiver_id, message.topic, birth, now)
            return
        self._apply(machine, decoded, now, retained=message.retain)

    def _apply(
        self,
        machine: ReceiverHealth,
        decoded: ReceiverStatus | Heartbeat,
        now: datetime,
        *,
        retained: bool,
    ) -> None:
        receiver_id = machine.receiver_id
        self.counters.applied += 1
        if isinstance(decoded, Heartbeat):
            self._record(machine, machine.heartbeat(decoded, now))
            self._telemetry.add(receiver_id)
            self._changed_live(machine)
        elif isinstance(decoded, ReceiverBirth):
            self._record(machine, machine.birth(decoded, now, retained=retained))
            self._changed.add(receiver_id)  # firmware and interval, even without a transition
            if not retained:
                for listener in self._birth_listeners:
                    listener(decoded)
        else:
            self._record(machine, machine.offline(decoded, now, retained=retained))

    # The task

    async def run(self) -> None:
        """Tick, flush and refresh the registry until cancelled; a final flush on the way out."""
        try:
            while True:
                await asyncio.sleep(TICK_SECONDS)
                await self.step()
        finally:
            await asyncio.shield(self.flush(everything=True))

    async def step(self) -> None:
        """One tick: silence and flapping, the registry, writing what changed."""
        now = self._clock.now()
        for machine in self._machines.values():
            self._record(machine, machine.tick(now))
        since = self._clock.monotonic() - self._last_refresh
        if since >= REFRESH_SECONDS or (self._waiting_births and since >= EARLY_REFRESH_S):
            await self._refresh(now)
        await self.flush()

    async def flush(self, *, everything: bool = False) -> None:
        """Write pending transitions and changed health rows (telemetry when it is due)."""
        due = self._clock.monotonic() - self._last_telemetry_flush >= self._config.telemetry_flush
        ids = set(self._changed)
        if due or everything:
            ids |= self._telemetry
        if not ids and not self._pending:
            return
        now = self._clock.now()
        rows = [_row(self._machines[i], now) for i in ids if i in self._machines]
        transitions = list(self._pending)
        try:
            await complete(save_health(self._store, rows, transitions, now))
        except LoaError as exc:
            log.error("cannot write receivers' health (will retry): %s", exc)
            del self._pending[: max(0, len(self._pending) - MAX_PENDING)]
            return
        del self._pending[: len(transitions)]
        self._changed -= ids
        if due or everything:
            self._telemetry.clear()
            self._last_telemetry_flush = self._clock.monotonic()
        await self._sampler.write(self._store, rows, now)

    # Inside

    def _machine(self, receiver_id: str, now: datetime, row: HealthRow | None) -> ReceiverHealth:
        machine = ReceiverHealth(receiver_id, self._policy, since=now)
        if row is not None:
            machine.link_state = row.link_state
            machine.since = row.since
            machine.cause = row.cause
            machine.epoch = row.epoch
            # An offline receiver died in its last known epoch; only a newer one revives it.
            machine.dead_epoch = row.epoch if row.link_state == "offline" else None
            machine.last_heard = row.last_heard
            machine.heartbeat_s = row.heartbeat_s
            machine.firmware = row.firmware
            machine.capabilities = row.capabilities
            machine.telemetry = row.telemetry
            machine.telemetry_at = row.telemetry_at
        self._machines[receiver_id] = machine
        return machine

    def _record(self, machine: ReceiverHealth, transitions: list[Transition]) -> None:
        if not transitions:
            return
        self._pending.extend(transitions)
        self._changed.add(machine.receiver_id)
        self._changed_live(machine)
        self.counters.transitions += len(transitions)
        for transition in transitions:
            log.info(
                "receiver %s: %s -> %s (%s)",
                transition.receiver_id,
                transition.from_state,
                transition.to_state,
                transition.cause,
            )

    def _changed_live(self, machine: ReceiverHealth) -> None:
        for listener in self._change_listeners:
            listener(machine)

    def _reject(self, reason: str, topic: str, problem: str) -> None:
        self.counters.rejected[reason] += 1
        self._warn.warning(reason, self._clock.monotonic(), "ignored a message: %s", problem)

    async def _unregistered_message(
        self, receiver_id: str, topic: str, birth: ReceiverBirth | None, now: datetime
    ) -> None:
        self.counters.rejected["unregistered"] += 1
        last = self._unregistered.get(receiver_id)
        tick = self._clock.monotonic()
        if last is not None and tick - last < UNREGISTERED_RECORD_SECONDS and birth is None:
            return
        self._unregistered[receiver_id] = tick
        self._warn.warning(
            f"unregistered:{receiver_id}",
            tick,
            "receiver %s is not registered: listed as unregistered for a technician to adopt "
            "(`loa devices adopt %s --village ...`); it is not trusted or addressed",
            receiver_id,
            receiver_id,
        )
        try:
            await complete(
                record_unregistered(
                    self._store,
                    receiver_id,
                    at=now,
                    epoch=birth.epoch if birth else None,
                    firmware=birth.firmware if birth else None,
                    topic=topic,
                )
            )
        except LoaError as exc:
            log.error("cannot record unregistered receiver %s: %s", receiver_id, exc)

    async def _refresh(self, now: datetime) -> None:
        """Pick up receivers imported or adopted since the last look, drop deleted ones."""
        self._last_refresh = self._clock.monotonic()
        try:
            ids = await self._registered_ids()
        except LoaError as exc:
            log.error("cannot read the registry: %s", exc)
            return
        added = ids - self._machines.keys()
        for receiver_id in added:
            machine = self._machine(receiver_id, now, None)
            self._unregistered.pop(receiver_id, None)
            birth = self._waiting_births.pop(receiver_id, None)
            if birth is not None:  # it announced itself before it was registered
                self._apply(machine, birth, now, retained=False)
        for receiver_id in self._machines.keys() - ids:
            del self._machines[receiver_id]
        if added:
            log.info("now tracking %d more receivers (%d in all)", len(added), len(ids))

    async def _registered_ids(self) -> set[str]:
        async with self._store.read() as session:
            return set((await session.execute(select(receivers.c.id))).scalars())


class _Sampler:
    """Writes a receiver's health to `receiver_samples` at most every `SAMPLE_SECONDS`,
    and prunes old samples every `PRUNE_SECONDS`. Losing a sample loses a point of a
    chart, nothing more: errors are logged, not retried."""

    def __init__(self) -> None:
        self._last: dict[str, datetime] = {}
        self._pruned: datetime | None = None

    async def write(self, store: Store, rows: list[HealthRow], now: datetime) -> None:
        due = [
            row
            for row in rows
            if (last := self._last.get(row.receiver_id)) is None
            or (now - last).total_seconds() >= SAMPLE_SECONDS
        ]
        samples = [sample_of(r.receiver_id, now, r.state, r.telemetry) for r in due]
        try:
            await complete(write_samples(store, samples))
        except LoaError as exc:
            log.error("cannot write receivers' health samples: %s", exc)
            return
        for row in due:
            self._last[row.receiver_id] = now
        if self._pruned is None or (now - self._pruned).total_seconds() >= PRUNE_SECONDS:
            self._pruned = now
            try:
                await complete(prune_samples(store, now))
            except LoaError as exc:
                log.error("cannot delete old receivers' health samples: %s", exc)


def _row(machine: ReceiverHealth, now: datetime) -> HealthRow:
    return HealthRow(
        receiver_id=machine.receiver_id,
        state=machine.state,
        link_state=machine.link_state,
        since=machine.since or now,
        cause=machine.cause,
        epoch=machine.epoch,
        last_heard=machine.last_heard,
        heartbeat_s=machine.heartbeat_s,
        firmware=machine.firmware,
        capabilities=machine.capabilities,
        telemetry=machine.telemetry,
        telemetry_at=machine.telemetry_at,
    )
