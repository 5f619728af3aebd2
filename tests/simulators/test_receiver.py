"""A simulated receiver against a real private Mosquitto, watched by a paho subscriber."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from paho.mqtt.client import MQTTMessage

from devices.protocol import (
    ControllerPresence,
    Heartbeat,
    ReceiverBirth,
    ReceiverOffline,
    Topics,
    decode_heartbeat,
    decode_status,
)
from simulators.config import BrokerAddress, ReceiverSpec, SimSettings
from simulators.receiver import SimReceiver
from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient
from tests.support.watching import eventually

pytestmark = pytest.mark.broker

RX = "cb-tl-01"


@pytest.fixture
def settings(mosquitto: PrivateMosquitto, topic_prefix: str) -> SimSettings:
    return SimSettings(
        broker=BrokerAddress(mosquitto.host, mosquitto.port),
        topic_prefix=topic_prefix,
        keepalive=2,
        reboot_delay=0.3,
        backoff_initial=0.1,
        backoff_max=0.5,
        connect_timeout=2,
        ack_timeout=2,
    )


@pytest.fixture
async def receiver(settings: SimSettings) -> AsyncIterator[SimReceiver]:
    sim = SimReceiver(ReceiverSpec(RX, heartbeat_s=1), settings)
    yield sim
    await sim.stop(timeout=3)


class Seen:
    """What the watcher saw of one receiver, decoded with the protocol package."""

    def __init__(self, watcher: PahoClient, topics: Topics, receiver_id: str = RX) -> None:
        self.watcher = watcher
        self.status_topic = topics.receiver(receiver_id, "status")
        self.heartbeat_topic = topics.receiver(receiver_id, "heartbeat")
        self.receiver_id = receiver_id

    def _messages(self, topic: str) -> list[MQTTMessage]:
        return [m for m in list(self.watcher.messages) if m.topic == topic]

    def statuses(self) -> list[ReceiverBirth | ReceiverOffline]:
        return [
            decode_status(bytes(m.payload), self.receiver_id)
            for m in self._messages(self.status_topic)
        ]

    def births(self) -> list[ReceiverBirth]:
        return [s for s in self.statuses() if isinstance(s, ReceiverBirth)]

    def birth_times(self) -> list[float]:
        """When the watcher received each birth (paho's monotonic timestamps)."""
        return [
            m.timestamp
            for m in self._messages(self.status_topic)
            if isinstance(decode_status(bytes(m.payload), self.receiver_id), ReceiverBirth)
        ]

    def offlines(self) -> list[ReceiverOffline]:
        return [s for s in self.statuses() if isinstance(s, ReceiverOffline)]

    def heartbeats(self) -> list[tuple[float, Heartbeat]]:
        return [
            (m.timestamp, decode_heartbeat(bytes(m.payload), self.receiver_id))
            for m in self._messages(self.heartbeat_topic)
        ]


@pytest.fixture
def seen(watcher: PahoClient, topic_prefix: str) -> Seen:
    return Seen(watcher, Topics(topic_prefix))


async def test_birth_is_retained_and_heartbeats_follow_every_interval(
    receiver: SimReceiver, seen: Seen, mosquitto: PrivateMosquitto, settings: SimSettings
) -> None:
    receiver.start()
    await eventually(lambda: len(seen.heartbeats()) >= 4, 8, "four heartbeats")
    (birth,) = seen.births()
    assert birth.epoch == receiver.epoch
    assert (birth.heartbeat_s, birth.firmware) == (1, settings.firmware)
    assert birth.capabilities == settings.capabilities
    beats = seen.heartbeats()
    assert [hb.seq for _, hb in beats[:4]] == [0, 1, 2, 3]
    assert {hb.epoch for _, hb in beats} == {birth.epoch}
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(beats)]
    assert all(0.7 < gap < 1.5 for gap in gaps[:3]), gaps
    assert abs((beats[0][1].at - datetime.now(UTC)).total_seconds()) < 10
    assert receiver.counters.births == 1
    assert receiver.counters.heartbeats >= 4
    # a subscriber that comes later still gets the birth: it is retained
    with PahoClient(mosquitto.host, mosquitto.port) as late:
        late.connect()
        await asyncio.to_thread(late.subscribe, seen.status_topic)
        await asyncio.to_thread(late.wait_for, lambda: bool(late.messages), 5, "retained birth")
        assert late.messages[0].retain
        assert decode_status(bytes(late.messages[0].payload), RX) == birth


async def test_reboot_says_goodbye_and_comes_back_with_a_new_epoch(
    receiver: SimReceiver, seen: Seen
) -> None:
    receiver.start()
    await eventually(lambda: len(seen.heartbeats()) >= 2, 5, "heartbeats")
    first = receiver.epoch
    assert first is not None
    receiver.reboot()
    await eventually(lambda: len(seen.births()) == 2, 5, "a second birth")
    assert [(o.epoch, o.reason) for o in seen.offlines()] == [(first, "reboot")]
    second = seen.births()[1].epoch
    assert second > first
    await eventually(
        lambda: any(hb.epoch == second for _, hb in seen.heartbeats()), 5, "new heartbeat"
    )
    assert next(hb.seq for _, hb in seen.heartbeats() if hb.epoch == second) == 0
    assert receiver.counters.reconnects == 0  # a reboot is not a lost connection


