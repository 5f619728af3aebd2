"""A fleet of simulated receivers on one event loop, against a real private Mosquitto."""

from __future__ import annotations

import json
import time

import pytest

from devices.protocol import Topics
from simulators.commune import generate_commune
from simulators.config import BrokerAddress, ReceiverSpec, SimSettings
from simulators.fleet import Fleet
from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient
from tests.support.watching import eventually


def settings_for(broker: PrivateMosquitto, prefix: str) -> SimSettings:
    return SimSettings(
        broker=BrokerAddress(broker.host, broker.port),
        topic_prefix=prefix,
        keepalive=5,
        backoff_initial=0.2,
        backoff_max=1.0,
        ack_timeout=5,
    )


@pytest.mark.broker
@pytest.mark.slow
async def test_two_hundred_receivers_connect_heartbeat_and_stop_cleanly(
    mosquitto: PrivateMosquitto, topic_prefix: str, watcher: PahoClient
) -> None:
    ids = [f"rx-{n:03d}" for n in range(200)]
    fleet = Fleet([(i, 1) for i in ids], settings_for(mosquitto, topic_prefix), ramp_per_s=400)
    topics = Topics(topic_prefix)
    started = time.monotonic()
    try:
        await fleet.start()
        assert await fleet.wait_online(timeout=10)
        connected_in = time.monotonic() - started
        await eventually(lambda: all(r.counters.heartbeats >= 2 for r in fleet), 10, "heartbeats")
    finally:
        await fleet.stop(timeout=10)
    assert connected_in < 5
    assert {r.state for r in fleet} == {"stopped"}
    status = fleet.status()
    assert (status.online, status.births) == (0, 200)
    assert status.heartbeats >= 400

    def statuses() -> list[dict[str, object]]:
        return [
            json.loads(m.payload) for m in list(watcher.messages) if m.topic.endswith("/status")
        ]

    await eventually(lambda: len(statuses()) == 400, 10, "200 births and 200 goodbyes")
    assert {(s["id"], s["state"]) for s in statuses()} == {
        (i, state) for i in ids for state in ("online", "offline")
    }
    assert {s.get("reason") for s in statuses() if s["state"] == "offline"} == {"shutdown"}
    beats = [m for m in list(watcher.messages) if m.topic.endswith("/heartbeat")]
    assert {topics.parse_receiver(m.topic) for m in beats} == {(i, "heartbeat") for i in ids}


@pytest.mark.broker
async def test_faults_reach_one_receiver_by_id(
    mosquitto: PrivateMosquitto, topic_prefix: str
) -> None:
    fleet = Fleet(
        [ReceiverSpec("a-1", 1), ReceiverSpec("a-2", 1)], settings_for(mosquitto, topic_prefix)
    )
    try:
        await fleet.start()
        assert await fleet.wait_online(timeout=5)
        fleet["a-2"].kill()
        assert fleet.status().online == 1
        assert fleet.get("a-1") is fleet["a-1"]
        assert fleet.get("nobody") is None
        with pytest.raises(KeyError, match="no simulated receiver 'nobody'"):
            fleet["nobody"]
    finally:
        await fleet.stop(timeout=5)


async def test_wait_online_gives_up_after_its_timeout(topic_prefix: str) -> None:
    settings = SimSettings(broker=BrokerAddress(port=1), topic_prefix=topic_prefix)
    fleet = Fleet([("lonely", 60)], settings, ramp_per_s=10)
    await fleet.start()
    started = time.monotonic()
    assert await fleet.wait_online(timeout=0.3) is False
    assert time.monotonic() - started < 1
    await fleet.stop(timeout=2)
    assert fleet["lonely"].state == "stopped"


def test_the_same_seed_gives_the_same_fleet() -> None:
    settings = SimSettings()
    one = Fleet([("a", 60), ("b", 60)], settings, seed=7)
    two = Fleet([("b", 60), ("a", 60)], settings, seed=7)
    other = Fleet([("a", 60)], settings, seed=8)
    assert one["a"].telemetry.profile == two["a"].telemetry.profile
    assert one["b"].telemetry.profile == two["b"].telemetry.profile
    assert one["a"].telemetry.profile != other["a"].telemetry.profile


def test_a_fleet_takes_registry_receivers_and_refuses_duplicates() -> None:
    commune = generate_commune(seed=1, receivers=5, villages=2)
    fleet = Fleet(commune.receivers, SimSettings())
    assert [r.id for r in fleet] == [r.id for r in commune.receivers]
    assert len(fleet) == 5
    with pytest.raises(ValueError, match="twice"):
        Fleet([("a", 60), ReceiverSpec("a", 30)], SimSettings())


async def test_the_ramp_spreads_the_starts(topic_prefix: str) -> None:
    settings = SimSettings(broker=BrokerAddress(port=1), topic_prefix=topic_prefix)
    fleet = Fleet([(f"r{n}", 60) for n in range(6)], settings, ramp_per_s=10)
    started = time.monotonic()
    await fleet.start()
    assert 0.45 < time.monotonic() - started < 1.0  # 6 starts at 10/s: the last at 0.5 s
    await fleet.stop(timeout=2)
