"""An in-process hub of live events: receiver states, delivery progress, alerts.

The controller's parts `publish()` what changed, without waiting and without knowing
who listens. Each watcher (one SSE stream of the dashboard or the API) holds a
`Subscription` and takes what gathered in batches.

A watcher can never fall behind: events carry a key (`receiver:ID`, `delivery:OCC:ID`),
and a newer event with the same key replaces the one not yet taken, so a batch holds at
most the latest state of each thing. A watcher that lets more than `max_pending` distinct
keys gather (a stalled browser tab) is told to reload (`resync`) instead of being sent
the backlog, and the controller never blocks on it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: Distinct keys one watcher may have waiting before it is told to reload instead.
MAX_PENDING = 50_000


@dataclass(frozen=True)
class LiveEvent:
    """One change: `kind` (receiver, delivery, occurrence, alerts, link), what it is about
    (`key`, unique per thing, so a newer state replaces an older one), and its JSON data."""

    kind: str
    key: str
    data: dict[str, Any]
    #: For filtering without reading `data`: the occurrence a delivery event is about.
    occurrence: str | None = None

    def wire(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.data}


Filter = Callable[[LiveEvent], bool]


@dataclass(eq=False)
class Subscription:
    """One watcher's queue of events not yet taken."""

    hub: LiveHub
    wants: Filter
    max_pending: int = MAX_PENDING
    _pending: dict[str, LiveEvent] = field(default_factory=dict)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    #: True once the watcher missed events (too many waiting): it must reload.
    overflowed: bool = False
    closed: bool = False

    def offer(self, event: LiveEvent) -> None:
        if self.closed or not self.wants(event):
            return
        if self.overflowed:
            return
        # A replaced key moves to the end: the batch keeps the order of the latest changes.
        self._pending.pop(event.key, None)
        if len(self._pending) >= self.max_pending:
            self._pending.clear()
            self.overflowed = True
        else:
            self._pending[event.key] = event
        self._ready.set()

    async def next_batch(self, wait_s: float, gather_s: float = 0.0) -> list[LiveEvent] | None:
        """The events gathered, after waiting up to `wait_s` for the first one and then
        `gather_s` more for others (so a burst goes out as one batch). An empty list when
        nothing came; None once the hub is closed."""
        if self.closed:
            return None
        if not self._pending and not self.overflowed:
            try:
                async with asyncio.timeout(wait_s):
                    await self._ready.wait()
            except TimeoutError:
                return None if self.is_closed() else []
            if self.is_closed():  # closed while waiting
                return None
            if gather_s > 0:
                await asyncio.sleep(gather_s)
        self._ready.clear()
        batch = list(self._pending.values())
        self._pending.clear()
        return batch

    def is_closed(self) -> bool:
        return self.closed

    def take_overflow(self) -> bool:
        """Whether events were dropped since the last call (the watcher must reload)."""
        overflowed, self.overflowed = self.overflowed, False
        return overflowed

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self.hub.unsubscribe(self)


class LiveHub:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._closed = False
        self.published = 0

    @property
    def watchers(self) -> int:
        return len(self._subscriptions)

    def subscribe(
        self, wants: Filter | None = None, *, max_pending: int = MAX_PENDING
    ) -> Subscription:
        subscription = Subscription(self, wants or _everything, max_pending)
        if self._closed:
            subscription.closed = True  # the controller is stopping: the stream ends at once
        else:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, event: LiveEvent) -> None:
        """Give `event` to every watcher that wants it; never blocks, never raises."""
        self.published += 1
        for subscription in tuple(self._subscriptions):
            try:
                subscription.offer(event)
            except Exception:  # a watcher's filter must not break the controller
                log.exception("a live watcher failed on %s; dropping it", event.kind)
                subscription.close()

    def publish_all(self, events: Iterable[LiveEvent]) -> None:
        for event in events:
            self.publish(event)

    def close(self) -> None:
        """End every subscription (the server is stopping); later ones end at once."""
        self._closed = True
        for subscription in tuple(self._subscriptions):
            subscription.close()


def _everything(_event: LiveEvent) -> bool:
    return True
