"""Simulated receivers obey the maintenance commands: `volume` sets the level their
heartbeats report (kept across reboots), `restart` reboots them with a new epoch; forged,
expired and replayed ones are refused like any command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from devices.protocol import (
    Heartbeat,
    ReceiverBirth,
    ReceiverOffline,
    Restart,
    SetVolume,
    Topics,
    decode_heartbeat,
    decode_status,
)
from devices.protocol.signing import SigningKey
from simulators.config import ReceiverSpec
from simulators.receiver import SimReceiver
from tests.simulators.delivery.on_broker import BrokerController, broker_settings
from tests.simulators.delivery.rig import RX, Rig
from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient
from tests.support.watching import eventually


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path / RX)


def refusal(rig: Rig) -> str | None:
    (receipt,) = rig.receipts()
    assert (receipt.state, receipt.occurrence) == ("rejected", None)
    return receipt.reason


def volume(rig: Rig) -> int | None:
    return rig.agent.volume


def changed(rig: Rig) -> bool:
    return rig.agent.volume_changed


def restart_asked(rig: Rig) -> bool:
    return rig.agent.restart_asked


def test_a_volume_is_taken_and_kept_across_a_reboot(rig: Rig) -> None:
    assert volume(rig) is None  # never set: the device's own level
    rig.command(SetVolume(35))
    assert volume(rig) == 35
    assert changed(rig)  # the receiver sends a heartbeat at once
    assert rig.receipts() == []  # the heartbeat is the answer
    rig.reboot()
    assert volume(rig) == 35
    assert not changed(rig)
    rig.command(SetVolume(0))
    rig.reboot()
    assert volume(rig) == 0


def test_forged_expired_and_replayed_volumes_change_nothing(rig: Rig) -> None:
    rig.command(SetVolume(50))
    rig.command(SetVolume(10), key=SigningKey.generate())
    assert refusal(rig) == "bad_signature"
    rig.command(SetVolume(10), issued=rig.true.now() - timedelta(minutes=20), lifetime=60)
    assert refusal(rig) == "expired"
    payload = rig.command(SetVolume(20))
    rig.command(SetVolume(50))
    rig.deliver(rig.topics.receiver(RX, "cmd"), payload)  # an old one, replayed
    assert refusal(rig) == "replayed"
    assert volume(rig) == 50
    assert rig.counters.rejected == {"bad_signature": 1, "expired": 1, "replayed": 1}


def test_a_restart_is_asked_once_and_a_copy_after_the_reboot_is_replayed(rig: Rig) -> None:
    rig.command(Restart(), key=SigningKey.generate())
    assert refusal(rig) == "bad_signature"
    assert not restart_asked(rig)
    payload = rig.command(Restart("kiểm tra"))
    assert restart_asked(rig)
    rig.reboot()
    assert not restart_asked(rig)
    rig.deliver(rig.topics.receiver(RX, "cmd"), payload)
    assert refusal(rig) == "replayed"
    assert not restart_asked(rig)


@pytest.fixture
async def receiver(
    mosquitto: PrivateMosquitto,
    topic_prefix: str,
    controller: BrokerController,
    tmp_path: Path,
) -> AsyncIterator[SimReceiver]:
    settings = broker_settings(mosquitto, topic_prefix, controller, tmp_path / "flash")
    sim = SimReceiver(ReceiverSpec(RX, heartbeat_s=1), settings)
    yield sim
    await sim.stop(timeout=3)


@pytest.mark.broker
async def test_on_the_broker_volume_shows_in_heartbeats_and_restart_brings_a_new_epoch(
    receiver: SimReceiver,
    controller: BrokerController,
    watcher: PahoClient,
    topic_prefix: str,
) -> None:
    topics = Topics(topic_prefix)

    def heartbeats() -> list[Heartbeat]:
        topic = topics.receiver(RX, "heartbeat")
        return [
            decode_heartbeat(bytes(m.payload), RX)
            for m in list(watcher.messages)
            if m.topic == topic
        ]

    def statuses() -> list[ReceiverBirth | ReceiverOffline]:
        topic = topics.receiver(RX, "status")
        return [
            decode_status(bytes(m.payload), RX) for m in list(watcher.messages) if m.topic == topic
        ]

    receiver.start()
    await eventually(lambda: bool(heartbeats()), 5, "a first heartbeat")
    first = receiver.epoch
    own = heartbeats()[-1].volume
    level = 35 if own != 35 else 36
    await asyncio.to_thread(controller.send, RX, SetVolume(level))
    await eventually(lambda: heartbeats()[-1].volume == level, 5, f"a heartbeat at {level} %")

    # A forged restart is refused with a receipt and reboots nothing.
    forged = await asyncio.to_thread(controller.send, RX, Restart(), key=SigningKey.generate())
    await eventually(
        lambda: any(r.command == forged for r in controller.receipts), 5, "the refusal"
    )
    assert [r.reason for r in controller.receipts if r.command == forged] == ["bad_signature"]
    assert receiver.epoch == first

    await asyncio.to_thread(controller.send, RX, Restart("thử khởi động lại"))
    await eventually(
        lambda: any(isinstance(s, ReceiverOffline) for s in statuses()), 5, "offline/reboot"
    )
    offline = next(s for s in statuses() if isinstance(s, ReceiverOffline))
    assert (offline.epoch, offline.reason) == (first, "reboot")
    await eventually(
        lambda: len([s for s in statuses() if isinstance(s, ReceiverBirth)]) == 2, 5, "a birth"
    )
    assert first is not None
    second = [s for s in statuses() if isinstance(s, ReceiverBirth)][-1].epoch
    assert second > first
    await eventually(
        lambda: any(hb.epoch == second for hb in heartbeats()), 5, "a heartbeat after the reboot"
    )
    assert {hb.volume for hb in heartbeats() if hb.epoch == second} == {level}
    assert receiver.counters.reconnects == 0  # a reboot, not a lost connection
