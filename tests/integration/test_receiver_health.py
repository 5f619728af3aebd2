"""Receivers' health end to end: a real broker, the controller, simulated receivers.

Every state of the health machine is reached the way it happens in a commune: power
cuts (Last Will), half-open 4G links (silence), reboots, a broker restart and a
controller restart (unverified, then online again), a late will of an older epoch,
flapping, faults in the telemetry, strangers and garbage on the topics.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.app import Controller
from controller.cli.alerts_cmd import current_alerts
from controller.cli.uptime_cmd import uptimes
from controller.config import Config, load_config
from controller.ingest import ReceiverIngest
from controller.store import Store
from controller.store.health import transitions_between
from controller.store.registry import import_registry
from controller.store.unregistered import list_unregistered
from devices.health import HealthState
from simulators.commune import GeneratedCommune, generate_commune
from simulators.config import BrokerAddress, ReceiverSpec, SimSettings
from simulators.fleet import Fleet
from simulators.receiver import SimReceiver
from tests.support.controller import controller_running, write_config
from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient

pytestmark = [pytest.mark.broker, pytest.mark.slow]

HEARTBEAT_S = 1
KEEPALIVE = 2


@dataclass
class Commune:
    config: Config
    commune: GeneratedCommune
    fleet: Fleet
    controller: Controller

    @property
    def ingest(self) -> ReceiverIngest:
        assert self.controller.ingest is not None
        return self.controller.ingest

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.commune.receivers]

    def state(self, receiver_id: str) -> HealthState | None:
        health = self.ingest.health(receiver_id)
        return None if health is None else health.state

    async def until(self, what: str, condition: Callable[[], bool], timeout: float) -> float:
        """Wait for `condition`; the seconds it took."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                states = {i: self.state(i) for i in self.ids}
                raise AssertionError(f"{what} within {timeout} s; states: {states}")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def heartbeats_applied(self, receiver_id: str, count: int, timeout: float = 10) -> None:
        """Wait until `count` more heartbeats of `receiver_id` have been applied."""
        health = self.ingest.health(receiver_id)
        assert health is not None
        start = health.last_seq or 0
        await self.until(
            f"{count} more heartbeats of {receiver_id}",
            lambda: (health.last_seq or 0) >= start + count,
            timeout,
        )

    async def all_online(self, timeout: float = 15) -> None:
        await self.until(
            "every receiver online",
            lambda: all(self.state(i) == "online" for i in self.ids),
            timeout,
        )


def settings(mosquitto: PrivateMosquitto, prefix: str, keepalive: int) -> SimSettings:
    return SimSettings(
        broker=BrokerAddress(mosquitto.host, mosquitto.port),
        topic_prefix=prefix,
        keepalive=keepalive,
        reboot_delay=0.3,
        backoff_initial=0.1,
        backoff_max=0.5,
    )


def commune_config(tmp_path: Path, prefix: str, port: int, **health: Any) -> Config:
    return load_config(
        write_config(
            tmp_path,
            topic_prefix=prefix,
            broker={
                "mode": "external",
                "port": port,
                "reconnect": {"initial_delay": 0.1, "max_delay": 0.5},
            },
            health={"default_heartbeat_s": HEARTBEAT_S, "telemetry_flush": 0.5} | health,
        ),
        environ={},
    )


@asynccontextmanager
async def commune_running(
    tmp_path: Path,
    prefix: str,
    mosquitto: PrivateMosquitto,
    *,
    receivers: int = 4,
    keepalive: int = KEEPALIVE,
    **health: Any,
) -> AsyncIterator[Commune]:
    config = commune_config(tmp_path, prefix, mosquitto.port, **health)
    commune = generate_commune("tests", receivers=receivers, villages=2)
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        await import_registry(
            store, commune.groups, commune.receivers, dry_run=False, at=datetime.now(UTC)
        )
    # Registered with the usual interval; the simulated firmware announces a short one in
    # its birth, and the controller goes by what the receiver says.
    specs = [ReceiverSpec(r.id, HEARTBEAT_S) for r in commune.receivers]
    fleet = Fleet(specs, settings(mosquitto, prefix, keepalive), seed="tests")
    async with controller_running(config) as controller:
        await fleet.start()
        try:
            running = Commune(config, commune, fleet, controller)
            await running.all_online()
            yield running
        finally:
            await fleet.stop()


