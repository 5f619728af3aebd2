"""The controller's own presence on the broker, and its record in the store.

Each connection gets a new session epoch from the store. Before connecting,
the Last Will is set to `offline/lost` with that epoch; once connected the
controller subscribes to its own status topic and publishes `online`
(retained). A late Last Will of an older connection (the broker may publish
it after the new connection is up) would otherwise leave `offline` retained
while the controller is in fact online: when one arrives after our own
`online` came back to us, `online` is published again. What arrives before
that echo (the retained message, wills queued for our persistent session) is
history that our `online` replaces anyway. A clean stop publishes
`offline/shutdown`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from controller.mqtt.link import Incoming, MqttLink, Outgoing
from controller.store import Store, next_epoch, record_event
from controller.store.shield import complete
from devices.protocol import ControllerPresence, Topics
from loa import __version__
from loa.clock import Clock
from loa.errors import DecodeError

log = logging.getLogger(__name__)


class PresenceService:
    """`LinkHooks` for the controller's presence; later issues add their own hooks."""

    def __init__(
        self,
        topics: Topics,
        store: Store,
        controller_id: str,
        clock: Clock,
        *,
        version: str = __version__,
    ) -> None:
        self._topics = topics
        self._store = store
        self._controller_id = controller_id
        self._clock = clock
        self._version = version
        self._current: ControllerPresence | None = None
        self._link: MqttLink | None = None
        self._epoch_used = False
        self._echo_seen = False
        self.republished = 0

    @property
    def current(self) -> ControllerPresence | None:
        """The presence of the current (or last) connection."""
        return self._current

    def _offline(self, reason: str) -> ControllerPresence:
        assert self._current is not None  # noqa: S101 - set by prepare() before any use
        return ControllerPresence(
            state="offline",
            epoch=self._current.epoch,
            since=self._current.since,
            version=self._version,
            reason="lost" if reason == "lost" else "shutdown",
        )

    def _message(self, presence: ControllerPresence) -> Outgoing:
        return Outgoing(self._topics.controller_status, presence.encode(), qos=1, retain=True)

    async def prepare(self) -> Outgoing:
        """A new epoch for the coming connection; failed attempts do not use one up."""
        now = self._clock.now()
        if self._current is None or self._epoch_used:
            epoch = await complete(next_epoch(self._store, self._controller_id, now))
            self._epoch_used = False
        else:
            epoch = self._current.epoch
        self._current = ControllerPresence(
            state="online", epoch=epoch, since=now, version=self._version
        )
        return self._message(self._offline("lost"))

    async def connected(self, link: MqttLink) -> None:
        assert self._current is not None  # noqa: S101 - prepare() ran before connecting
        self._epoch_used = True
        self._echo_seen = False
        await link.subscribe(self._topics.controller_status)
        await link.publish(self._message(self._current))
        log.info(
            "presence online on %s (epoch %d)",
            self._topics.controller_status,
            self._current.epoch,
        )
        self._link = link
        await self._record("broker_connected", {"epoch": self._current.epoch})

    async def message(self, message: Incoming) -> None:
        if message.topic != self._topics.controller_status or self._current is None:
            return
        try:
            seen = ControllerPresence.decode(message.payload, message.topic)
        except DecodeError as exc:
            log.warning("ignored a malformed presence message: %s", exc)
            return
        current = self._current
        if seen.epoch == current.epoch and seen.state == "online":
            # Our own announcement: whatever arrives after it on this topic is news.
            self._echo_seen = True
        elif seen.epoch > current.epoch:
            log.warning(
                "another controller publishes presence on %s with a newer epoch (%d > %d); "
                "two controllers must not share one topic prefix",
                message.topic,
                seen.epoch,
                current.epoch,
            )
        elif not self._echo_seen:
            # Retained or queued from before this connection; our online replaces it.
            log.debug("presence of epoch %d from before this connection", seen.epoch)
        elif seen.state == "offline" and seen.epoch < current.epoch and self._link:
            log.info(
                "a late Last Will of epoch %d replaced our presence; publishing online again",
                seen.epoch,
            )
            self.republished += 1
            await self._link.publish(self._message(current))

    async def disconnected(self, reason: str) -> None:
        log.warning("lost the MQTT broker: %s", reason)
        await self._record("broker_lost", {"reason": reason})

    async def goodbye(self, link: MqttLink, timeout: float) -> bool:
        """Publish `offline/shutdown` (retained); False if the link is down or it timed out."""
        if self._current is None or not link.connected.is_set():
            return False
        try:
            await link.publish(self._message(self._offline("shutdown")), timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - shutting down: report and go on
            log.warning("could not publish offline presence: %s", exc)
            return False
        return True

    async def _record(self, kind: str, detail: dict[str, object]) -> None:
        await complete(record_event(self._store, self._controller_id, kind, detail, self._now()))

    def _now(self) -> datetime:
        return self._clock.now()
