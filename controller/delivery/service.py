"""The delivery engine: occurrences out to receivers, receipts back into the store.

`DeliveryService` is `LinkHooks` for the controller's MQTT link and one task. Incoming
receipts, repair requests and clock requests are only queued or answered from memory
in `message()` (the link reads one message at a time); the task's `step()`, run every
`delivery.poll_s` or when woken, does the rest in this order:

1. the registry is re-read every 10 s (targets resolve against it at dispatch);
2. receivers that announced themselves (births) get an `assign` if the groups they
   listen on are not the registry's, and the play commands of every live occurrence
   they have not yet played (they ask for the chunks they lack);
3. receipts are judged by the forward-only state machine (`devices.delivery`);
   every one is written to `delivery_events`, applied or not (duplicates, stale ones,
   receipts for unknown occurrences or from receivers not targeted are anomalies);
4. occurrences that are due are dispatched: targets resolved, deliveries `queued`,
   one play command and the audio once per group (`plan.fan_out`), the online
   receivers `offered`;
5. occurrences cancelled in the store get `cancel` commands; occurrences past their
   expiry end their open deliveries (`expired`, or `cancelled`);
6. changed deliveries and events are written in one transaction (`journal.Journal`).

A restarted controller loads its dispatched, unfinished occurrences with their
deliveries; receivers re-announce themselves when its presence comes back, and step 2
sends them what they still need. A receiver that already has an occurrence answers a
repeated play command with its state: none plays twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from audio.content_store import ContentStore
from audio.errors import AudioError
from controller.config.model import DeliveryConfig
from controller.delivery.active import (
    ActiveOccurrence,
    activate,
    cancelled_among,
    expiry_steps,
    load_active,
)
from controller.delivery.journal import Journal
from controller.delivery.messages import ASSIGN_VALID, TIME_VALID, Messenger, RepairBudget
from controller.delivery.outbox import Outbox
from controller.delivery.plan import TargetError, fan_out, language_for, memberships, resolve
from controller.delivery.receipts import ReceiptJudge
from controller.ingest.ratelimit import RateLimitedLog
from controller.mqtt.link import Incoming, MqttLink
from controller.store import Store
from controller.store.bulletins import (
    OccurrenceRow,
    get_bulletin,
    get_occurrence,
    overdue_occurrences,
    set_occurrence_state,
)
from controller.store.bulletins import due_occurrences as due_in_store
from controller.store.deliveries import (
    DeliveryUpdate,
    insert_deliveries,
)
from controller.store.registry_rows import (
    ReceiversSignature,
    load_groups,
    load_receivers,
    receivers_signature,
)
from controller.store.shield import complete
from devices.delivery import Delivery, Step, cancel, is_terminal, offer, rank, start
from devices.protocol import ReceiverBirth, Topics
from devices.protocol.command_bodies import Assign, Cancel, TimeReply
from devices.protocol.receipts import (
    RepairRequest,
    decode_receipt,
    decode_repair,
    decode_time_request,
)
from devices.protocol.signing import SigningKey
from devices.protocol.topics import ReceiverChannel, Scope
from devices.registry import Group, GroupTree, Receiver
from loa.clock import Clock
from loa.errors import DecodeError

log = logging.getLogger(__name__)

REGISTRY_REFRESH_S = 10.0
#: A delivery `playing` at its occurrence's expiry is given this long after the
#: play time to report `played` before it is ended.
PLAYING_GRACE = timedelta(seconds=60)


@dataclass
class DeliveryCounters:
    dispatched: int = 0
    births: int = 0
    receipts: int = 0
    repairs: int = 0
    repair_chunks: int = 0
    clock_requests: int = 0
    rejected_input: int = 0
    registry_loads: int = 0


class DeliveryService:
    def __init__(
        self,
        topics: Topics,
        store: Store,
        *,
        clock: Clock,
        key: SigningKey,
        files: ContentStore,
        config: DeliveryConfig,
        is_online: Callable[[str], bool],
    ) -> None:
        self._topics = topics
        self._store = store
        self._clock = clock
        self._files = files
        self._config = config
        self.outbox = Outbox(clock, in_flight=config.chunks_in_flight)
        self.send = Messenger(topics, key, clock, files, self.outbox)
        self.judge = ReceiptJudge()
        self.counters = DeliveryCounters()
        self.active: dict[str, ActiveOccurrence] = {}
        self._receivers: dict[str, Receiver] = {}
        self._registry: list[Receiver] = []
        self._tree = GroupTree([])
        self._groups: list[Group] = []
        self._signature: ReceiversSignature | None = None
        self._listening: dict[str, frozenset[str]] = {}
        self._is_online = is_online
        self._births: dict[str, ReceiverBirth] = {}
        self._journal = Journal(store, clock, self._wake_up)
        self._repair_budget = RepairBudget(clock, config.repair_chunks_per_minute)
        self._last_refresh = -REGISTRY_REFRESH_S
        self._last_poll = -1e9
        self._maybe_done: set[str] = set()
        self._poll_now = False
        self._wake = asyncio.Event()
        self._warn = RateLimitedLog(log)

    # What the rest of the controller tells it

    def birth(self, birth: ReceiverBirth) -> None:
        """A registered receiver announced itself (live): send it what it lacks."""
        self._births[birth.id] = birth
        self._wake.set()

    def _wake_up(self) -> None:
        self._wake.set()

    def on_change(
        self,
        moved: Callable[[Delivery], None],
        finished: Callable[[str, str], None],
    ) -> None:
        """Tell `moved` of every delivery that moves and `finished` of every occurrence
        whose deliveries have all ended (id, final state): the dashboard's live view."""
        self._journal.on_moved.append(moved)
        self._journal.on_finished.append(finished)

    def wake(self) -> None:
        """Look for due and cancelled occurrences now rather than at the next poll."""
        self._poll_now = True
        self._wake.set()

    # LinkHooks

    async def prepare(self) -> None:
        return None

    async def connected(self, link: MqttLink) -> None:
        channels: tuple[ReceiverChannel, ...] = ("receipt", "repair", "time")
        for channel in channels:
            await link.subscribe(self._topics.every_receiver(channel))
        self.outbox.attach(link)
        self._wake.set()

    async def disconnected(self, reason: str) -> None:
        self.outbox.detach()

    async def message(self, message: Incoming) -> None:
        parsed = self._topics.parse_receiver(message.topic)
        if parsed is None:
            return
        receiver_id, channel = parsed
        now = self._clock.now()
        try:
            if channel == "receipt":
                receipt = decode_receipt(message.payload, message.topic, receiver_id)
                self.judge.received(receipt, now)
                self.counters.receipts += 1
                self._wake.set()
            elif channel == "repair":
                self._repair(decode_repair(message.payload, message.topic, receiver_id))
            elif channel == "time":
                request = decode_time_request(message.payload, message.topic, receiver_id)
                if receiver_id in self._receivers:
                    body = TimeReply(request.request, received=now, sent=self._clock.now())
                    self.send.command("rx", receiver_id, body, now + TIME_VALID)
                    self.counters.clock_requests += 1
        except DecodeError as exc:
            self.counters.rejected_input += 1
            self._warn.warning(
                exc.reason, self._clock.monotonic(), "bad %s: %s", channel, exc.problem
            )

    # The task

    async def load(self) -> None:
        """The registry, and every dispatched occurrence that has not ended."""
        await self._refresh_registry(force=True)
        async with self._store.read() as session:
            self.active = await load_active(session, self._files)
        if self.active:
            log.info("resuming %d occurrences being delivered", len(self.active))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.outbox.run(), name="delivery-outbox")
            tasks.create_task(self._loop(), name="delivery-steps")

    async def _loop(self) -> None:
        try:
            while True:
                try:
                    async with asyncio.timeout(self._config.poll_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                try:
                    await self.step()
                except Exception:
                    log.exception("delivery step failed; retrying at the next one")
        finally:
            await self._journal.close()

    async def step(self) -> None:
        """Births and receipts at once; the store is asked for due, cancelled and expired
        occurrences at most every `poll_s` (a wake per receipt must not cost queries)."""
        now = self._clock.now()
        await self._refresh_registry()
        await self._answer_births(now)
        self._apply_receipts(now)
        tick = self._clock.monotonic()
        if tick - self._last_poll >= self._config.poll_s or self._poll_now:
            self._last_poll = tick
            self._poll_now = False
            await self._dispatch_due(now)
            await self._follow_cancels(now)
            await self._expire(now)
        if self._journal.due():
            await self._journal.flush()

    # Steps

    async def _refresh_registry(self, *, force: bool = False) -> None:
        """Re-read the registry every `REGISTRY_REFRESH_S` (at once when `force`d), but
        load the receivers only when their signature or the groups changed."""
        tick = self._clock.monotonic()
        if not force and tick - self._last_refresh < REGISTRY_REFRESH_S:
            return
        self._last_refresh = tick
        async with self._store.read() as session:
            groups = await load_groups(session)
            signature = await receivers_signature(session)
            if signature == self._signature and groups == self._groups:
                return
            receivers = await load_receivers(session)
        self._signature, self._groups = signature, groups
        self._tree = GroupTree(groups)
        self._receivers = receivers
        self._registry = list(receivers.values())
        self.counters.registry_loads += 1

    async def _answer_births(self, now: datetime) -> None:
        births, self._births = self._births, {}
        if any(receiver_id not in self._receivers for receiver_id in births):
            await self._refresh_registry(force=True)  # registered since the last look
        for receiver_id, birth in births.items():
            receiver = self._receivers.get(receiver_id)
            if receiver is None:
                continue
            self.counters.births += 1
            wanted = memberships(receiver, self._tree)
            heard = frozenset(birth.groups) if birth.groups is not None else None
            self._listening[receiver_id] = heard or frozenset()
            if heard != wanted:
                body = Assign(tuple(sorted(wanted)), receiver.language)
                self.send.command("rx", receiver_id, body, now + ASSIGN_VALID)
            for active in self.active.values():
                self._resend(active, receiver, now)

    def _resend(self, active: ActiveOccurrence, receiver: Receiver, now: datetime) -> None:
        """Send one receiver its play command again, if it has not started playing."""
        delivery = active.deliveries.get(receiver.id)
        if (
            delivery is None
            or is_terminal(delivery.state)
            or rank(delivery.state) >= rank("playing")
        ):
            return
        if active.occurrence.state == "cancelled":
            return
        content = active.contents[language_for(receiver, list(active.contents))].content
        command_id = self.send.command(
            "rx", receiver.id, active.play(), active.occurrence.expires_at
        )
        if active.emergency:
            self._push(active, "rx", receiver.id, content)
        self._offer(active, delivery, content, command_id, now)

    def _apply_receipts(self, now: datetime) -> None:
        for event, update, occurrence_id in self.judge.judge(self.active, now):
            if update is not None:
                self._journal.moved(update, event)
            else:
                self._journal.event(event)
            if occurrence_id is not None:
                self._maybe_done.add(occurrence_id)
        # Checked once per step, not once per receipt: a check reads every delivery.
        for occurrence_id in self._maybe_done:
            self._finish_if_done(occurrence_id, now)
        self._maybe_done.clear()

    async def _dispatch_due(self, now: datetime) -> None:
        lead = timedelta(seconds=self._config.lead_s)
        async with self._store.read() as session:
            due = await due_in_store(session, now=now, lead=lead)
        for occurrence in due:
            try:
                await self._dispatch(occurrence.id, now)
            except (AudioError, TargetError) as exc:
                log.error("occurrence %s cannot be dispatched: %s", occurrence.id, exc)
                await complete(self._set_state(occurrence.id, "expired", now))

    async def _set_state(self, occurrence_id: str, state: str, now: datetime) -> None:
        async with self._store.write() as session:
            await set_occurrence_state(session, occurrence_id, state, now)

    async def _dispatch(self, occurrence_id: str, now: datetime) -> None:
        # Through `complete()`: a shutdown must not cut the transaction in half.
        started = await complete(self._start_deliveries(occurrence_id, now))
        if started is None:
            return
        occurrence, active, targeted, deliveries = started
        active.occurrence = dataclasses.replace(occurrence, state="dispatched", dispatched_at=now)
        active.deliveries = deliveries
        self.active[occurrence_id] = active
        self.counters.dispatched += 1
        contents = {language: ref.content for language, ref in active.contents.items()}
        units = fan_out(
            targeted, self._registry, self._tree, contents, listening=self._listening_of
        )
        play = active.play()
        deadline = occurrence.expires_at
        for unit in units:
            online = [rx for rx in unit.receivers if self._is_online(rx)]
            if not online:
                continue  # they are sent it when they come back (step 2)
            scope: Scope = "grp" if unit.scope == "group" else "rx"
            command_id = self.send.command(scope, unit.id, play, deadline)
            if scope == "grp" or active.emergency:
                self._push(active, scope, unit.id, unit.content)
            for receiver_id in online:
                self._offer(active, deliveries[receiver_id], unit.content, command_id, now)
        log.info(
            "dispatched %s %r to %d receivers in %d publishes",
            occurrence_id[:12],
            active.bulletin.title,
            len(targeted),
            len(units),
        )

    def _push(self, active: ActiveOccurrence, scope: Scope, owner: str, content: str) -> None:
        ref = active.content(content)
        if ref is None:
            return
        self.send.chunks_of(scope, owner, ref, range(ref.chunk_count), active.occurrence.expires_at)

    def _offer(
        self,
        active: ActiveOccurrence,
        delivery: Delivery,
        content: str,
        command_id: str,
        now: datetime,
    ) -> None:
        active.commands[delivery.receiver] = command_id
        step = offer(delivery, content, now)
        if step.applied:
            active.deliveries[delivery.receiver] = step.delivery
            self._journal.moved(
                DeliveryUpdate(step.delivery, command_id=command_id),
                self.judge.controller_event(step, command_id, now),
            )

    def _listening_of(self, receiver_id: str) -> frozenset[str]:
        return self._listening.get(receiver_id, frozenset())

    def _repair(self, request: RepairRequest) -> None:
        self.counters.repairs += 1
        active = next(
            (a for a in self.active.values() if a.serves(request.id, request.content)), None
        )
        ref = None if active is None else active.content(request.content)
        if active is None or ref is None:
            self._warn.warning(
                "unasked_repair",
                self._clock.monotonic(),
                "repair request from %s for content %s, which no live occurrence sends it",
                request.id,
                request.content[:12],
            )
            return
        wanted = [i for i in request.chunks if 0 <= i < ref.chunk_count]
        wanted = wanted[: self._repair_budget.allow(request.id, len(wanted))]
        try:
            self.counters.repair_chunks += self.send.chunks_of(
                "rx", request.id, ref, wanted, active.occurrence.expires_at
            )
        except AudioError as exc:  # the stored content is damaged or gone: say so, go on
            self._warn.warning("content_unreadable", self._clock.monotonic(), "%s", exc)

    async def _follow_cancels(self, now: datetime) -> None:
        if not self.active:
            return
        async with self._store.read() as session:
            rows = await cancelled_among(session, list(self.active))
        cancelled = [i for i in rows if self.active[i].occurrence.state != "cancelled"]
        for occurrence_id in cancelled:
            active = self.active[occurrence_id]
            active.occurrence = dataclasses.replace(active.occurrence, state="cancelled")
            cancel_body = Cancel(occurrence_id)
            for delivery in list(active.deliveries.values()):
                if is_terminal(delivery.state):
                    continue
                if delivery.state == "queued":
                    self._end(active, cancel(delivery, now), now)
                else:
                    self.send.command(
                        "rx", delivery.receiver, cancel_body, active.occurrence.expires_at
                    )
            log.info("occurrence %s cancelled", occurrence_id[:12])

    async def _start_deliveries(
        self, occurrence_id: str, now: datetime
    ) -> tuple[OccurrenceRow, ActiveOccurrence, list[Receiver], dict[str, Delivery]] | None:
        """Mark a scheduled occurrence dispatched and queue a delivery per targeted receiver,
        in one transaction; None if it is gone, not scheduled, or its bulletin is."""
        async with self._store.write() as session:
            occurrence = await get_occurrence(session, occurrence_id)
            if occurrence is None or occurrence.state != "scheduled":
                return None
            active = await activate(session, self._files, occurrence)
            if active is None:
                return None
            detail = await get_bulletin(session, occurrence.bulletin_id)
            if detail is None:
                return None
            targeted = resolve(detail.targets, self._registry, self._tree)
            deliveries = {r.id: start(occurrence_id, r.id, now) for r in targeted}
            await insert_deliveries(session, list(deliveries.values()))
            await set_occurrence_state(session, occurrence_id, "dispatched", now)
        return occurrence, active, targeted, deliveries

    async def _expire(self, now: datetime) -> None:
        for active in list(self.active.values()):
            for step in expiry_steps(active, now, PLAYING_GRACE):
                self._end(active, step, now)
            self._finish_if_done(active.id, now)
        await complete(self._expire_overdue(now))

    async def _expire_overdue(self, now: datetime) -> None:
        async with self._store.write() as session:
            for occurrence in await overdue_occurrences(session, now=now):
                if occurrence.id not in self.active and occurrence.state == "scheduled":
                    await set_occurrence_state(session, occurrence.id, "expired", now)

    def _end(self, active: ActiveOccurrence, step: Step, now: datetime) -> None:
        if not step.applied:
            return
        delivery = step.delivery
        active.deliveries[delivery.receiver] = delivery
        self._journal.moved(DeliveryUpdate(delivery), self.judge.controller_event(step, None, now))

    def _finish_if_done(self, occurrence_id: str, now: datetime) -> None:
        active = self.active.get(occurrence_id)
        if active is not None and active.finished():
            self._journal.finished(occurrence_id, active.occurrence.state)
            del self.active[occurrence_id]
