"""What delivery has decided but not yet written, written in batches.

Receipts arrive by the thousand a second; one transaction each would cap them at the
store's commit rate. The service records here every delivery it moved (the last move
of a delivery replaces the earlier ones), every event, and the occurrences whose
deliveries have all ended; `flush()` writes them in one transaction. `due()` says when:
once `FLUSH_BATCH` have gathered, or `FLUSH_SECONDS` after the last write (and, if it
is not time yet, makes sure the service is woken when it is, even with no input).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from controller.store import Store
from controller.store.bulletins import set_occurrence_state
from controller.store.deliveries import (
    DeliveryEvent,
    DeliveryUpdate,
    record_delivery_events,
    save_deliveries,
)
from controller.store.shield import complete
from devices.delivery import Delivery
from loa.clock import Clock

#: Deliveries and events written in one transaction once this many have gathered...
FLUSH_BATCH = 2000
#: ...or once this many seconds have passed since the last write.
FLUSH_SECONDS = 0.2


class Journal:
    def __init__(self, store: Store, clock: Clock, wake: Callable[[], None]) -> None:
        self._store = store
        self._clock = clock
        self._wake = wake
        self._updates: dict[tuple[str, str], DeliveryUpdate] = {}
        self._events: list[DeliveryEvent] = []
        self._finished: list[tuple[str, str]] = []
        self._last_flush = -1e9
        self._timer: asyncio.Task[None] | None = None
        #: Told of every delivery moved and every occurrence finished (the live view).
        self.on_moved: list[Callable[[Delivery], None]] = []
        self.on_finished: list[Callable[[str, str], None]] = []

    def moved(self, update: DeliveryUpdate, event: DeliveryEvent | None = None) -> None:
        """A delivery's new state (replacing any not yet written), with its event."""
        delivery = update.delivery
        self._updates[(delivery.occurrence, delivery.receiver)] = update
        if event is not None:
            self._events.append(event)
        for listener in self.on_moved:
            listener(delivery)

    def event(self, event: DeliveryEvent) -> None:
        """An event that moved nothing (a duplicate, an anomaly, ...)."""
        self._events.append(event)

    def finished(self, occurrence_id: str, state: str) -> None:
        """Every delivery of the occurrence has ended; a `dispatched` one becomes `done`."""
        self._finished.append((occurrence_id, state))
        for listener in self.on_finished:
            listener(occurrence_id, "done" if state == "dispatched" else state)

    @property
    def waiting(self) -> int:
        return len(self._updates) + len(self._events) + len(self._finished)

    def due(self) -> bool:
        """Whether to write now; if not yet, a wake is scheduled for when it will be."""
        if not self.waiting:
            return False
        tick = self._clock.monotonic()
        if self.waiting >= FLUSH_BATCH or tick - self._last_flush >= FLUSH_SECONDS:
            self._last_flush = tick
            return True
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(
                self._wake_after(FLUSH_SECONDS), name="delivery-flush-timer"
            )
        return False

    async def _wake_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._wake()

    async def flush(self) -> None:
        """Write everything gathered, in one transaction."""
        updates, self._updates = list(self._updates.values()), {}
        events, self._events = self._events, []
        finished, self._finished = self._finished, []
        if not (updates or events or finished):
            return
        # Through `complete()`: a shutdown cancelling the service must not cut the
        # transaction in half (controller/store/shield.py).
        await complete(self._write(updates, events, finished, self._clock.now()))

    async def _write(
        self,
        updates: list[DeliveryUpdate],
        events: list[DeliveryEvent],
        finished: list[tuple[str, str]],
        now: datetime,
    ) -> None:
        async with self._store.write() as session:
            if updates:
                await save_deliveries(session, updates)
            if events:
                await record_delivery_events(session, events)
            for occurrence_id, state in finished:
                if state == "dispatched":
                    await set_occurrence_state(session, occurrence_id, "done", now)

    async def close(self) -> None:
        """Stop the wake timer and write what is left."""
        if self._timer is not None:
            self._timer.cancel()
        await self.flush()
