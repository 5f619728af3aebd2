"""A commune of simulated receivers for the scheduler's integration tests.

`commune_running` starts the controller in this event loop (its scheduler and delivery
engine included) and four `simulators` receivers with skewed clocks, so receipts such as
`played` and `preempted` come from the simulator's own player. `CommuneFiles` is the same
commune for a real `loa serve` process (`ServeProcess`) that a test starts, kills and
restarts itself. Schedules use seconds and the zone UTC (`once_at`, `daily_at`), so
short test times need no local-date arithmetic.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from audio.ffmpeg import find_tools
from controller.app import Controller
from controller.audio.settings import build_library
from controller.config import Config, load_config
from controller.delivery.status import Report, UnknownOccurrence, occurrence_report
from controller.keys import controller_key, read_public_key
from controller.scheduler.policy import Policy
from controller.store import Store
from controller.store.registry import import_registry
from controller.store.schedules import ApplyResult, apply_schedules
from controller.store.schema import occurrences, schedule_jobs
from devices.protocol import Topics
from devices.protocol.receipts import Receipt, decode_receipt
from devices.registry import parse_registry
from schedules.model import Schedule
from schedules.recurrence import Daily, Once
from schedules.when import When
from simulators.config import BrokerAddress, ReceiverSpec, SimSettings
from simulators.delivery import Heard
from simulators.fleet import Fleet
from tests.integration.delivery_support import REGISTRY
from tests.support.controller import controller_running, write_config
from tests.support.mosquitto import PrivateMosquitto
from tests.support.paho_client import PahoClient

VILLAGE = ("rx-a1", "rx-a2", "rx-a3")
#: Clocks off by up to 1.5 s either way; the receivers sync them with the controller.
SKEWED = {"rx-a1": -1.5, "rx-a2": 1.2, "rx-a3": 0.4, "rx-b1": -0.8}
TRUE_CLOCKS = dict.fromkeys(SKEWED, 0.0)
#: The scheduler settings of every test unless it says otherwise: no quiet hours (the
#: tests run at any hour), quick syncs, a short late start.
BASE_SCHEDULES: Mapping[str, Any] = {
    "quiet_hours": "none",
    "sync_s": 0.2,
    "grace_s": 600,
    "late_start_s": 3,
}


def now() -> datetime:
    return datetime.now(UTC)


def tone(folder: Path, name: str, seconds: float) -> Path:
    """A quiet 440 Hz recording of `seconds` made with ffmpeg."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.wav"
    subprocess.run(
        [str(find_tools().ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate=22050",
         "-af", "volume=-18dB", str(path)],
        check=True, timeout=30,
    )  # fmt: skip
    return path


def once_at(instant: datetime) -> When:
    """A `once` at `instant` to the second, in UTC."""
    at = instant.astimezone(UTC)
    return When(Once(at.date(), at.time().replace(microsecond=0)), at.date(), zone="UTC")


def daily_at(*instants: datetime) -> When:
    """Every day at the UTC times of day of `instants`, from the first one's date."""
    times: tuple[time, ...] = tuple(
        i.astimezone(UTC).time().replace(microsecond=0) for i in instants
    )
    return When(Daily(times), min(instants).astimezone(UTC).date(), zone="UTC")


def write_schedules_config(
    folder: Path, prefix: str, port: int, **schedules: Any
) -> tuple[Path, Config]:
    """The controller's config for these tests; `schedules` overrides `BASE_SCHEDULES`."""
    path = write_config(
        folder,
        topic_prefix=prefix,
        broker={"mode": "external", "port": port,
                "reconnect": {"initial_delay": 0.1, "max_delay": 0.5}},
        delivery={"poll_s": 0.05, "lead_s": 600},
        schedules={**BASE_SCHEDULES, **schedules},
    )  # fmt: skip
    return path, load_config(path, environ={})


async def prepare_store(config: Config) -> None:
    """The test registry imported in the config's store, and the controller's key made."""
    registry = parse_registry(REGISTRY, "test registry", "yaml")
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        await import_registry(store, registry.groups, registry.receivers, dry_run=False, at=now())
    controller_key(config.data_dir)


async def add_audio(config: Config, store: Store, source: Path) -> str:
    """Prepare `source` into the audio library; its content id."""
    added = await build_library(config, store).add_file(
        source, title=source.stem, language="vi", added_by="test"
    )
    return added.content.id


async def apply(config: Config, store: Store, *items: Schedule, force: bool = False) -> ApplyResult:
    """Apply `items` as `loa schedule apply` does, judged by the config's rules."""
    return await apply_schedules(
        store,
        list(items),
        source="test",
        dry_run=False,
        at=now(),
        by="tester",
        rules=Policy(config, force=force),
    )


async def stored_occurrences(store: Store, schedule_id: str) -> list[dict[str, Any]]:
    """The occurrences of a schedule, oldest air time first, as column -> value."""
    async with store.read() as session:
        rows = await session.execute(
            select(occurrences)
            .where(occurrences.c.schedule_id == schedule_id)
            .order_by(occurrences.c.planned_at)
        )
        return [dict(row._mapping) for row in rows.all()]


async def has_job(store: Store, schedule_id: str) -> bool:
    """Whether the scheduler built the job of `schedule_id` (its `schedule_jobs` row)."""
    async with store.read() as session:
        found = await session.execute(
            select(schedule_jobs.c.schedule_id).where(schedule_jobs.c.schedule_id == schedule_id)
        )
        return found.first() is not None


async def until_true(
    what: str, check: Callable[[], Awaitable[bool]], timeout: float, every: float = 0.05
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        await asyncio.sleep(every)


async def until_report(
    store: Store, occurrence: str, wanted: Mapping[str, str], timeout: float
) -> Report:
    """Wait until `occurrence` exists and each receiver in `wanted` has its delivery in the
    state given; the report."""
    found: list[Report] = []

    async def reached() -> bool:
        try:
            report = await occurrence_report(store, occurrence)
        except UnknownOccurrence:  # not fired yet
            return False
        found[:] = [report]
        states = {d.receiver: d.state for d in report.deliveries}
        return all(states.get(rx) == state for rx, state in wanted.items())

    try:
        await until_true(f"deliveries {dict(wanted)}", reached, timeout, every=0.1)
    except AssertionError as exc:
        last = {d.receiver: d.state for d in found[0].deliveries} if found else {}
        raise AssertionError(f"{exc}; last seen {last}") from None
    return found[0]


def sim_settings(config: Config, folder: Path, mosquitto: PrivateMosquitto) -> SimSettings:
    return SimSettings(
        broker=BrokerAddress(mosquitto.host, mosquitto.port),
        topic_prefix=config.topic_prefix,
        keepalive=5,
        reboot_delay=0.3,
        backoff_initial=0.1,
        backoff_max=0.5,
        public_key=read_public_key(config.data_dir),
        data_root=folder / "receivers",
        repair_wait_s=1.0,
    )


@asynccontextmanager
async def fleet_running(
    config: Config,
    folder: Path,
    mosquitto: PrivateMosquitto,
    offsets: Mapping[str, float],
) -> AsyncIterator[Fleet]:
    """The simulated receivers of `offsets` (id -> clock offset), online and in sync."""
    specs = [ReceiverSpec(rx, clock_offset_s=o, clock_drift_ppm=0.0) for rx, o in offsets.items()]
    fleet = Fleet(specs, sim_settings(config, folder, mosquitto), seed="schedules")
    await fleet.start()
    try:
        assert await fleet.wait_online(10), "the receivers did not connect within 10 s"
        await until_true("clocks in sync", lambda: _synced(fleet), timeout=15, every=0.1)
        yield fleet
    finally:
        await fleet.stop()


async def _synced(fleet: Fleet) -> bool:
    return all(r.delivery is not None and r.delivery.sync.synced for r in fleet)


class ReceiptWatch:
    """Every receipt the receivers publish, decoded, read on its own MQTT connection."""

    def __init__(self, mosquitto: PrivateMosquitto, topics: Topics, receivers: tuple[str, ...]):
        self.client = PahoClient(mosquitto.host, mosquitto.port)
        self.topics = topics
        self.receivers = receivers

    def start(self) -> ReceiptWatch:
        self.client.connect()
        for rx in self.receivers:
            self.client.subscribe(self.topics.receiver(rx, "receipt"))
        return self

    def receipts(self, occurrence: str) -> list[Receipt]:
        messages = list(self.client.messages)  # one copy: the network thread appends
        found = []
        for message in messages:
            topic, payload = message.topic, bytes(message.payload)
            receiver_id = topic.split("/")[-2]
            receipt = decode_receipt(payload, topic, receiver_id)
            if receipt.occurrence == occurrence:
                found.append(receipt)
        return found

    def close(self) -> None:
        self.client.close()


@dataclass
class Commune:
    """The controller in this event loop, its store and config, and the simulated commune."""

    config: Config
    store: Store
    controller: Controller
    fleet: Fleet
    topics: Topics
    audio: dict[str, str] = field(default_factory=dict)

    def heard(self, receiver_id: str, occurrence: str) -> list[Heard]:
        """What a listener near `receiver_id` heard of `occurrence` (true times)."""
        delivery = self.fleet[receiver_id].delivery
        assert delivery is not None
        return [h for h in delivery.heard if h.occurrence == occurrence]


@asynccontextmanager
async def commune_running(
    folder: Path,
    prefix: str,
    mosquitto: PrivateMosquitto,
    recordings: Mapping[str, Path],
    **schedules: Any,
) -> AsyncIterator[Commune]:
    """Controller and receivers running; `recordings` (name -> file) in the audio library,
    their content ids in `Commune.audio` by the same names."""
    _, config = write_schedules_config(folder, prefix, mosquitto.port, **schedules)
    await prepare_store(config)
    async with await Store.open(config.store.url) as store:
        audio = {name: await add_audio(config, store, path) for name, path in recordings.items()}
        async with (
            controller_running(config) as controller,
            fleet_running(config, folder, mosquitto, SKEWED) as fleet,
        ):
            yield Commune(config, store, controller, fleet, Topics(prefix), audio)
