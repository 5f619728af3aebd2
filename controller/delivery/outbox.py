"""Publishing for delivery: commands and audio chunks, in order, with bounded waiting.

The MQTT link reads incoming messages one at a time, so nothing that handles a receipt
or a clock request may wait for a broker acknowledgement there. Delivery puts what it
sends in this outbox instead; `run()` publishes it with at most `in_flight` messages
awaiting their PUBACK, in the order given (MQTT keeps the order of one client's QoS 1
publishes to a subscriber).

A message that cannot be published because the link is down is kept and sent when
the link is back, unless its `deadline` passed meanwhile (a command past its expiry,
a chunk of an occurrence that expired): receivers could not use it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from controller.mqtt.link import LinkDown, MqttLink, Outgoing
from loa.clock import Clock

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Parcel:
    """One message to publish, and the instant after which it is no use."""

    message: Outgoing
    deadline: datetime


@dataclass
class OutboxCounters:
    published: int = 0
    bytes: int = 0
    dropped: int = 0


class Outbox:
    def __init__(self, clock: Clock, *, in_flight: int) -> None:
        self._clock = clock
        self._queue: asyncio.Queue[Parcel] = asyncio.Queue()
        self._in_flight = in_flight
        self._link: MqttLink | None = None
        self._link_up = asyncio.Event()
        self.counters = OutboxCounters()

    def attach(self, link: MqttLink) -> None:
        """The link is connected: publish through it."""
        self._link = link
        self._link_up.set()

    def detach(self) -> None:
        """The link is down: hold what is queued until `attach()`."""
        self._link_up.clear()

    def put(self, message: Outgoing, deadline: datetime) -> None:
        self._queue.put_nowait(Parcel(message, deadline))

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    async def drained(self) -> None:
        """Return once everything put so far was published (or dropped)."""
        await self._queue.join()

    async def run(self) -> None:
        """Publish until cancelled, `in_flight` at a time."""
        async with asyncio.TaskGroup() as workers:
            for number in range(self._in_flight):
                workers.create_task(self._worker(), name=f"delivery-outbox-{number}")

    async def _worker(self) -> None:
        while True:
            parcel = await self._queue.get()
            try:
                await self._send(parcel)
            finally:
                self._queue.task_done()

    async def _send(self, parcel: Parcel) -> None:
        while True:
            if self._clock.now() > parcel.deadline:
                self.counters.dropped += 1
                log.debug("dropped %s: past its deadline", parcel.message.topic)
                return
            await self._link_up.wait()
            link = self._link
            if link is None:
                continue
            try:
                await link.publish(parcel.message)
            except LinkDown as exc:
                log.debug("%s; retrying when the link is back", exc)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self.counters.published += 1
            self.counters.bytes += len(parcel.message.payload)
            return
