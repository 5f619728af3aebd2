"""The world a scenario runs in: a private Mosquitto, a controller and the simulated fleet.

`world_running(scenario, folder, seed)` starts, in this process and under `folder`:

1. a Mosquitto of its own, with the config Loa writes for its embedded broker
   (`controller.broker.EmbeddedBroker`), on a free port, so that a `broker_restart` fault
   can stop it and start it again on the same port;
2. a store with the fleet's registry imported (generated communes, or a registry file);
3. a controller (`loa serve`'s `Controller`) in external mode towards that broker, with no
   quiet hours (a scenario runs at any hour) and a short delivery poll;
4. the fleet (`simulators.fleet.Fleet`), provisioned with the controller's public key,
   powered on at the scenario's ramp.

Everything is stopped on the way out, the fleet first. `controller: external` scenarios
do not use this: they run against the config's broker and a `loa serve` already running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from controller.app import Controller
from controller.audio.library import AudioLibrary
from controller.audio.settings import build_library
from controller.broker import EmbeddedBroker
from controller.config import Config, load_config
from controller.keys import read_public_key
from controller.store import Store
from controller.store.registry import import_registry
from devices.registry import Group, Receiver, read_registry
from loa.ports import free_port
from simulators.commune import generate_commune
from simulators.config import BrokerAddress, ReceiverSpec, SimSettings
from simulators.fleet import Fleet
from simulators.scenario.model import GeneratedFleet, RegistryFleet, Scenario

__all__ = ["World", "fleet_registry", "world_running"]

TOPIC_PREFIX = "loa"
#: How long the controller may take to connect to its broker at start.
READY_TIMEOUT_S = 20.0


@dataclass
class World:
    """What a running scenario acts on and observes."""

    config: Config
    store: Store
    library: AudioLibrary
    controller: Controller
    broker: EmbeddedBroker
    fleet: Fleet
    #: the registry's receivers, by id (for their villages and languages), and its groups
    receivers: dict[str, Receiver]
    groups: tuple[Group, ...] = ()

    async def stop_broker(self) -> None:
        await self.broker.stop()

    async def start_broker(self) -> None:
        await self.broker.start()


def fleet_registry(scenario: Scenario, seed: int) -> tuple[list[Group], list[Receiver]]:
    """The groups and receivers the scenario simulates.

    Generated communes come from `generate_commune` (one seed per commune, so several
    communes differ), villages and receivers spread over them as evenly as they divide.
    """
    source = scenario.fleet.source
    heartbeat = scenario.fleet.heartbeat_s
    if isinstance(source, RegistryFleet):
        registry = read_registry(source.path)
        return list(registry.groups), list(registry.receivers)
    assert isinstance(source, GeneratedFleet)  # noqa: S101 - the two kinds of fleet
    groups: dict[str, Group] = {}
    receivers: list[Receiver] = []
    taken: set[str] = set()
    attempt = 0
    for index in range(source.communes):
        villages = source.villages // source.communes + (index < source.villages % source.communes)
        count = source.receivers // source.communes + (index < source.receivers % source.communes)
        while True:  # the generator picks commune names; skip one already used
            commune = generate_commune(f"{seed}:{attempt}", count, villages, heartbeat_s=heartbeat)
            attempt += 1
            if commune.commune.id not in taken or attempt > 1000:
                break
        if commune.commune.id in taken:
            raise ValueError(
                f"cannot generate {source.communes} different communes; the generator knows "
                "10 commune names: ask for at most 10"
            )
        taken.add(commune.commune.id)
        for group in commune.groups:
            groups.setdefault(group.id, group)
        receivers.extend(commune.receivers)
    return list(groups.values()), receivers


def _config(folder: Path, port: int) -> Config:
    """The controller's config, written under `folder` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "data_dir": str(folder / "data"),
        "topic_prefix": TOPIC_PREFIX,
        "logging": {"level": "WARNING"},
        "broker": {
            "mode": "external",
            "port": port,
            "reconnect": {"initial_delay": 0.2, "max_delay": 2.0},
        },
        "delivery": {"poll_s": 0.1},
        "schedules": {"quiet_hours": "none"},
    }
    path = folder / "controller.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path, environ={})


@contextlib.asynccontextmanager
async def world_running(
    scenario: Scenario,
    folder: Path,
    seed: int,
    *,
    receivers: Sequence[Receiver] | None = None,
    groups: Sequence[Group] | None = None,
) -> AsyncIterator[World]:
    """Start the world of `scenario` under `folder` (see the module docstring)."""
    if groups is None or receivers is None:
        groups, receivers = fleet_registry(scenario, seed)
    config = _config(folder, free_port())
    broker = EmbeddedBroker(config.broker, config.data_dir)
    await broker.start()
    try:
        async with await Store.open(config.store.url) as store:
            await store.upgrade()
            await import_registry(
                store, list(groups), list(receivers), dry_run=False, at=datetime.now(UTC)
            )
            controller = Controller(config)
            running = asyncio.create_task(controller.run(), name="scenario-controller")
            try:
                await _ready(controller, running)
                fleet = Fleet(
                    [ReceiverSpec(r.id, r.heartbeat_s) for r in receivers],
                    SimSettings(
                        broker=BrokerAddress(port=broker.port),
                        topic_prefix=TOPIC_PREFIX,
                        keepalive=30,
                        public_key=read_public_key(config.data_dir),
                        data_root=folder / "receivers",
                        clock_skew_s=scenario.fleet.clock_skew_s,
                    ),
                    seed=seed,
                    ramp_per_s=scenario.fleet.ramp_per_s,
                )
                world = World(
                    config,
                    store,
                    build_library(config, store),
                    controller,
                    broker,
                    fleet,
                    {r.id: r for r in receivers},
                    tuple(groups),
                )
                try:
                    yield world
                finally:
                    await fleet.stop()
            finally:
                controller.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(running, 10)
    finally:
        await broker.stop()


async def _ready(controller: Controller, running: asyncio.Task[None]) -> None:
    ready = asyncio.create_task(controller.ready.wait())
    try:
        await asyncio.wait({running, ready}, timeout=READY_TIMEOUT_S, return_when="FIRST_COMPLETED")
    finally:
        ready.cancel()
    if running.done():
        running.result()  # raises what stopped it
    if not controller.ready.is_set():
        raise RuntimeError(f"the scenario's controller did not connect within {READY_TIMEOUT_S} s")