async def test_kill_leaves_the_will_of_the_same_epoch_until_power_on(
    receiver: SimReceiver, seen: Seen
) -> None:
    receiver.start()
    await eventually(lambda: len(seen.heartbeats()) >= 1, 5, "a heartbeat")
    epoch = receiver.epoch
    receiver.kill()
    took = await eventually(lambda: bool(seen.offlines()), 5, "the will")
    assert took < 2
    (will,) = seen.offlines()
    assert (will.epoch, will.reason, will.at) == (epoch, "lost", None)
    count = len(seen.heartbeats())
    await asyncio.sleep(1.5)
    assert len(seen.heartbeats()) == count  # dark
    assert receiver.state == "off"
    receiver.power_on()
    await eventually(lambda: len(seen.births()) == 2, 5, "a birth after power on")
    assert epoch is not None
    assert seen.births()[1].epoch > epoch


async def test_a_half_open_link_is_noticed_only_by_the_brokers_keepalive(
    receiver: SimReceiver, seen: Seen
) -> None:
    receiver.start()
    await eventually(lambda: len(seen.heartbeats()) >= 1, 5, "a heartbeat")
    epoch = receiver.epoch
    receiver.half_open()
    frozen_at = time.monotonic()
    assert receiver.state == "half-open"
    count = len(seen.heartbeats())
    # keepalive 2 s: Mosquitto drops it after 1.5 x 2 s, checked every ~5 s
    await eventually(lambda: bool(seen.offlines()), 15, "the will")
    assert time.monotonic() - frozen_at >= 2.0
    assert len(seen.heartbeats()) <= count + 1  # at most one was already on its way
    (will,) = seen.offlines()
    assert (will.epoch, will.reason) == (epoch, "lost")
    assert receiver.state == "half-open"  # it has not noticed
    receiver.restore_link()
    await eventually(lambda: len(seen.births()) == 2, 5, "a birth after the link is back")
    assert epoch is not None
    assert seen.births()[1].epoch > epoch
    assert receiver.counters.reconnects == 1
    assert receiver.is_online


async def test_a_restarted_controller_hears_the_receiver_again(
    receiver: SimReceiver, seen: Seen, watcher: PahoClient, topic_prefix: str
) -> None:
    topic = Topics(topic_prefix).controller_status
    since = datetime.now(UTC)
    first = ControllerPresence("online", 7, since, "0.1.0").encode()
    await asyncio.to_thread(watcher.publish, topic, [first], retain=True)
    receiver.start()
    await eventually(lambda: len(seen.heartbeats()) >= 2, 5, "heartbeats")
    assert receiver.controller_epoch == 7
    assert len(seen.births()) == 1  # the retained presence is the past: no second birth
    restarted = ControllerPresence("online", 8, since, "0.1.0").encode()
    await asyncio.to_thread(watcher.publish, topic, [restarted], retain=True)
    await eventually(lambda: len(seen.births()) == 2, 3, "a second birth")
    births = seen.births()
    assert births[1].epoch == births[0].epoch == receiver.epoch
    announced = seen.birth_times()[1]
    await eventually(
        lambda: any(stamp >= announced for stamp, _ in seen.heartbeats()), 2, "a heartbeat"
    )
    assert min(s for s, _ in seen.heartbeats() if s >= announced) - announced < 0.3  # at once
    # the same controller epoch again (a duplicate) changes nothing
    await asyncio.to_thread(watcher.publish, topic, [restarted], retain=True)
    await asyncio.sleep(0.5)
    assert len(seen.births()) == 2


async def test_faults_show_in_the_next_heartbeats(receiver: SimReceiver, seen: Seen) -> None:
    receiver.start()
    await eventually(lambda: len(seen.heartbeats()) >= 1, 5, "a heartbeat")
    assert seen.heartbeats()[-1][1].speakers == "ok"
    receiver.fail_speaker()
    receiver.fail_amplifier()
    count = len(seen.heartbeats())
    await eventually(lambda: len(seen.heartbeats()) > count, 3, "another heartbeat")
    latest = seen.heartbeats()[-1][1]
    assert (latest.speakers, latest.amplifier) == ("fault", "fault")
    receiver.repair_speaker()
    receiver.repair_amplifier()
    count = len(seen.heartbeats())
    await eventually(lambda: len(seen.heartbeats()) > count, 3, "another heartbeat")
    latest = seen.heartbeats()[-1][1]
    assert (latest.speakers, latest.amplifier) == ("ok", "ok")


async def test_stop_says_shutdown_and_leaves_no_will(receiver: SimReceiver, seen: Seen) -> None:
    receiver.start()
    await eventually(lambda: receiver.is_online, 5, "online")
    epoch = receiver.epoch
    await receiver.stop()
    assert receiver.state == "stopped"
    await eventually(lambda: bool(seen.offlines()), 3, "the goodbye")
    await asyncio.sleep(0.5)
    assert [(o.epoch, o.reason) for o in seen.offlines()] == [(epoch, "shutdown")]


async def test_it_reconnects_after_the_broker_comes_back(
    receiver: SimReceiver, seen: Seen, mosquitto: PrivateMosquitto
) -> None:
    receiver.start()
    await eventually(lambda: receiver.is_online, 5, "online")
    epoch = receiver.epoch
    assert epoch is not None
    await asyncio.to_thread(mosquitto.stop)
    await eventually(lambda: receiver.state == "waiting", 5, "the loss noticed")
    await asyncio.to_thread(mosquitto.start)
    await eventually(lambda: receiver.is_online, 10, "online again")
    assert receiver.epoch is not None
    assert receiver.epoch > epoch
    assert receiver.counters.reconnects == 1
