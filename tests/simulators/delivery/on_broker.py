"""A test-side controller on a real broker: signs commands, sends chunks, answers clocks.

`BrokerController` is a paho client subscribed to every receiver's `receipt`,
`repair` and `time` channels. On its network thread it answers clock requests at
once (a signed `time` command by the true clock) and repair requests (the
chunks asked for, on the receiver's own chunk topic), and it records every
receipt, decoded with the protocol package, for the test to wait on.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paho.mqtt.client import Client, MQTTMessage

from devices.protocol.command_bodies import Body, TimeReply
from devices.protocol.receipts import (
    Receipt,
    RepairRequest,
    decode_receipt,
    decode_repair,
    decode_time_request,
)
from devices.protocol.receiver import ReceiverBirth, decode_status
from devices.protocol.topics import Topics
from simulators.config import BrokerAddress, SimSettings
from tests.simulators.delivery.support import Content, Controller
from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient


class BrokerController(PahoClient):
    """The controller's side of delivery, for tests (see the module docstring)."""

    def __init__(self, host: str, port: int, topics: Topics) -> None:
        super().__init__(host, port)
        self.topics = topics
        self.signer = Controller(topics)
        self.contents: dict[str, Content] = {}
        self.receipts: list[Receipt] = []
        self.births: list[ReceiverBirth] = []
        self.repairs: list[RepairRequest] = []
        self.time_requests = 0
        #: chunks (content, index) never sent, not even when asked for: a broken link.
        self.withheld: set[tuple[str, int]] = set()

    def start(self) -> None:
        self.connect()
        for channel in ("receipt", "repair", "time", "status"):
            self.subscribe(self.topics.every_receiver(channel))

    # -- sending ---------------------------------------------------------------------------

    def send(self, to: str, body: Body, *, scope: str = "rx", **options: Any) -> str:
        """Sign and publish a command; its id."""
        topic, payload = self.signer.command(to, body, scope=scope, **options)
        self.publish(topic, [payload])
        return str(json.loads(payload)["id"])

    def publish_raw(self, topic: str, payload: bytes) -> None:
        self.publish(topic, [payload])

    def send_chunks(
        self, group: str, content: Content, indices: Iterable[int] | None = None
    ) -> None:
        """Publish chunks of `content` once on the group's chunk topic."""
        self.contents[content.id] = content
        for index in range(content.count) if indices is None else indices:
            topic = self.topics.group_chunk(group, content.id, index)
            self.client.publish(topic, content.chunk(index), qos=1)

    # -- what came back --------------------------------------------------------------------

    def receipts_of(self, occurrence: str | None, receiver: str | None = None) -> list[Receipt]:
        with self._changed:
            return [
                r
                for r in self.receipts
                if r.occurrence == occurrence and (receiver is None or r.id == receiver)
            ]

    def states(self, occurrence: str, receiver: str | None = None) -> list[str]:
        return [r.state for r in self.receipts_of(occurrence, receiver)]

    def wait_state(
        self, occurrence: str | None, state: str, timeout: float = 10.0, receiver: str | None = None
    ) -> Receipt:
        """Block until a receipt of `state` for `occurrence` came; that receipt."""
        found: list[Receipt] = []

        def arrived() -> bool:
            found[:] = [
                r
                for r in self.receipts
                if r.occurrence == occurrence
                and r.state == state
                and (receiver is None or r.id == receiver)
            ]
            return bool(found)

        self.wait_for(arrived, timeout, f"a {state} receipt for {occurrence}")
        return found[0]

    def wait_birth(self, receiver: str, groups: tuple[str, ...], timeout: float = 10.0) -> None:
        """Block until `receiver` announced `groups` (it listens to their topics by then)."""

        def announced() -> bool:
            return any(b.id == receiver and b.groups == groups for b in self.births)

        self.wait_for(announced, timeout, f"a birth of {receiver} in {groups}")

    # -- paho's thread ---------------------------------------------------------------------

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        received = datetime.now(UTC)
        parsed = self.topics.parse_receiver(message.topic)
        if parsed is not None:
            receiver, channel = parsed
            payload = bytes(message.payload)
            if channel == "time":
                self._answer_clock(receiver, payload, message.topic, received)
            elif channel == "repair":
                self._repair(receiver, payload, message.topic)
            elif channel == "receipt":
                receipt = decode_receipt(payload, message.topic, receiver)
                self._notify(lambda: self.receipts.append(receipt))
            elif channel == "status":
                status = decode_status(payload, receiver, message.topic)
                if isinstance(status, ReceiverBirth):
                    self._notify(lambda: self.births.append(status))
        super()._on_message(client, userdata, message)

    def _answer_clock(self, receiver: str, payload: bytes, topic: str, received: datetime) -> None:
        request = decode_time_request(payload, topic, receiver)
        self.time_requests += 1
        reply = TimeReply(request.request, received, datetime.now(UTC))
        command_topic, signed = self.signer.command(receiver, reply, lifetime=30)
        self.client.publish(command_topic, signed, qos=1)

    def _repair(self, receiver: str, payload: bytes, topic: str) -> None:
        request = decode_repair(payload, topic, receiver)
        self._notify(lambda: self.repairs.append(request))
        content = self.contents.get(request.content)
        if content is None:
            return
        for index in request.chunks:
            if (content.id, index) not in self.withheld:
                chunk_topic = self.topics.receiver_chunk(receiver, content.id, index)
                self.client.publish(chunk_topic, content.chunk(index), qos=1)


def broker_settings(
    mosquitto: PrivateMosquitto,
    topic_prefix: str,
    controller: BrokerController,
    flash: Path,
    **changes: Any,
) -> SimSettings:
    """Receivers' settings for tests on a private broker: fast reconnects and repairs, the
    controller's key, no clock drift; `changes` override fields."""
    settings = SimSettings(
        broker=BrokerAddress(mosquitto.host, mosquitto.port),
        topic_prefix=topic_prefix,
        keepalive=10,
        reboot_delay=0.2,
        backoff_initial=0.1,
        backoff_max=0.5,
        connect_timeout=2,
        ack_timeout=2,
        public_key=controller.signer.key.public,
        data_root=flash,
        clock_drift_ppm=0,
        repair_wait_s=0.5,
    )
    return dataclasses.replace(settings, **changes)