async def test_receivers_come_online_and_their_telemetry_is_kept(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with commune_running(tmp_path, topic_prefix, mosquitto) as commune:
        first = commune.ids[0]
        health = commune.ingest.health(first)
        assert health is not None
        assert health.firmware == commune.fleet.settings.firmware
        await commune.until("telemetry", lambda: health.telemetry is not None, 5)
        assert health.telemetry is not None
        assert health.telemetry["net"]["type"] in ("4g", "3g", "wifi", "ethernet", "2g")


async def test_a_power_cut_is_offline_within_keepalive_times_1_5_plus_2_s(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with commune_running(tmp_path, topic_prefix, mosquitto, keepalive=KEEPALIVE) as commune:
        victim = commune.ids[1]
        commune.fleet[victim].kill()
        took = await commune.until(
            "offline after a power cut", lambda: commune.state(victim) == "offline", 10
        )
        assert took <= KEEPALIVE * 1.5 + 2
        health = commune.ingest.health(victim)
        assert health is not None
        assert health.cause.startswith("Last Will")
        assert all(commune.state(i) == "online" for i in commune.ids if i != victim)


async def test_a_half_open_link_is_silent_within_3_intervals_then_offline(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    # A long keepalive: the broker notices late, the missing heartbeats tell first.
    async with commune_running(tmp_path, topic_prefix, mosquitto, keepalive=8) as commune:
        victim = commune.ids[0]
        commune.fleet[victim].half_open()
        took = await commune.until("silent", lambda: commune.state(victim) == "silent", 10)
        assert took <= 3 * HEARTBEAT_S + 1.5
        health = commune.ingest.health(victim)
        assert health is not None
        assert "half-open" in health.cause
        await commune.until("offline by the will", lambda: commune.state(victim) == "offline", 15)


async def test_a_late_will_of_an_older_epoch_leaves_a_reconnected_receiver_online(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with commune_running(tmp_path, topic_prefix, mosquitto) as commune:
        victim = commune.ids[2]
        receiver = commune.fleet[victim]
        old_epoch = receiver.epoch
        status = commune.config.topic_prefix + f"/v1/rx/{victim}/status"
        with PahoClient(mosquitto.host, mosquitto.port) as watcher:
            watcher.connect()
            watcher.subscribe(status)
            # Power cut and straight back: the broker takes the old session over and
            # publishes its will, of the old epoch, while the new one is already up.
            receiver.kill()
            receiver.power_on()
            will = f'"epoch":{old_epoch},"reason":"lost"'.encode()
            await asyncio.to_thread(
                watcher.wait_for,
                lambda: any(will in payload for payload in watcher.payloads()),
                10,
                "the old epoch's will",
            )
        await commune.until("online again", lambda: commune.state(victim) == "online", 5)
        await commune.heartbeats_applied(victim, 2)
        health = commune.ingest.health(victim)
        assert health is not None
        assert health.state == "online"
        assert health.epoch is not None
        assert old_epoch is not None
        assert health.epoch > old_epoch


async def test_a_broker_restart_makes_everyone_unverified_then_online(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with commune_running(tmp_path, topic_prefix, mosquitto) as commune:
        started = datetime.now(UTC)
        # A crash: no time for the broker to publish anyone's will.
        mosquitto.kill()
        mosquitto.start()
        await commune.until(
            "the controller reconnected", lambda: commune.ingest.connections >= 2, 20
        )
        await commune.all_online(timeout=20)
        await commune.ingest.flush(everything=True)
        async with await Store.open(commune.config.store.url) as store:
            _, rows = await transitions_between(
                store, commune.ids[0], started, datetime.now(UTC) + timedelta(seconds=1)
            )
    states = [(row.to_state, row.cause) for row in rows]
    assert ("unverified", "broker connection restored") in states
    assert states[-1][0] == "online"


async def test_a_controller_restart_makes_everyone_unverified_until_they_announce(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with commune_running(tmp_path, topic_prefix, mosquitto) as commune:
        pass_config = commune.config
        fleet = commune.fleet
        # The fleet keeps running while the controller stops and starts again.
        fleet_task_started = datetime.now(UTC)
        commune.controller.stop()
        await asyncio.wait_for(commune.controller.finished.wait(), 10)
        async with controller_running(pass_config) as second:
            again = Commune(pass_config, commune.commune, fleet, second)
            await again.all_online(timeout=10)
            await again.ingest.flush(everything=True)
            async with await Store.open(pass_config.store.url) as store:
                _, rows = await transitions_between(
                    store,
                    again.ids[0],
                    fleet_task_started,
                    datetime.now(UTC) + timedelta(seconds=1),
                )
    causes = [(row.to_state, row.cause) for row in rows]
    assert ("unverified", "controller restarted") in causes
    assert causes[-1] == ("online", "announced itself")


async def test_a_receiver_that_keeps_rebooting_is_flapping(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with commune_running(
        tmp_path, topic_prefix, mosquitto, flapping_transitions=3, flapping_window=60
    ) as commune:
        victim = commune.ids[3]
        receiver = commune.fleet[victim]

        def rebooted(before: int) -> Callable[[], bool]:
            return lambda: (receiver.epoch or 0) > before and receiver.is_online

        for _ in range(2):
            before = receiver.epoch or 0
            receiver.reboot()
            await commune.until("back from reboot with a new epoch", rebooted(before), 10)

        # Flapping may start at the last reboot's `offline`, before its birth is heard:
        # wait for the receiver to be up again, and still flapping.
        def up_and_flapping() -> bool:
            health = commune.ingest.health(victim)
            up = health is not None and health.link_state == "online"
            return up and commune.state(victim) == "flapping"

        await commune.until("up again and flapping", up_and_flapping, 5)


async def test_faults_in_telemetry_become_alerts(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with commune_running(tmp_path, topic_prefix, mosquitto) as commune:
        victim = commune.ids[0]
        commune.fleet[victim].fail_speaker()
        health = commune.ingest.health(victim)
        assert health is not None
        await commune.until(
            "speaker fault heard",
            lambda: (health.telemetry or {}).get("speakers") == "fault",
            5,
        )
        await commune.ingest.flush(everything=True)
        found = await current_alerts(commune.config, datetime.now(UTC))
    mine = [(a.kind, a.severity) for a in found if a.receiver_id == victim]
    assert ("speaker_fault", "critical") in mine


async def test_an_unregistered_receiver_is_listed_never_tracked(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with commune_running(tmp_path, topic_prefix, mosquitto) as commune:
        stranger = SimReceiver(
            ReceiverSpec("stranger-01", HEARTBEAT_S), settings(mosquitto, topic_prefix, 2)
        )
        stranger.start()
        try:
            await commune.until(
                "stranger noticed", lambda: commune.ingest.counters.rejected["unregistered"] > 0, 5
            )
            assert commune.ingest.health("stranger-01") is None
            async with await Store.open(commune.config.store.url) as store:
                strangers = await list_unregistered(store)
        finally:
            await stranger.stop()
    assert [s.id for s in strangers] == ["stranger-01"]
    assert strangers[0].firmware == commune.fleet.settings.firmware


async def test_garbage_on_the_topics_is_counted_and_changes_no_receiver(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with commune_running(tmp_path, topic_prefix, mosquitto, receivers=2) as commune:
        first, second = commune.ids
        root = f"{topic_prefix}/v1/rx"
        epoch = commune.fleet[second].epoch
        impostor = (
            f'{{"v":1,"id":"{second}","state":"offline","epoch":{epoch},"reason":"lost"}}'
        ).encode()

        def send_garbage() -> None:
            with PahoClient(mosquitto.host, mosquitto.port) as sender:
                sender.connect()
                sender.publish(f"{root}/{first}/heartbeat", [b"{not json"])
                sender.publish(
                    f"{root}/{first}/heartbeat", [b'{"v":1,"id":"%s","epoch":"x"}' % first.encode()]
                )
                sender.publish(f"{root}/{first}/status", [impostor])  # speaks for `second`
                sender.publish(f"{root}/{first}/heartbeat", [b"x" * 20_000])
                # A receiver misconfigured with an id that is not one (upper case).
                sender.publish(f"{root}/Not-An-Id/heartbeat", [b"{}"])

        await asyncio.to_thread(send_garbage)
        rejected = commune.ingest.counters.rejected
        await commune.until(
            "all counted",
            lambda: (rejected["malformed"], rejected["impersonation"], rejected["oversized"],
                     rejected["unknown_topic"]) == (2, 1, 1, 1),
            5,
        )  # fmt: skip
        assert sum(rejected.values()) == 5, dict(rejected)
        await commune.heartbeats_applied(second, 2)
        assert (commune.state(first), commune.state(second)) == ("online", "online")


async def test_uptime_over_a_period_comes_from_the_stored_transitions(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto
) -> None:
    async with commune_running(tmp_path, topic_prefix, mosquitto, receivers=2) as commune:
        start = datetime.now(UTC)
        first, second = commune.ids
        await asyncio.sleep(1.0)
        commune.fleet[second].kill()
        await commune.until("offline", lambda: commune.state(second) == "offline", 10)
        await asyncio.sleep(1.0)
        await commune.ingest.flush(everything=True)
        end = datetime.now(UTC)
        found = {u.receiver_id: u for u in await uptimes(commune.config, [], None, start, end)}
    assert found[first].fraction == pytest.approx(1.0)
    assert 0.2 < found[second].fraction < 0.8
    assert found[second].changes == 1
