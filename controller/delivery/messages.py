"""What delivery publishes: signed commands and audio chunks, as outbox parcels.

Every command gets a fresh id (the receivers' replay guard), the controller's time as
`issued`, and an expiry: a play or cancel lasts as long as its occurrence, an assign a
day, a clock answer a minute (a late one would mislead a receiver's clock estimate).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from audio.content_store import ContentStore
from audio.store_errors import ContentCorrupt
from controller.delivery.outbox import Outbox
from controller.mqtt.link import Outgoing
from devices.protocol.command_bodies import Body
from devices.protocol.commands import Command, new_command_id, target
from devices.protocol.content_ref import ContentRef
from devices.protocol.signing import SigningKey
from devices.protocol.topics import Scope, Topics
from loa.clock import Clock

ASSIGN_VALID = timedelta(days=1)
TIME_VALID = timedelta(minutes=1)


class Messenger:
    """Signs commands and reads chunks into the outbox."""

    def __init__(
        self, topics: Topics, key: SigningKey, clock: Clock, files: ContentStore, outbox: Outbox
    ) -> None:
        self._topics = topics
        self._key = key
        self._clock = clock
        self._files = files
        self._outbox = outbox
        self.commands = 0
        self.chunks = 0

    def command(self, scope: Scope, owner: str, body: Body, expires: datetime) -> str:
        """Sign `body` for `scope:owner`, queue it, and return the command id."""
        now = self._clock.now()
        if expires <= now:
            expires = now + TIME_VALID  # still valid long enough to be refused as too late
        command = Command(
            id=new_command_id(), to=target(scope, owner), issued=now, expires=expires, body=body
        )
        payload = command.encode(self._key)
        self._outbox.put(Outgoing(command.topic(self._topics), payload, qos=1), expires)
        self.commands += 1
        return command.id

    def chunks_of(
        self,
        scope: Scope,
        owner: str,
        ref: ContentRef,
        indices: range | list[int],
        deadline: datetime,
    ) -> int:
        """Queue chunks `indices` of content `ref` on the topics of `scope:owner`; how many.

        The file is opened once and each chunk checked against the signed hash it is sent
        under (a receiver would drop a chunk damaged on disk, and ask again for nothing).
        """
        count = 0
        with self._files.open(ref.content) as file:
            for index in indices:
                file.seek(index * ref.chunk_size)
                data = file.read(ref.chunk_size)
                if hashlib.sha256(data).hexdigest() != ref.chunk_sha256[index]:
                    raise ContentCorrupt(
                        ref.content,
                        self._files.path_of(ref.content),
                        f"chunk {index} does not match its manifest",
                    )
                topic = self._topics.chunk(scope, owner, ref.content, index)
                self._outbox.put(Outgoing(topic, data, qos=1), deadline)
                count += 1
        self.chunks += count
        return count


class RepairBudget:
    """Chunks re-sent to one receiver per minute, at most: a receiver asking in a loop
    (broken firmware, or someone pretending to be it) cannot flood the broker."""

    def __init__(self, clock: Clock, per_minute: int) -> None:
        self._clock = clock
        self._per_minute = per_minute
        self._used: dict[str, tuple[float, int]] = {}

    def allow(self, receiver_id: str, asked: int) -> int:
        """How many of `asked` chunks may be sent to `receiver_id` now."""
        tick = self._clock.monotonic()
        start, used = self._used.get(receiver_id, (tick, 0))
        if tick - start >= 60.0:
            start, used = tick, 0
        allowed = max(0, min(asked, self._per_minute - used))
        self._used[receiver_id] = (start, used + allowed)
        return allowed
