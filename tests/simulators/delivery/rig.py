"""One delivery agent on a fake clock, a test-side controller, and what the agent sent."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from devices.protocol.command_bodies import Body
from devices.protocol.receipts import Receipt, RepairRequest, decode_receipt, decode_repair
from devices.protocol.topics import Topics
from simulators.config import SimSettings
from simulators.delivery.agent import DeliveryAgent
from simulators.delivery.clock import SimClock
from simulators.delivery.outbox import DeliveryCounters
from tests.simulators.delivery.support import Content, Controller, FakeClock

RX = "cb-tl-01"
PREFIX = "test"


class Rig:
    """A receiver's delivery agent in `folder`, its clock off by `offset_s`."""

    def __init__(self, folder: Path, *, offset_s: float = 0.0, **settings: Any) -> None:
        self.true = FakeClock()
        self.topics = Topics(PREFIX)
        self.controller = Controller(self.topics, self.true)
        self.settings = SimSettings(
            topic_prefix=PREFIX, public_key=self.controller.key.public, **settings
        )
        self.folder = folder
        self.offset_s = offset_s
        self.counters = DeliveryCounters()
        self.sent: list[tuple[str, bytes]] = []
        self.link = True
        self.epoch = 1
        self.seq = 0
        self.agent = self.boot()

    def boot(self) -> DeliveryAgent:
        clock = SimClock(self.true, self.offset_s)
        return DeliveryAgent(
            RX,
            self.settings,
            self.folder,
            clock,
            send_now=self._send_now,
            counters=self.counters,
        )

    def reboot(self) -> None:
        """Power cycle: what was in memory is gone, a new agent reads the flash."""
        self.agent = self.boot()
        self.epoch += 1
        self.seq = 0

    def _send_now(self, topic: str, payload: bytes) -> bool:
        if self.link:
            self.sent.append((topic, payload))
        return self.link

    # -- the controller's side -------------------------------------------------------------

    def command(self, body: Body, **options: Any) -> bytes:
        """Sign and deliver a command (to this receiver unless `scope`/`to` say otherwise)."""
        to = options.pop("to", RX)
        topic, payload = self.controller.command(to, body, **options)
        self.deliver(topic, payload)
        return payload

    @staticmethod
    def controller_command_id(payload: bytes) -> str:
        """The id of a signed command (read back from its JSON)."""
        return str(json.loads(payload)["id"])

    def deliver(self, topic: str, payload: bytes) -> None:
        self.agent.on_command(payload, topic, self.agent.raw.now())

    def chunks(self, content: Content, *indices: int) -> None:
        for index in indices or range(content.count):
            self.agent.on_chunk(content.id, index, content.chunk(index))

    # -- what came out ---------------------------------------------------------------------

    def receipts(self) -> list[Receipt]:
        """Receipts sent since the last call, decoded as the controller would."""
        found = []
        keep = []
        for message in self.agent.outbox:
            if message.receipt is None:
                keep.append(message)
                continue
            payload = message.encode(self.epoch, self.seq)
            self.seq += 1
            found.append(decode_receipt(payload, message.topic, RX))
        self.agent.outbox[:] = keep
        return found

    def states(self) -> list[tuple[str | None, str]]:
        return [(r.occurrence, r.state) for r in self.receipts()]

    def repairs(self) -> list[RepairRequest]:
        found = [
            decode_repair(m.payload, m.topic, RX) for m in self.agent.outbox if m.receipt is None
        ]
        self.agent.outbox[:] = [m for m in self.agent.outbox if m.receipt is not None]
        return found

    def run(self, seconds: float) -> None:
        """Let `seconds` of true time pass, ticking the agent whenever it asks to."""
        end = self.true.now() + timedelta(seconds=seconds)
        while (delay := self.agent.next_delay()) is not None and self.true.now() + timedelta(
            seconds=delay
        ) <= end:
            self.true.advance(max(delay, 0.0005))
            self.agent.tick()
        self.true.advance((end - self.true.now()).total_seconds())
        self.agent.tick()


def replaced(body: Body, **changes: Any) -> Body:
    return dataclasses.replace(body, **changes)
