"""Bulletins end to end with the simulated receivers: the controller and a small commune.

The receivers are `simulators.SimReceiver`s, written from the protocol alone, with
clocks off by up to 2 s. What a listener in the village heard is measured by true
time (`SimReceiver.delivery.heard`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from controller.app import Controller
from controller.audio.settings import build_library
from controller.config import Config
from controller.delivery.requests import Audio, SendRequest, Sent, send_bulletin
from controller.delivery.status import occurrence_report
from controller.keys import read_public_key
from controller.store import Store
from controller.store.registry import import_registry
from devices.registry import parse_registry
from loa.clock import SystemClock
from simulators.config import BrokerAddress, ReceiverSpec, SimSettings
from simulators.fleet import Fleet
from tests.integration.delivery_support import REGISTRY, delivery_config, now, until
from tests.integration.test_delivery import recording  # noqa: F401 - the fixture
from tests.support.controller import controller_running
from tests.support.mosquitto import PrivateMosquitto

pytestmark = [pytest.mark.broker, pytest.mark.slow]

OFFSETS = {"rx-a1": -2.0, "rx-a2": 1.9, "rx-a3": 0.7, "rx-b1": -1.2}


@asynccontextmanager
async def commune(
    folder: Path, prefix: str, mosquitto: PrivateMosquitto
) -> AsyncIterator[tuple[Config, Store, Controller, Fleet]]:
    config = delivery_config(folder, prefix, mosquitto.port)
    registry = parse_registry(REGISTRY, "test registry", "yaml")
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        await import_registry(store, registry.groups, registry.receivers, dry_run=False, at=now())
        async with controller_running(config) as controller:
            settings = SimSettings(
                broker=BrokerAddress(mosquitto.host, mosquitto.port),
                topic_prefix=prefix,
                keepalive=5,
                reboot_delay=0.3,
                backoff_initial=0.1,
                backoff_max=0.5,
                public_key=read_public_key(config.data_dir),
                data_root=folder / "receivers",
                repair_wait_s=1.0,
            )
            specs = [ReceiverSpec(rx, clock_offset_s=offset) for rx, offset in OFFSETS.items()]
            fleet = Fleet(specs, settings, seed="delivery")
            await fleet.start()
            try:
                assert await fleet.wait_online(10)
                yield config, store, controller, fleet
            finally:
                await fleet.stop()


async def send(config: Config, store: Store, source: Path, to: str, **options: object) -> Sent:
    request = SendRequest(
        audio=Audio(file=source), language="vi", targets=to, created_by="test",
        **options,  # type: ignore[arg-type]
    )  # fmt: skip
    return await send_bulletin(store, build_library(config, store), config, request, SystemClock())


async def until_played(store: Store, occurrence: str, count: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        report = await occurrence_report(store, occurrence)
        if report.counts["played"] == count:
            return
        if loop.time() > deadline:
            raise AssertionError(f"played {report.counts} within {timeout} s")
        await asyncio.sleep(0.1)


async def test_a_village_with_skewed_clocks_starts_together_and_proves_it(
    tmp_path: Path,
    topic_prefix: str,
    mosquitto: PrivateMosquitto,
    recording: Path,  # noqa: F811
) -> None:
    async with commune(tmp_path, topic_prefix, mosquitto) as (config, store, _, fleet):
        village = [fleet[rx] for rx in ("rx-a1", "rx-a2", "rx-a3")]
        await until(
            "clocks synchronised",
            lambda: all(r.delivery is not None and r.delivery.sync.synced for r in village),
            timeout=10,
        )
        sent = await send(config, store, recording, "ban-a", play_at=now() + timedelta(seconds=4))
        await until_played(store, sent.occurrence.id, 3, timeout=25)
        report = await occurrence_report(store, sent.occurrence.id)
        assert set(report.proofs) == {"rx-a1", "rx-a2", "rx-a3"}
        for proof in report.proofs.values():
            assert proof.content == sent.content_id
            assert proof.played_ms >= 5000
        starts = []
        for receiver in village:
            assert receiver.delivery is not None
            heard = [h for h in receiver.delivery.heard if h.occurrence == sent.occurrence.id]
            assert len(heard) == 1, "played exactly once"
            starts.append(heard[0].true_start)
        spread = (max(starts) - min(starts)).total_seconds()
        assert spread <= 0.05, f"village started {spread * 1000:.0f} ms apart"
        assert fleet["rx-b1"].delivery is not None
        assert not fleet["rx-b1"].delivery.heard, "another village heard nothing"


async def test_an_emergency_preempts_a_normal_bulletin_and_a_rebooted_receiver_catches_up(
    tmp_path: Path,
    topic_prefix: str,
    mosquitto: PrivateMosquitto,
    recording: Path,  # noqa: F811
) -> None:
    async with commune(tmp_path, topic_prefix, mosquitto) as (config, store, _, fleet):
        normal = await send(config, store, recording, "rx-b1", play_at=now() + timedelta(seconds=2))
        receiver = fleet["rx-b1"]
        await until("playing the normal one",
                    lambda: receiver.delivery is not None
                    and receiver.delivery.playing_content is not None, timeout=15)  # fmt: skip
        emergency = await send(config, store, recording, "rx-b1", priority="emergency")
        await until_played(store, emergency.occurrence.id, 1, timeout=20)
        report = await occurrence_report(store, normal.occurrence.id)
        assert {d.receiver: d.state for d in report.deliveries} == {"rx-b1": "preempted"}

        # A receiver rebooting while a bulletin is sent gets it when it is back.
        fleet["rx-a1"].reboot()
        later = await send(config, store, recording, "rx-a1", play_at=now() + timedelta(seconds=6))
        await until_played(store, later.occurrence.id, 1, timeout=30)
