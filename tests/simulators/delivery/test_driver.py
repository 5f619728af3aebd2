"""The driver: routing by topic and group, the one timer, the outbox stamped on the link."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devices.protocol.command_bodies import Body
from devices.protocol.receipts import decode_receipt
from devices.protocol.topics import Topics
from loa.clock import SystemClock
from loa.mqtt import Message
from simulators.config import SimSettings
from simulators.delivery.clock import SimClock
from simulators.delivery.driver import DeliveryDriver
from simulators.delivery.outbox import DeliveryCounters
from tests.simulators.delivery.support import Content, Controller
from tests.support.watching import eventually

RX = "cb-tl-01"
VILLAGE = "ban-na"


class FakeLink:
    """A connection that records what is published on it."""

    def __init__(self) -> None:
        self.is_connected = True
        self.is_frozen = False
        self.published: list[tuple[str, bytes, int]] = []

    def publish_nowait(self, topic: str, payload: bytes) -> None:
        self.published.append((topic, payload, 0))

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        timeout: float | None = None,
    ) -> None:
        self.published.append((topic, payload, qos))


class Rig:
    def __init__(self, settings: SimSettings) -> None:
        self.settings = settings
        self.controller = Controller(settings.topics)
        self.settings = dataclasses.replace(settings, public_key=self.controller.key.public)
        self.rings = 0
        self.driver = DeliveryDriver(
            RX, self.settings, SimClock(SystemClock()), DeliveryCounters(), self._ring
        )

    def _ring(self) -> None:
        self.rings += 1

    def message(self, topic: str, payload: bytes) -> str | None:
        return self.driver.route(Message(topic, payload, qos=1))

    def command(self, to: str, body: Body, scope: str = "rx") -> str | None:
        topic, payload = self.controller.command(to, body, scope=scope)
        return self.message(topic, payload)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(SimSettings(topic_prefix="t", data_root=tmp_path))
    yield rig
    rig.driver.close()


async def test_it_takes_its_own_topics_and_its_groups_only(rig: Rig) -> None:
    rig.driver.boot()
    topics: Topics = rig.settings.topics
    content = Content.make(size=2048, chunk_size=1024)
    play = rig.controller.play(content, play_at=datetime.now(UTC) + timedelta(seconds=60))
    assert rig.command(VILLAGE, play, scope="grp") is None  # not in the group yet
    assert rig.command(RX, rig.controller.assign(VILLAGE)) == "command"
    assert rig.driver.groups == (VILLAGE,)
    assert (topics.group_chunks(VILLAGE), 1) in rig.driver.subscriptions()
    assert rig.command(VILLAGE, play, scope="grp") == "command"
    assert rig.command("cb-tl-99", play) is None  # another receiver's topic
    chunk = content.chunk(0)
    assert rig.message(topics.group_chunk("ban-khac", content.id, 0), chunk) is None
    assert rig.message(topics.group_chunk(VILLAGE, content.id, 0), chunk) == "chunk"
    assert rig.message(topics.receiver_chunk(RX, content.id, 1), content.chunk(1)) == "chunk"
    assert rig.message(topics.controller_status, b"{}") is None
    agent = rig.driver.agent
    assert agent is not None
    assert agent.state_of(play.occurrence) == "armed"
    assert rig.rings > 0  # the session loop was told there are receipts to send


async def test_the_timer_plays_without_any_message(rig: Rig) -> None:
    rig.driver.boot()
    content = Content.make(size=1024, chunk_size=1024, duration_ms=50)
    play = rig.controller.play(content, play_at=datetime.now(UTC) + timedelta(seconds=0.1))
    rig.command(RX, play)
    rig.message(rig.settings.topics.receiver_chunk(RX, content.id, 0), content.chunk(0))
    agent = rig.driver.agent
    assert agent is not None
    await eventually(lambda: agent.state_of(play.occurrence) == "played", 5, "played")


async def test_flush_stamps_receipts_with_the_epoch_and_a_seq(rig: Rig) -> None:
    rig.driver.boot()
    content = Content.make(size=4096, chunk_size=1024)
    rig.command(RX, rig.controller.play(content, play_at=datetime.now(UTC) + timedelta(hours=1)))
    link = FakeLink()
    rig.driver.connected(link)
    assert [qos for _, _, qos in link.published] == [0]  # a clock request, at once
    assert json.loads(link.published[0][1])["request"] == 1
    link.published.clear()
    next_seq = await rig.driver.flush(link, epoch=7, first_seq=3)
    receipts = [decode_receipt(payload, topic, RX) for topic, payload, _ in link.published]
    assert [(r.epoch, r.seq, r.state) for r in receipts] == [
        (7, 3, "accepted"),
        (7, 4, "downloading"),
    ]
    assert next_seq == 5
    assert rig.driver.counters.receipts == 2
    agent = rig.driver.agent
    assert agent is not None
    assert agent.outbox == []


async def test_a_frozen_link_keeps_the_outbox(rig: Rig) -> None:
    rig.driver.boot()
    rig.command(RX, rig.controller.play(Content.make(), play_at=datetime.now(UTC)))
    link = FakeLink()
    link.is_frozen = True
    assert await rig.driver.flush(link, epoch=1, first_seq=0) == 0
    agent = rig.driver.agent
    assert agent is not None
    assert agent.outbox


async def test_power_off_forgets_memory_not_flash(rig: Rig) -> None:
    rig.driver.boot()
    rig.command(RX, rig.controller.assign(VILLAGE))
    rig.driver.power_off()
    assert rig.driver.agent is None
    assert rig.command(RX, rig.controller.assign("x")) is None  # off: nothing heard
    rig.driver.boot()
    assert rig.driver.groups == (VILLAGE,)


async def test_a_receiver_without_a_data_root_cleans_its_own_folder() -> None:
    rig = Rig(SimSettings(topic_prefix="t"))
    rig.driver.boot()
    rig.command(RX, rig.controller.assign(VILLAGE))
    folder = rig.driver.folder
    assert (folder / "assignment.json").exists()
    rig.driver.close()
    assert not folder.exists()


async def test_a_broken_flash_is_logged_and_the_link_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / RX).write_text("not a folder")
    rig = Rig(SimSettings(topic_prefix="t", data_root=tmp_path))
    rig.driver.boot()
    assert rig.command(RX, rig.controller.assign(VILLAGE)) == "command"
    assert "could not handle" in caplog.text
